//! Which backup is due, per spec §9.1: a full backup daily at 02:00 UTC, an incremental
//! one every 4 hours in between.

use chrono::{DateTime, Duration, NaiveTime, Utc};

use crate::info::{BackupKind, RepositoryInfo};

#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// UTC time of day of the daily full backup.
    pub full_at: NaiveTime,
    pub incremental_every: Duration,
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            full_at: NaiveTime::from_hms_opt(2, 0, 0).expect("02:00 is a time"),
            incremental_every: Duration::hours(4),
        }
    }
}

impl Schedule {
    /// For repository `key`: a full backup when none started there since the last daily
    /// full time; else an incremental one when its last backup of any kind is older than
    /// the interval.
    pub fn due(&self, info: &RepositoryInfo, key: u32, now: DateTime<Utc>) -> Option<BackupKind> {
        let last_full_time = self.last_full_time(now);
        match info.last_in(key, Some(BackupKind::Full)) {
            Some(full) if full.started_at >= last_full_time => {}
            _ => return Some(BackupKind::Full),
        }
        let last = info.last_in(key, None)?;
        (now - last.started_at >= self.incremental_every).then_some(BackupKind::Incr)
    }

    fn last_full_time(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let today = now.date_naive().and_time(self.full_at).and_utc();
        if today <= now {
            today
        } else {
            today - Duration::days(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::info::BackupSet;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn info(sets: &[(BackupKind, &str)]) -> RepositoryInfo {
        in_repository(1, sets)
    }

    fn in_repository(repository: u32, sets: &[(BackupKind, &str)]) -> RepositoryInfo {
        let backups = sets
            .iter()
            .map(|(kind, start)| BackupSet {
                label: String::new(),
                kind: *kind,
                repository,
                started_at: at(start),
                stopped_at: at(start),
                database_bytes: 0,
                stored_bytes: 0,
                wal_start: None,
                wal_stop: None,
                page_errors: false,
            })
            .collect();
        RepositoryInfo {
            status: "ok".into(),
            repositories: Vec::new(),
            backups,
        }
    }

    #[test]
    fn first_backup_is_full() {
        let due = Schedule::default().due(&info(&[]), 1, at("2026-12-03T10:00:00Z"));
        assert_eq!(due, Some(BackupKind::Full));
    }

    #[test]
    fn full_is_due_once_02_00_passed_since_the_last_one() {
        let history = info(&[(BackupKind::Full, "2026-12-02T02:00:05Z")]);
        let schedule = Schedule::default();
        assert_eq!(
            schedule.due(&history, 1, at("2026-12-03T01:59:00Z")),
            Some(BackupKind::Incr)
        );
        assert_eq!(
            schedule.due(&history, 1, at("2026-12-03T02:00:00Z")),
            Some(BackupKind::Full)
        );
    }

    #[test]
    fn incremental_every_four_hours_after_the_last_backup() {
        let history = info(&[
            (BackupKind::Full, "2026-12-03T02:00:05Z"),
            (BackupKind::Incr, "2026-12-03T06:00:10Z"),
        ]);
        let schedule = Schedule::default();
        assert_eq!(schedule.due(&history, 1, at("2026-12-03T10:00:00Z")), None);
        assert_eq!(
            schedule.due(&history, 1, at("2026-12-03T10:00:10Z")),
            Some(BackupKind::Incr)
        );
    }

    #[test]
    fn each_repository_is_judged_on_its_own_backups() {
        let history = in_repository(2, &[(BackupKind::Full, "2026-12-03T02:00:05Z")]);
        let now = at("2026-12-03T03:00:00Z");
        assert_eq!(Schedule::default().due(&history, 2, now), None);
        assert_eq!(
            Schedule::default().due(&history, 1, now),
            Some(BackupKind::Full)
        );
    }
}
