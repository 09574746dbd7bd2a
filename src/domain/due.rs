//! When a task is due: either an instant (`due_at`, RFC 3339 in, UTC milliseconds stored, UTC `Z`
//! with milliseconds out) or a whole day (`due_date`, `YYYY-MM-DD`); never both.

use std::fmt;

use chrono::{DateTime, LocalResult, NaiveDate, NaiveTime, Offset, SecondsFormat, TimeZone, Utc};

use super::{DomainError, ScheduleError};

/// A task's due. `due_at` and `due_date` are mutually exclusive, so one enum holds either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Due {
    /// Due at an instant: milliseconds since the Unix epoch, UTC.
    At(i64),
    /// Due some time on this calendar day (all-day), in the task's time zone.
    Date(NaiveDate),
}

impl Due {
    /// Parses a `due_at`: an RFC 3339 date-time with any offset (`2026-03-29T09:00:00+02:00`,
    /// `...Z`). Kept as UTC milliseconds; finer fractions of a second are truncated.
    pub fn parse_at(raw: &str) -> Result<Self, DomainError> {
        parse_instant_ms(raw).map(Self::At)
    }

    /// Parses a `due_date`: exactly `YYYY-MM-DD` (10 characters), a real calendar date.
    pub fn parse_date(raw: &str) -> Result<Self, DomainError> {
        parse_calendar_date(raw).map(Self::Date)
    }

    /// The due from the two request fields, at most one of which may be given.
    ///
    /// The error names the field at fault: `due_date` (kind `due_conflict`) when both are
    /// given, otherwise the field that does not parse.
    pub fn from_fields(
        due_at: Option<&str>,
        due_date: Option<&str>,
    ) -> Result<Option<Self>, ScheduleError> {
        let blame = |field: &'static str| move |error| ScheduleError { field, error };
        match (due_at, due_date) {
            (Some(_), Some(_)) => Err(blame("due_date")(DomainError::new(
                "due_conflict",
                "due_at and due_date are mutually exclusive: send at most one of them",
            ))),
            (Some(at), None) => Self::parse_at(at).map(Some).map_err(blame("due_at")),
            (None, Some(date)) => Self::parse_date(date).map(Some).map_err(blame("due_date")),
            (None, None) => Ok(None),
        }
    }

    /// The instant in UTC milliseconds, for `Due::At`.
    pub fn at_ms(&self) -> Option<i64> {
        match self {
            Self::At(ms) => Some(*ms),
            Self::Date(_) => None,
        }
    }

    /// The day, for `Due::Date`.
    pub fn date(&self) -> Option<NaiveDate> {
        match self {
            Self::At(_) => None,
            Self::Date(date) => Some(*date),
        }
    }

    /// The `due_at` response value (`2026-03-29T07:00:00.000Z`), for `Due::At`.
    pub fn due_at_string(&self) -> Option<String> {
        self.at_ms().map(format_utc_millis)
    }

    /// The `due_date` response value (`2026-03-29`), for `Due::Date`.
    pub fn due_date_string(&self) -> Option<String> {
        self.date().map(format_date)
    }
}

impl fmt::Display for Due {
    /// The wire value of whichever field is set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::At(ms) => f.write_str(&format_utc_millis(*ms)),
            Self::Date(date) => f.write_str(&format_date(*date)),
        }
    }
}

/// Parses an RFC 3339 date-time with any offset into UTC milliseconds (sub-millisecond digits
/// are truncated). Kind `datetime_parsing` on failure.
pub fn parse_instant_ms(raw: &str) -> Result<i64, DomainError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|dt| dt.timestamp_millis())
        .map_err(|e| {
            DomainError::new(
                "datetime_parsing",
                format!(
                    "due_at must be an RFC 3339 date-time such as 2026-03-29T09:00:00+02:00 ({e})"
                ),
            )
        })
}

/// Parses a strict `YYYY-MM-DD` calendar date. Kind `date_parsing` on failure.
pub fn parse_calendar_date(raw: &str) -> Result<NaiveDate, DomainError> {
    let invalid = || {
        DomainError::new(
            "date_parsing",
            format!(
                "due_date must be a calendar date YYYY-MM-DD (got {:?})",
                raw.chars().take(40).collect::<String>()
            ),
        )
    };
    let b = raw.as_bytes();
    let shape_ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape_ok {
        return Err(invalid());
    }
    let number = |range: std::ops::Range<usize>| raw[range].parse::<u32>().ok();
    let (Some(year), Some(month), Some(day)) = (number(0..4), number(5..7), number(8..10)) else {
        return Err(invalid());
    };
    let year = i32::try_from(year).map_err(|_| invalid())?;
    NaiveDate::from_ymd_opt(year, month, day).ok_or_else(invalid)
}

