//! Calendar values of the digest: ISO weeks, cron schedules and time zones.

use std::{fmt, str::FromStr};

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

use super::Invalid;

/// An ISO 8601 week (`2026-W47`): Monday to Sunday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IsoWeek {
    year: i32,
    week: u32,
}

impl IsoWeek {
    /// Parse `YYYY-Www`; `field` names the input at fault, whether the
    /// text is not of that form or names no such week (week 53 of a
    /// 52-week year, a year out of range).
    pub fn parse(field: &str, text: &str) -> Result<Self, Invalid> {
        text.parse()
            .map_err(|err: WeekError| Invalid::new(field, format!("`{field}`: {err}")))
    }

    /// The week holding `date`.
    pub fn of(date: NaiveDate) -> Self {
        let iso = date.iso_week();
        Self {
            year: iso.year(),
            week: iso.week(),
        }
    }

    /// The Monday that starts the week.
    pub fn monday(self) -> NaiveDate {
        NaiveDate::from_isoywd_opt(self.year, self.week, Weekday::Mon)
            .expect("a parsed week has a Monday")
    }

    /// The week `n` weeks before this one.
    pub fn minus(self, n: u32) -> Self {
        Self::of(self.monday() - Duration::weeks(i64::from(n)))
    }

    /// The week after this one.
    pub fn next(self) -> Self {
        Self::of(self.monday() + Duration::weeks(1))
    }

    /// Monday 00:00 to the next Monday 00:00 in `tz`, as UTC instants.
    pub fn bounds(self, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        (
            start_of_day(self.monday(), tz),
            start_of_day(self.next().monday(), tz),
        )
    }
}

/// Midnight of `date` in `tz` (the first valid instant of that day when a
/// DST change skips midnight).
pub fn start_of_day(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let midnight = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    let mut local = midnight;
    for _ in 0..4 {
        if let Some(at) = tz.from_local_datetime(&local).earliest() {
            return at.with_timezone(&Utc);
        }
        local += Duration::minutes(30);
    }
    Utc.from_utc_datetime(&midnight)
}

/// Why a text is not an ISO week.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WeekError {
    /// Not of the form `YYYY-Www`.
    Form(String),
    /// Of that form, but there is no such week.
    NoSuchWeek(String),
}

impl fmt::Display for WeekError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Form(why) | Self::NoSuchWeek(why) => f.write_str(why),
        }
    }
}

impl FromStr for IsoWeek {
    type Err = WeekError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || WeekError::Form(format!("{text:?} is not an ISO week like 2026-W47"));
        let (year, week) = text.split_once("-W").ok_or_else(bad)?;
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(year, 4) || !digits(week, 2) {
            return Err(bad());
        }
        let year: i32 = year.parse().map_err(|_| bad())?;
        let week: u32 = week.parse().map_err(|_| bad())?;
        // Outside what the spec's pattern admits (years from 1970, weeks 01
        // to 53) is a malformed week; inside it, one that does not exist.
        if year < 1970 || !(1..=53).contains(&week) {
            return Err(bad());
        }
        if year > 9998 {
            return Err(WeekError::NoSuchWeek(format!(
                "{text:?}: the year must be between 1970 and 9998"
            )));
        }
        if NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).is_none() {
            return Err(WeekError::NoSuchWeek(format!(
                "{text:?}: {year} has no week {week}"
            )));
        }
        Ok(Self { year, week })
    }
}

impl fmt::Display for IsoWeek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-W{:02}", self.year, self.week)
    }
}

/// A cron schedule. The `cron` crate wants a seconds field first
/// (`0 0 9 * * Mon`); the common 5-field form (`0 9 * * Mon`) is accepted
/// too and read as running at second 0.
#[derive(Debug, Clone)]
pub struct CronSpec {
    text: String,
    schedule: cron::Schedule,
}

/// Why a text is not a cron schedule.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error(
        "{text:?} has {fields} fields: write 5 (minute hour day month weekday), \
         6 (with seconds first) or 7 (with a year last)"
    )]
    FieldCount { text: String, fields: usize },
    #[error("{text:?} is not a cron schedule")]
    Cron {
        text: String,
        #[source]
        source: cron::error::Error,
    },
}

impl CronSpec {
    pub fn parse(text: &str) -> Result<Self, ScheduleError> {
        let fields = text.split_whitespace().count();
        let full = match fields {
            5 => format!("0 {}", text.trim()),
            6 | 7 => text.trim().to_string(),
            fields => {
                return Err(ScheduleError::FieldCount {
                    text: text.to_string(),
                    fields,
                });
            }
        };
        let schedule = cron::Schedule::from_str(&full).map_err(|source| ScheduleError::Cron {
            text: text.to_string(),
            source,
        })?;
        Ok(Self {
            text: text.trim().to_string(),
            schedule,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The latest scheduled time at or before `now`, in `tz`.
    pub fn latest_at_or_before(&self, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let after = (now + Duration::seconds(1)).with_timezone(&tz);
        self.schedule
            .after(&after)
            .next_back()
            .map(|at| at.with_timezone(&Utc))
            .filter(|at| *at <= now)
    }

    /// The next scheduled time after `now`, in `tz`.
    pub fn next_after(&self, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        self.schedule
            .after(&now.with_timezone(&tz))
            .next()
            .map(|at| at.with_timezone(&Utc))
    }
}

/// Parse an IANA time zone name (`Europe/Berlin`); `field` names the input.
pub fn parse_time_zone(field: &str, text: &str) -> Result<Tz, Invalid> {
    // chrono-tz's error carries nothing more than "failed to parse".
    text.parse::<Tz>().map_err(|_| {
        Invalid::new(
            field,
            format!("{text:?} is not an IANA time zone name like Europe/Berlin"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_parse_print_and_bound() {
        let week: IsoWeek = "2026-W47".parse().unwrap();
        assert_eq!(week.to_string(), "2026-W47");
        assert_eq!(
            week.monday(),
            NaiveDate::from_ymd_opt(2026, 11, 16).unwrap()
        );
        assert_eq!(week.minus(47).to_string(), "2025-W52");
        let (from, to) = week.bounds(chrono_tz::Europe::Berlin);
        assert_eq!(from.to_rfc3339(), "2026-11-15T23:00:00+00:00");
        assert_eq!(to.to_rfc3339(), "2026-11-22T23:00:00+00:00");
        for bad in [
            "2026-47", "2026-W54", "2026-W00", "26-W01", "2026-W1", "2025-W53",
        ] {
            assert!(bad.parse::<IsoWeek>().is_err(), "{bad} must be refused");
        }
        assert!("2026-W53".parse::<IsoWeek>().is_ok(), "2026 has 53 weeks");
    }

    #[test]
    fn five_and_six_field_schedules() {
        let tz = chrono_tz::Europe::Berlin;
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        for text in ["0 0 9 * * Mon", "0 9 * * Mon"] {
            let spec = CronSpec::parse(text).unwrap();
            assert_eq!(
                spec.latest_at_or_before(now, tz).unwrap().to_rfc3339(),
                "2026-11-23T08:00:00+00:00",
                "{text}"
            );
            assert_eq!(
                spec.next_after(now, tz).unwrap().to_rfc3339(),
                "2026-11-30T08:00:00+00:00"
            );
        }
        let exact = Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap();
        let spec = CronSpec::parse("0 9 * * Mon").unwrap();
        assert_eq!(spec.latest_at_or_before(exact, tz), Some(exact));
        assert!(CronSpec::parse("9 * * Mon").is_err());
        assert!(CronSpec::parse("0 0 25 * * Mon").is_err());
    }
}
