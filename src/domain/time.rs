//! Time as the store keeps it: microseconds since the Unix epoch, UTC days and hours.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

pub const MICROS_PER_SECOND: i64 = 1_000_000;
pub const MICROS_PER_HOUR: i64 = 3_600 * MICROS_PER_SECOND;
pub const MICROS_PER_DAY: i64 = 24 * MICROS_PER_HOUR;

/// The UTC day (days since the epoch) of a time in microseconds.
pub fn utc_day(micros: i64) -> i32 {
    micros.div_euclid(MICROS_PER_DAY) as i32
}

/// The UTC hour (hours since the epoch) of a time in microseconds.
pub fn utc_hour(micros: i64) -> i32 {
    micros.div_euclid(MICROS_PER_HOUR) as i32
}

/// The day number of a date.
pub fn day_of_date(date: NaiveDate) -> i32 {
    (date - NaiveDate::default()).num_days() as i32
}

/// The date of a day number (days before the epoch are the epoch).
pub fn date_of_day(day: i32) -> NaiveDate {
    NaiveDate::default() + chrono::Days::new(day.max(0) as u64)
}

/// RFC 3339 UTC text of a time in microseconds, to the millisecond.
pub fn rfc3339(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_hours() {
        assert_eq!(utc_day(MICROS_PER_DAY), 1);
        assert_eq!(utc_day(-1), -1);
        assert_eq!(utc_hour(MICROS_PER_HOUR * 5 + 1), 5);
        let d = NaiveDate::from_ymd_opt(2026, 5, 1).unwrap();
        assert_eq!(date_of_day(day_of_date(d)), d);
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
    }
}