/// Formats UTC milliseconds as RFC 3339 in UTC with exactly three fraction digits and `Z`:
/// `2026-03-29T07:00:00.000Z`. (Instants beyond chrono's range, which no parsed value reaches,
/// are clamped to it.)
pub fn format_utc_millis(ms: i64) -> String {
    let dt = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or(if ms < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    });
    dt.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Formats a day as `YYYY-MM-DD`.
pub fn format_date(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// The instant a day starts in `tz`, in UTC milliseconds: local midnight, or if a DST change
/// skips midnight, the instant the gap begins. Strictly increasing in `date`.
pub fn start_of_day_ms(date: NaiveDate, tz: chrono_tz::Tz) -> i64 {
    let midnight = date.and_time(NaiveTime::MIN);
    match tz.from_local_datetime(&midnight) {
        LocalResult::Single(dt) | LocalResult::Ambiguous(dt, _) => dt.timestamp_millis(),
        LocalResult::None => {
            let offset_before = tz
                .offset_from_utc_datetime(&(midnight - chrono::Duration::days(1)))
                .fix();
            (midnight - offset_before).and_utc().timestamp_millis()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn due_at_with_an_offset_is_stored_as_utc_ms_and_formatted_back_with_z() {
        let due = Due::parse_at("2026-03-29T12:30:00+05:30").unwrap();
        assert_eq!(due, Due::At(1_774_767_600_000));
        assert_eq!(due.to_string(), "2026-03-29T07:00:00.000Z");
        assert_eq!(
            due.due_at_string().as_deref(),
            Some("2026-03-29T07:00:00.000Z")
        );
        assert_eq!(due.due_date_string(), None);
    }

    #[test]
    fn due_at_keeps_milliseconds_and_truncates_finer_fractions() {
        assert_eq!(
            Due::parse_at("2026-01-01T00:00:00.123456789Z")
                .unwrap()
                .to_string(),
            "2026-01-01T00:00:00.123Z"
        );
        assert_eq!(
            Due::parse_at("2026-01-01T00:00:00-00:00").unwrap(),
            Due::parse_at("2026-01-01T00:00:00Z").unwrap()
        );
    }

    #[test]
    fn bad_due_at_values_are_rejected() {
        for bad in [
            "",
            "2026-03-29",
            "2026-03-29T09:00:00",       // no offset
            "2026-02-30T09:00:00Z",      // no such day
            "2026-03-29T24:00:00Z",      // no such hour
            "2026-03-29T09:00:00+24:00", // offset out of range
            "29/03/2026 09:00",
            " 2026-03-29T09:00:00Z",
            "2026-03-29T09:00:00Z ",
        ] {
            let err = Due::parse_at(bad).unwrap_err();
            assert_eq!(err.kind, "datetime_parsing", "{bad:?}");
        }
    }

    #[test]
    fn due_date_is_a_strict_calendar_date() {
        assert_eq!(
            Due::parse_date("2026-02-28").unwrap(),
            Due::Date(date(2026, 2, 28))
        );
        assert_eq!(
            Due::parse_date("2028-02-29").unwrap(),
            Due::Date(date(2028, 2, 29))
        );
        assert_eq!(Due::Date(date(2026, 3, 5)).to_string(), "2026-03-05");
        for bad in [
            "2026-02-30",
            "2026-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-01-00",
            "2026-3-05",
            "2026-03-5",
            "20260305",
            "2026-03-05T00:00:00Z",
            " 2026-03-05",
            "2026-03-05 ",
            "+026-03-05",
            "2026/03/05",
            "２０２６-03-05",
            "",
        ] {
            let err = Due::parse_date(bad).unwrap_err();
            assert_eq!(err.kind, "date_parsing", "{bad:?}");
        }
    }

    #[test]
    fn due_at_and_due_date_are_mutually_exclusive() {
        let err = Due::from_fields(Some("2026-03-29T07:00:00Z"), Some("2026-03-29")).unwrap_err();
        assert_eq!((err.field, err.error.kind), ("due_date", "due_conflict"));
        assert_eq!(Due::from_fields(None, None), Ok(None));
        assert_eq!(
            Due::from_fields(None, Some("2026-03-29")),
            Ok(Some(Due::Date(date(2026, 3, 29))))
        );
        assert_eq!(
            Due::from_fields(Some("nope"), None).unwrap_err().field,
            "due_at"
        );
        assert_eq!(
            Due::from_fields(None, Some("2026-02-30"))
                .unwrap_err()
                .field,
            "due_date"
        );
    }

    #[test]
    fn formatting_always_has_three_fraction_digits() {
        assert_eq!(format_utc_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_utc_millis(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            format_utc_millis(1_774_767_600_042),
            "2026-03-29T07:00:00.042Z"
        );
        // Out of chrono's range: clamped, not a panic.
        assert!(!format_utc_millis(i64::MAX).is_empty());
        assert!(!format_utc_millis(i64::MIN).is_empty());
    }
}
