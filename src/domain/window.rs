//! A window of whole UTC days that reports are read over.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use crate::domain::field::{Checks, FieldError};
use crate::domain::time::{utc_day, MICROS_PER_DAY};

/// Days `from_day..=to_day` (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from_day: i32,
    pub to_day: i32,
}

fn parse_day(field: &str, raw: &str) -> Result<i32, FieldError> {
    let raw = raw.trim();
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        let micros = d
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp_micros();
        return Ok(utc_day(micros));
    }
    DateTime::parse_from_rfc3339(raw)
        .map(|t| utc_day(t.timestamp_micros()))
        .map_err(|_| FieldError::new(field, "must be a date (2026-05-01) or an RFC 3339 time"))
}

impl Window {
    /// `from` and `to` inclusive, dates or RFC 3339 instants, each taken as its UTC day;
    /// either missing is unbounded.
    pub fn parse(checks: &mut Checks, from: Option<&str>, to: Option<&str>) -> Window {
        let from_day = from.and_then(|f| checks.take(parse_day("from", f)));
        let to_day = to.and_then(|t| checks.take(parse_day("to", t)));
        if let (Some(f), Some(t)) = (from_day, to_day) {
            if f > t {
                checks.fail("to", "must not be before from");
            }
        }
        let all = Window::all();
        Window {
            from_day: from_day.unwrap_or(all.from_day),
            to_day: to_day.unwrap_or(all.to_day),
        }
    }

    /// All time.
    pub fn all() -> Window {
        Window {
            from_day: i32::MIN / 2,
            to_day: i32::MAX / 2,
        }
    }

    pub fn is_all(&self) -> bool {
        self.from_day <= i32::MIN / 2 && self.to_day >= i32::MAX / 2
    }

    /// The first instant of the window.
    pub fn start_micros(&self) -> i64 {
        i64::from(self.from_day).saturating_mul(MICROS_PER_DAY)
    }

    /// The first instant after the window.
    pub fn end_micros(&self) -> i64 {
        (i64::from(self.to_day) + 1).saturating_mul(MICROS_PER_DAY)
    }

    /// A bound as a date, `None` when unbounded.
    pub fn bound(day: i32) -> Option<String> {
        (day.abs() < i32::MAX / 4).then(|| {
            let t = Utc
                .timestamp_micros(i64::from(day) * MICROS_PER_DAY)
                .single()
                .expect("in range");
            t.format("%Y-%m-%d").to_string()
        })
    }

    pub fn from(&self) -> Option<String> {
        Self::bound(self.from_day)
    }

    pub fn to(&self) -> Option<String> {
        Self::bound(self.to_day)
    }
}
