//! Time series buckets: hours, days or weeks, with day boundaries in a time zone.

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};

use crate::domain::names::named_enum;

named_enum! {
    /// The length of a time series bucket.
    pub enum Interval {
        Hour = "hour",
        Day = "day",
        Week = "week",
    }
}

impl Interval {
    /// Hours in a bucket (a DST day has 23 or 25, a week 167 to 169).
    pub fn nominal_hours(self) -> i64 {
        match self {
            Self::Hour => 1,
            Self::Day => 24,
            Self::Week => 168,
        }
    }

    /// The start of the bucket holding `t`, in `tz`.
    pub fn bucket_start(self, t: DateTime<Utc>, tz: chrono_tz::Tz) -> DateTime<Utc> {
        let local = t.with_timezone(&tz);
        let naive = match self {
            Self::Hour => {
                // Back to the start of the local hour from the instant itself: exact on DST
                // days (the repeated hour is two buckets) and in zones with half-hour offsets.
                let into_hour = i64::from(local.minute()) * 60_000_000_000
                    + i64::from(local.second()) * 1_000_000_000
                    + i64::from(local.nanosecond());
                return t - chrono::Duration::nanoseconds(into_hour);
            }
            Self::Week => {
                let d = local.date_naive();
                (d - chrono::Duration::days(i64::from(d.weekday().num_days_from_monday())))
                    .and_hms_opt(0, 0, 0)
                    .expect("midnight")
            }
            Self::Day => local.date_naive().and_hms_opt(0, 0, 0).expect("midnight"),
        };
        // A local time skipped by a DST change starts at the first instant after it.
        tz.from_local_datetime(&naive)
            .earliest()
            .or_else(|| {
                tz.from_local_datetime(&(naive + chrono::Duration::hours(1)))
                    .earliest()
            })
            .map(|l| l.with_timezone(&Utc))
            .unwrap_or(t)
    }

    /// The start of the bucket after the one starting at `start`.
    pub fn next_bucket(self, start: DateTime<Utc>, tz: chrono_tz::Tz) -> DateTime<Utc> {
        let step = chrono::Duration::hours(self.nominal_hours());
        // Past the end of this bucket (a DST day is 23 or 25 hours long), then back to its
        // start.
        let mut probe = start + step;
        if self != Self::Hour {
            probe += chrono::Duration::hours(3);
        }
        let next = self.bucket_start(probe, tz);
        if next <= start {
            start + step
        } else {
            next
        }
    }

    /// The bucket starts from the one holding `from` up to `to` (exclusive).
    pub fn buckets(
        self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        tz: chrono_tz::Tz,
    ) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut start = self.bucket_start(from, tz);
        while start < to {
            out.push(start);
            start = self.next_bucket(start, tz);
        }
        out
    }
}
