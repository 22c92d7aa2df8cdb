//! Shared pieces of JSON views.

use chrono::{DateTime, SecondsFormat, Utc};

/// RFC 3339 UTC text of a stored microsecond timestamp.
pub fn time(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn opt_time(micros: Option<i64>) -> Option<String> {
    micros.map(time)
}
