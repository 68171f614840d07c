//! Calendar months in UTC: the unit of partitioning.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone, Utc};

use crate::Log;

/// One UTC calendar month, e.g. 2026-11: the range of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    /// 1 to 12.
    month: u32,
}

impl Month {
    /// `None` unless `month` is 1 to 12 and the year is one PostgreSQL and chrono both handle.
    pub fn new(year: i32, month: u32) -> Option<Month> {
        ((1..=12).contains(&month) && (1..=9998).contains(&year)).then_some(Month { year, month })
    }

    /// The month `instant` falls in, in UTC.
    pub fn containing(instant: DateTime<Utc>) -> Month {
        Month {
            year: instant.year(),
            month: instant.month(),
        }
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn month(self) -> u32 {
        self.month
    }

    /// The month `count` months later (earlier when negative).
    pub fn plus(self, count: i32) -> Month {
        let index = self.year * 12 + (self.month as i32 - 1) + count;
        Month {
            year: index.div_euclid(12),
            month: index.rem_euclid(12) as u32 + 1,
        }
    }

    /// First instant of the month (inclusive lower bound of its partition); a month beyond
    /// chrono's range (only reachable by arithmetic) saturates at that range's end.
    pub fn start(self) -> DateTime<Utc> {
        match NaiveDate::from_ymd_opt(self.year, self.month, 1) {
            Some(date) => Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN)),
            None if self.year < 0 => DateTime::<Utc>::MIN_UTC,
            None => DateTime::<Utc>::MAX_UTC,
        }
    }

    /// First instant of the next month (exclusive upper bound of its partition).
    pub fn end(self) -> DateTime<Utc> {
        self.plus(1).start()
    }

    /// `audit_log_p2026_11`.
    pub fn partition_name(self, log: Log) -> String {
        format!("{}_p{:04}_{:02}", log.table(), self.year, self.month)
    }

    /// The month of a partition named by [`Month::partition_name`], or `None` for any other name.
    pub fn from_partition_name(log: Log, name: &str) -> Option<Month> {
        let rest = name.strip_prefix(log.table())?.strip_prefix("_p")?;
        let (year, month) = rest.split_once('_')?;
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(year, 4) || !digits(month, 2) {
            return None;
        }
        Month::new(year.parse().ok()?, month.parse().ok()?)
    }

    /// The partition bound as PostgreSQL prints it (`pg_get_expr(relpartbound, …)`) in a
    /// session whose TimeZone is UTC.
    pub(crate) fn bound_expression(self) -> String {
        format!(
            "FOR VALUES FROM ({}) TO ({})",
            literal(self.start()),
            literal(self.end())
        )
    }
}

/// A timestamptz literal in the form PostgreSQL prints under TimeZone UTC.
pub(crate) fn literal(instant: DateTime<Utc>) -> String {
    format!("'{}'", instant.format("%Y-%m-%d %H:%M:%S+00"))
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn month(year: i32, month: u32) -> Month {
        Month::new(year, month).unwrap()
    }

    #[test]
    fn arithmetic_crosses_years_both_ways() {
        assert_eq!(month(2026, 11).plus(3), month(2027, 2));
        assert_eq!(month(2026, 1).plus(-1), month(2025, 12));
        assert_eq!(month(2026, 1).plus(-13), month(2024, 12));
        assert_eq!(month(2026, 12).plus(0), month(2026, 12));
        assert_eq!(month(2026, 12).plus(12), month(2027, 12));
    }

    #[test]
    fn bounds_are_utc_month_starts() {
        let november = month(2026, 11);
        assert_eq!(november.start().to_rfc3339(), "2026-11-01T00:00:00+00:00");
        assert_eq!(november.end().to_rfc3339(), "2026-12-01T00:00:00+00:00");
        assert_eq!(
            month(2026, 12).end().to_rfc3339(),
            "2027-01-01T00:00:00+00:00"
        );
        let late = Utc.with_ymd_and_hms(2026, 11, 30, 23, 59, 59).unwrap();
        assert_eq!(Month::containing(late), november);
        assert_eq!(
            november.bound_expression(),
            "FOR VALUES FROM ('2026-11-01 00:00:00+00') TO ('2026-12-01 00:00:00+00')"
        );
    }

    #[test]
    fn months_beyond_chrono_saturate_instead_of_panicking() {
        let last = Month::containing(DateTime::<Utc>::MAX_UTC);
        assert_eq!(last.end(), DateTime::<Utc>::MAX_UTC);
        let first = Month::containing(DateTime::<Utc>::MIN_UTC);
        assert_eq!(first.plus(-1).start(), DateTime::<Utc>::MIN_UTC);
    }

    #[test]
    fn partition_names_round_trip_and_foreign_names_are_refused() {
        let march = month(2027, 3);
        assert_eq!(march.partition_name(Log::Audit), "audit_log_p2027_03");
        assert_eq!(
            Month::from_partition_name(Log::Audit, "audit_log_p2027_03"),
            Some(march)
        );
        assert_eq!(
            Month::from_partition_name(Log::Event, "audit_log_p2027_03"),
            None
        );
        for name in [
            "audit_log_default",
            "audit_log_p2027_3",
            "audit_log_p2027_13",
            "audit_log_p27_03",
            "audit_log_p2027_03x",
        ] {
            assert_eq!(Month::from_partition_name(Log::Audit, name), None, "{name}");
        }
    }
}
