//! Recurring tasks: parsing an RFC 5545 `RRULE` value into a validated, canonical [`Recurrence`],
//! and [`next_occurrence`], the pure rule that says when the next occurrence of a completed one is
//! due. Expansion is done by the `rrule` crate; the checks it does not make (DTSTART smuggled
//! into the string, rules firing more than once a minute, rules that can never occur, UNTIL in a
//! machine-dependent local time) are made here.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use rrule::{Frequency, NWeekday, RRule, RRuleSet, Unvalidated, Weekday};

use super::DomainError;
use super::due::Due;
use super::time_zone::TimeZoneName;

/// Longest recurrence accepted, in characters, as sent (including any `RRULE:` prefix).
pub const RECURRENCE_MAX_CHARS: usize = 500;

/// Instances looked at when searching for the next one. An instant due needs at most two (the
/// due itself, then the next); an all-day due with an hourly rule may pass a day's worth.
/// Each step is itself bounded by the `rrule` crate's limit of 100 000 periods per instance.
const MAX_INSTANCES_SCANNED: usize = 2048;

/// The end of a series (`UNTIL`), inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Until {
    /// `UNTIL=20260430T220000Z`: no occurrence due after this instant (UTC milliseconds). For an
    /// all-day due the occurrence counts from the start (local midnight) of its day.
    At(i64),
    /// `UNTIL=20260430`: no occurrence on a later day, judged in the task's time zone.
    Date(NaiveDate),
}

/// A validated recurrence rule (the `RRULE` value, without `DTSTART`: the task's due is the
/// start). Two spellings of the same rule parse to the same canonical form, see
/// [`Recurrence::as_str`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recurrence {
    canonical: String,
    /// The rule without COUNT and UNTIL, which are applied here rather than by the crate: COUNT
    /// counts the whole series while each expansion starts at the latest due, and the crate would
    /// read a floating UNTIL in the server's local time zone.
    pattern: RRule<Unvalidated>,
    count: Option<u32>,
    until: Option<Until>,
}

impl Recurrence {
    /// Parses an RFC 5545 recurrence rule such as `FREQ=WEEKLY;BYDAY=MO,WE`, optionally prefixed
    /// with `RRULE:`. Names and values are case-insensitive; surrounding whitespace is ignored.
    ///
    /// Errors (`DomainError::kind`):
    /// - `string_too_long`: over 500 characters;
    /// - `recurrence_invalid`: not an RRULE value (syntax, unknown or repeated parts, `DTSTART`,
    ///   other properties such as `EXRULE:`, `INTERVAL=0`, both `COUNT` and `UNTIL`, an `UNTIL`
    ///   that is neither `YYYYMMDD` nor UTC `YYYYMMDDTHHMMSSZ`, values out of range);
    /// - `recurrence_too_frequent`: `FREQ=SECONDLY`, or more than one `BYSECOND` value, that is
    ///   more often than once a minute;
    /// - `recurrence_never_occurs`: no date matches the rule whatever the start (for example
    ///   `FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30`), or `COUNT=0`.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        Self::parse_checked(raw, true)
    }

    /// Reads back a rule this service stored (its canonical form, which `parse` accepted when it
    /// was stored), without searching again for whether it can ever occur: that search is the
    /// expensive part of `parse`, and it runs where a change is written.
    pub fn from_stored(raw: &str) -> Result<Self, DomainError> {
        Self::parse_checked(raw, false)
    }

    fn parse_checked(raw: &str, check_occurs: bool) -> Result<Self, DomainError> {
        let chars = raw.chars().count();
        if chars > RECURRENCE_MAX_CHARS {
            return Err(DomainError::new(
                "string_too_long",
                format!(
                    "recurrence must be at most {RECURRENCE_MAX_CHARS} characters (got {chars})"
                ),
            ));
        }
        let upper = raw.trim().to_ascii_uppercase();
        if upper.contains("DTSTART") {
            return Err(invalid(
                "recurrence must not contain DTSTART: the task's due is the start of the series",
            ));
        }
        if let Some(c) = upper
            .chars()
            .find(|c| !c.is_ascii() || c.is_ascii_control())
        {
            return Err(invalid(format!(
                "recurrence must be a single line of ASCII text (found U+{:04X})",
                u32::from(c)
            )));
        }
        let body = upper.strip_prefix("RRULE:").unwrap_or(&upper);
        if body.contains(':') {
            return Err(invalid(
                "recurrence must be one RRULE value such as FREQ=WEEKLY;BYDAY=MO,WE \
                 (optionally prefixed by RRULE:), not other iCalendar properties",
            ));
        }

        let mut count = None;
        let mut until = None;
        let mut rest = Vec::new();
        for part in body.split(';').filter(|p| !p.is_empty()) {
            let Some((name, value)) = part.split_once('=') else {
                return Err(invalid(format!(
                    "recurrence part {part:?} must be NAME=VALUE"
                )));
            };
            match name {
                "COUNT" => {
                    if count.replace(parse_count(value)?).is_some() {
                        return Err(invalid("COUNT is given more than once"));
                    }
                }
                "UNTIL" => {
                    if until.replace(parse_until(value)?).is_some() {
                        return Err(invalid("UNTIL is given more than once"));
                    }
                }
                "BYDAY" | "BYWEEKDAY" => {
                    check_by_day(value)?;
                    rest.push(part);
                }
                _ => rest.push(part),
            }
        }
        if count.is_some() && until.is_some() {
            return Err(invalid(
                "COUNT and UNTIL must not both be given (RFC 5545): use one to end the series",
            ));
        }
        if count == Some(0) {
            return Err(DomainError::new(
                "recurrence_never_occurs",
                "COUNT=0 allows no occurrence",
            ));
        }

        let pattern: RRule<Unvalidated> = rest
            .join(";")
            .parse()
            .map_err(|e: rrule::RRuleError| invalid(format!("recurrence is not valid: {e}")))?;
        let pattern = normalise(pattern);
        check_pattern(&pattern)?;
        // With INTERVAL=1 every period is a candidate, so if no period within the search has an
        // instance, no start date can give it one. The search runs from the year 9000 to the
        // crate's last year, 10000 (or 100 000 periods, at least 270 years, for daily and finer
        // rules): longer than the 400-year cycle after which the calendar, weekdays included,
        // repeats, yet a yearly rule takes at most 1000 steps rather than 8000 from today.
        let probe_start = rrule::Tz::UTC.from_utc_datetime(
            &NaiveDate::from_ymd_opt(9000, 1, 1)
                .expect("a valid fixed date")
                .and_time(NaiveTime::MIN),
        );
        if check_occurs
            && first_instance(&pattern.clone().interval(1), probe_start, |_| true).is_none()
        {
            return Err(DomainError::new(
                "recurrence_never_occurs",
                "recurrence can never occur: no date matches it",
            ));
        }

        let canonical = canonical_form(&pattern, count, until);
        Ok(Self {
            canonical,
            pattern,
            count,
            until,
        })
    }

    /// The canonical rule, without the `RRULE:` prefix: upper case, parts in RFC 5545 order
    /// (`FREQ`, `UNTIL`/`COUNT`, `INTERVAL`, `BYSECOND`, `BYMINUTE`, `BYHOUR`, `BYDAY`,
    /// `BYMONTHDAY`, `BYYEARDAY`, `BYWEEKNO`, `BYMONTH`, `BYSETPOS`, `WKST`), values sorted and
    /// without duplicates, defaults (`INTERVAL=1`, `WKST=MO`) left out. Parsing it gives the same
    /// `Recurrence` back.
    pub fn as_str(&self) -> &str {
        &self.canonical
    }

    pub fn into_inner(self) -> String {
        self.canonical
    }

    /// `COUNT`: how many occurrences the whole series has.
    pub fn count(&self) -> Option<u32> {
        self.count
    }

    /// `UNTIL`: the last moment or day an occurrence may be due.
    pub fn until(&self) -> Option<Until> {
        self.until
    }

    /// Whether the rule picks times of day (`FREQ=HOURLY`/`MINUTELY`, `BYHOUR`, `BYMINUTE`,
    /// `BYSECOND`), which an all-day due cannot have.
    pub fn sets_time_of_day(&self) -> bool {
        matches!(
            self.pattern.get_freq(),
            Frequency::Hourly | Frequency::Minutely | Frequency::Secondly
        ) || !self.pattern.get_by_hour().is_empty()
            || !self.pattern.get_by_minute().is_empty()
            || !self.pattern.get_by_second().is_empty()
    }

    /// The first instance of the rule's pattern strictly after `due`, ignoring `COUNT` and
    /// `UNTIL` (see [`next_occurrence`] for the full rule, and for how the zone is used).
    pub fn next_instance(&self, due: &Due, time_zone: Option<&TimeZoneName>) -> Option<Due> {
        match *due {
            Due::At(ms) => {
                let zone = rrule::Tz::Tz(TimeZoneName::tz_or_utc(time_zone));
                // Instances fall on whole seconds; start on the due's second.
                let start =
                    DateTime::<Utc>::from_timestamp(ms.div_euclid(1000), 0)?.with_timezone(&zone);
                first_instance(&self.pattern, start, |dt| dt.timestamp_millis() > ms)
                    .map(|dt| Due::At(dt.timestamp_millis()))
            }
            Due::Date(date) => {
                // A calendar-day rule gives the same days in every zone, so the days are counted
                // on the plain calendar; this also keeps a day whose local midnight a DST change
                // skips (America/Havana, for one) from being lost.
                let start = rrule::Tz::UTC.from_utc_datetime(&date.and_time(NaiveTime::MIN));
                first_instance(&self.pattern, start, |dt| dt.date_naive() > date)
                    .map(|dt| Due::Date(dt.date_naive()))
            }
        }
    }

    /// Whether an occurrence due at `due` is within the rule's `UNTIL` (always, without one).
    pub fn allows(&self, due: &Due, time_zone: Option<&TimeZoneName>) -> bool {
        let tz = TimeZoneName::tz_or_utc(time_zone);
        match (self.until, *due) {
            (None, _) => true,
            (Some(Until::At(until)), Due::At(ms)) => ms <= until,
            (Some(Until::At(until)), Due::Date(date)) => {
                super::due::start_of_day_ms(date, tz) <= until
            }
            (Some(Until::Date(until)), Due::At(ms)) => DateTime::<Utc>::from_timestamp_millis(ms)
                .is_some_and(|dt| dt.with_timezone(&tz).date_naive() <= until),
            (Some(Until::Date(until)), Due::Date(date)) => date <= until,
        }
    }
}

/// When the next occurrence of a recurring task is due, once the occurrence due at `due` is
/// completed; `None` when the series has ended.
///
/// - The rule is expanded with the completed occurrence's due as `DTSTART`, and the next
///   occurrence is the first instance strictly after that due. So a missed daily task is not
///   skipped: the next one is the day after its due, even if that day has already passed.
/// - A `Due::At` is expanded in `time_zone` (UTC when `None`), so the local time of day is kept
///   across DST changes: daily at 09:00 Europe/Berlin due `2026-03-28T08:00Z` is next due
///   `2026-03-29T07:00Z`. A local time that a DST change skips is moved forward by the gap
///   (02:30 becomes 03:30); one that happens twice is the first of the two (RFC 5545).
/// - A `Due::Date` is expanded from the start of that day and gives the `Due::Date` of the next
///   instance's day. (The days are the same as when expanding at local midnight in
///   `time_zone`; counting them on the plain calendar also works in zones whose midnight a DST
///   change skips.) Rules that pick times of day give the next day that has an instance.
/// - `occurrence` is the 1-based position of the completed occurrence in its series (1 for the
///   task's first due). With `COUNT=n` there is no next one once `occurrence >= n`.
/// - With `UNTIL` there is none after it (inclusive): see [`Until`].
/// - Rules are expanded RFC 5545 style: a monthly rule on the 31st skips months that have no
///   31st; the parts a rule leaves out (day of month, weekday, time of day) come from the
///   completed due. So a daily 02:30 task moved to 03:30 by a DST gap stays at 03:30 afterwards,
///   unless the rule pins the time with `BYHOUR=2;BYMINUTE=30`.
///
/// Cost is bounded: [`Recurrence::parse`] rejects rules that never occur or fire more than
/// once a minute, and the `rrule` crate stops after 100 000 periods without an instance, so a
/// call inside a write transaction stays short.
pub fn next_occurrence(
    rule: &Recurrence,
    due: &Due,
    time_zone: Option<&TimeZoneName>,
    occurrence: u32,
) -> Option<Due> {
    if rule.count.is_some_and(|count| occurrence >= count) {
        return None;
    }
    let next = rule.next_instance(due, time_zone)?;
    rule.allows(&next, time_zone).then_some(next)
}

fn invalid(message: impl Into<String>) -> DomainError {
    DomainError::new("recurrence_invalid", message)
}

/// The first instance of `pattern` started at `start` that `accept`s, within the scan limits.
fn first_instance(
    pattern: &RRule<Unvalidated>,
    start: DateTime<rrule::Tz>,
    accept: impl Fn(&DateTime<rrule::Tz>) -> bool,
) -> Option<DateTime<rrule::Tz>> {
    let validated = pattern.clone().validate(start).ok()?;
    // `limit()` caps every step at the crate's 100 000 periods without an instance.
    let set = RRuleSet::new(start).rrule(validated).limit();
    (&set)
        .into_iter()
        .take(MAX_INSTANCES_SCANNED)
        .find(|dt| accept(dt))
}

fn parse_count(value: &str) -> Result<u32, DomainError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(format!(
            "COUNT must be a positive whole number (got {value:?})"
        )));
    }
    value
        .parse()
        .map_err(|_| invalid(format!("COUNT is too large (got {value})")))
}

/// `YYYYMMDD` or UTC `YYYYMMDDTHHMMSSZ` (value already upper case).
fn parse_until(value: &str) -> Result<Until, DomainError> {
    let bad = || {
        invalid(format!(
            "UNTIL must be a date YYYYMMDD or a UTC date-time YYYYMMDDTHHMMSSZ (got {value:?})"
        ))
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let date = |s: &str| -> Result<NaiveDate, DomainError> {
        if s.len() != 8 || !digits(s) {
            return Err(bad());
        }
        let n = |r: std::ops::Range<usize>| s[r].parse::<u32>().map_err(|_| bad());
        let year = i32::try_from(n(0..4)?).map_err(|_| bad())?;
        NaiveDate::from_ymd_opt(year, n(4..6)?, n(6..8)?).ok_or_else(bad)
    };
    match value.len() {
        8 => date(value).map(Until::Date),
        16 if value.as_bytes()[8] == b'T' && value.ends_with('Z') && digits(&value[9..15]) => {
            let day = date(&value[..8])?;
            let n = |r: std::ops::Range<usize>| value[r].parse::<u32>().map_err(|_| bad());
            let time =
                NaiveTime::from_hms_opt(n(9..11)?, n(11..13)?, n(13..15)?).ok_or_else(bad)?;
            Ok(Until::At(day.and_time(time).and_utc().timestamp_millis()))
        }
        _ => Err(bad()),
    }
}

/// Each `BYDAY` item is `[+|-][1..=53]XX`, as RFC 5545 has it. (The `rrule` crate would read a
/// malformed ordinal such as `X` or `999` as "every".)
fn check_by_day(value: &str) -> Result<(), DomainError> {
    for item in value.split(',') {
        let bad = || {
            invalid(format!(
                "BYDAY item {item:?} must be a weekday (MO..SU), optionally preceded by a \
                 position such as 1 or -1"
            ))
        };
        if item.len() < 2 || !item.is_char_boundary(item.len() - 2) {
            return Err(bad());
        }
        let (ordinal, day) = item.split_at(item.len() - 2);
        if !["MO", "TU", "WE", "TH", "FR", "SA", "SU"].contains(&day) {
            return Err(bad());
        }
        if ordinal.is_empty() {
            continue;
        }
        let digits = ordinal.strip_prefix(['+', '-']).unwrap_or(ordinal);
        let in_range = (1..=2).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && digits.parse::<u8>().is_ok_and(|n| (1..=53).contains(&n));
        if !in_range {
            return Err(bad());
        }
    }
    Ok(())
}

/// Sort and de-duplicate every list, so equal rules have equal values and one canonical form.
fn normalise(pattern: RRule<Unvalidated>) -> RRule<Unvalidated> {
    fn sorted<T: Ord + Clone>(values: &[T]) -> Vec<T> {
        let mut v = values.to_vec();
        v.sort();
        v.dedup();
        v
    }
    let months: Vec<chrono::Month> = sorted(pattern.get_by_month())
        .into_iter()
        .filter_map(|m| chrono::Month::try_from(m).ok())
        .collect();
    let weekdays = {
        let mut v = pattern.get_by_weekday().to_vec();
        v.sort();
        v.dedup();
        v
    };
    RRule::new(pattern.get_freq())
        .interval(pattern.get_interval())
        .week_start(pattern.get_week_start())
        .by_set_pos(sorted(pattern.get_by_set_pos()))
        .by_month(&months)
        .by_month_day(sorted(pattern.get_by_month_day()))
        .by_year_day(sorted(pattern.get_by_year_day()))
        .by_week_no(sorted(pattern.get_by_week_no()))
        .by_weekday(weekdays)
        .by_hour(sorted(pattern.get_by_hour()))
        .by_minute(sorted(pattern.get_by_minute()))
        .by_second(sorted(pattern.get_by_second()))
}

/// The rules the `rrule` crate leaves to us: a positive interval, at most once a minute,
/// positional weekdays only where RFC 5545 allows them, and what the crate validates itself.
fn check_pattern(pattern: &RRule<Unvalidated>) -> Result<(), DomainError> {
    if pattern.get_interval() == 0 {
        return Err(invalid("INTERVAL must be at least 1"));
    }
    // The crate drops a BYMONTHDAY of 0 before validating it; RFC 5545 has no day 0, week 0,
    // year day 0 or position 0.
    let zero = [
        ("BYMONTHDAY", pattern.get_by_month_day().contains(&0)),
        ("BYYEARDAY", pattern.get_by_year_day().contains(&0)),
        ("BYWEEKNO", pattern.get_by_week_no().contains(&0)),
        ("BYSETPOS", pattern.get_by_set_pos().contains(&0)),
    ];
    if let Some((name, _)) = zero.iter().find(|(_, has_zero)| *has_zero) {
        return Err(invalid(format!("{name} must not be 0")));
    }
    let other_by_parts = !(pattern.get_by_second().is_empty()
        && pattern.get_by_minute().is_empty()
        && pattern.get_by_hour().is_empty()
        && pattern.get_by_weekday().is_empty()
        && pattern.get_by_month_day().is_empty()
        && pattern.get_by_year_day().is_empty()
        && pattern.get_by_week_no().is_empty()
        && pattern.get_by_month().is_empty());
    if !pattern.get_by_set_pos().is_empty() && !other_by_parts {
        return Err(invalid(
            "BYSETPOS needs another BYxxx part to pick from (RFC 5545)",
        ));
    }
    if pattern.get_freq() == Frequency::Secondly {
        return Err(DomainError::new(
            "recurrence_too_frequent",
            "recurrence must not occur more often than once a minute (FREQ=SECONDLY)",
        ));
    }
    if pattern.get_by_second().len() > 1 {
        return Err(DomainError::new(
            "recurrence_too_frequent",
            "recurrence must not occur more often than once a minute (several BYSECOND values)",
        ));
    }
    let positional = pattern
        .get_by_weekday()
        .iter()
        .any(|d| matches!(d, NWeekday::Nth(..)));
    if positional && !matches!(pattern.get_freq(), Frequency::Monthly | Frequency::Yearly) {
        return Err(invalid(
            "BYDAY positions such as 1MO or -1FR need FREQ=MONTHLY or FREQ=YEARLY",
        ));
    }
    pattern
        .clone()
        .validate(reference_start())
        .map(|_| ())
        .map_err(|e| invalid(format!("recurrence is not valid: {e}")))
}

/// A fixed start for checks that do not depend on the task's due.
fn reference_start() -> DateTime<rrule::Tz> {
    rrule::Tz::UTC.from_utc_datetime(
        &NaiveDate::from_ymd_opt(2000, 1, 1)
            .expect("a valid fixed date")
            .and_time(NaiveTime::MIN),
    )
}

fn weekday_code(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "MO",
        Weekday::Tue => "TU",
        Weekday::Wed => "WE",
        Weekday::Thu => "TH",
        Weekday::Fri => "FR",
        Weekday::Sat => "SA",
        Weekday::Sun => "SU",
    }
}

fn canonical_form(
    pattern: &RRule<Unvalidated>,
    count: Option<u32>,
    until: Option<Until>,
) -> String {
    fn list<T: ToString>(out: &mut String, name: &str, values: &[T]) {
        if !values.is_empty() {
            let joined: Vec<String> = values.iter().map(ToString::to_string).collect();
            let _ = write!(out, ";{name}={}", joined.join(","));
        }
    }
    let mut out = format!("FREQ={}", pattern.get_freq());
    match until {
        Some(Until::Date(date)) => {
            let _ = write!(out, ";UNTIL={}", date.format("%Y%m%d"));
        }
        Some(Until::At(ms)) => {
            if let Some(dt) = DateTime::<Utc>::from_timestamp_millis(ms) {
                let _ = write!(out, ";UNTIL={}", dt.format("%Y%m%dT%H%M%SZ"));
            }
        }
        None => {}
    }
    if let Some(count) = count {
        let _ = write!(out, ";COUNT={count}");
    }
    if pattern.get_interval() != 1 {
        let _ = write!(out, ";INTERVAL={}", pattern.get_interval());
    }
    list(&mut out, "BYSECOND", pattern.get_by_second());
    list(&mut out, "BYMINUTE", pattern.get_by_minute());
    list(&mut out, "BYHOUR", pattern.get_by_hour());
    // Not the crate's `Display` for `NWeekday`: it prints `1MO` as `MO`, which means every Monday.
    let days: Vec<String> = pattern
        .get_by_weekday()
        .iter()
        .map(|d| match *d {
            NWeekday::Every(day) => weekday_code(day).to_owned(),
            NWeekday::Nth(n, day) => format!("{n}{}", weekday_code(day)),
        })
        .collect();
    list(&mut out, "BYDAY", &days);
    list(&mut out, "BYMONTHDAY", pattern.get_by_month_day());
    list(&mut out, "BYYEARDAY", pattern.get_by_year_day());
    list(&mut out, "BYWEEKNO", pattern.get_by_week_no());
    list(&mut out, "BYMONTH", pattern.get_by_month());
    list(&mut out, "BYSETPOS", pattern.get_by_set_pos());
    if pattern.get_week_start() != Weekday::Mon {
        let _ = write!(out, ";WKST={}", weekday_code(pattern.get_week_start()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(raw: &str) -> Recurrence {
        Recurrence::parse(raw).unwrap_or_else(|e| panic!("{raw:?}: {e}"))
    }

    fn kind(raw: &str) -> &'static str {
        match Recurrence::parse(raw) {
            Ok(r) => panic!("{raw:?} was accepted as {:?}", r.as_str()),
            Err(e) => e.kind,
        }
    }

    fn at(rfc3339: &str) -> Due {
        Due::parse_at(rfc3339).unwrap()
    }

    fn day(iso: &str) -> Due {
        Due::parse_date(iso).unwrap()
    }

    fn zone(name: &str) -> TimeZoneName {
        TimeZoneName::parse(name).unwrap()
    }

    /// The next `n` dues after `due`, as wire strings, starting from occurrence `first`.
    fn series(r: &Recurrence, due: Due, tz: Option<&TimeZoneName>, n: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut current = due;
        for occurrence in 1..=n {
            let Some(next) = next_occurrence(r, &current, tz, occurrence as u32) else {
                break;
            };
            out.push(next.to_string());
            current = next;
        }
        out
    }

    // ---- parsing ----

    #[test]
    fn rules_are_stored_in_a_canonical_form() {
        for (raw, canonical) in [
            ("FREQ=WEEKLY;BYDAY=MO,WE", "FREQ=WEEKLY;BYDAY=MO,WE"),
            (
                "RRULE:FREQ=WEEKLY;BYDAY=WE,MO,MO",
                "FREQ=WEEKLY;BYDAY=MO,WE",
            ),
            ("rrule:freq=weekly;byday=we,mo", "FREQ=WEEKLY;BYDAY=MO,WE"),
            ("  FREQ=DAILY;INTERVAL=1;WKST=MO;  ", "FREQ=DAILY"),
            (
                "BYMONTHDAY=15,1;FREQ=MONTHLY;COUNT=12;INTERVAL=2",
                "FREQ=MONTHLY;COUNT=12;INTERVAL=2;BYMONTHDAY=1,15",
            ),
            (
                "FREQ=MONTHLY;BYDAY=+1MO,-1FR,MO",
                "FREQ=MONTHLY;BYDAY=MO,-1FR,1MO",
            ),
            (
                "FREQ=YEARLY;UNTIL=20301231T235959z;BYMONTH=12,3",
                "FREQ=YEARLY;UNTIL=20301231T235959Z;BYMONTH=3,12",
            ),
            (
                "FREQ=DAILY;UNTIL=20260430;BYHOUR=17,9;BYMINUTE=30",
                "FREQ=DAILY;UNTIL=20260430;BYMINUTE=30;BYHOUR=9,17",
            ),
            (
                "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;WKST=SU",
                "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;WKST=SU",
            ),
            ("FREQ=MINUTELY;BYSECOND=0,0", "FREQ=MINUTELY;BYSECOND=0"),
        ] {
            let r = rule(raw);
            assert_eq!(r.as_str(), canonical, "{raw:?}");
            assert_eq!(rule(r.as_str()), r, "{canonical:?} parses back to itself");
        }
    }

    #[test]
    fn the_first_monday_stays_the_first_monday() {
        // The rrule crate's own Display prints Nth(1, MO) as "MO" (every Monday).
        let r = rule("FREQ=MONTHLY;BYDAY=1MO");
        assert_eq!(r.as_str(), "FREQ=MONTHLY;BYDAY=1MO");
        assert_eq!(
            series(&r, day("2026-01-05"), None, 2),
            ["2026-02-02", "2026-03-02"]
        );
    }

    #[test]
    fn count_and_until_are_read() {
        assert_eq!(rule("FREQ=DAILY;COUNT=3").count(), Some(3));
        assert_eq!(
            rule("FREQ=DAILY;UNTIL=20260430").until(),
            Some(Until::Date(NaiveDate::from_ymd_opt(2026, 4, 30).unwrap()))
        );
        assert_eq!(
            rule("FREQ=DAILY;UNTIL=20260430T100000Z").until(),
            Some(Until::At(at("2026-04-30T10:00:00Z").at_ms().unwrap()))
        );
    }

    #[test]
    fn five_hundred_characters_are_accepted_and_five_hundred_and_one_rejected() {
        let at_limit = format!("FREQ=DAILY{}", ";".repeat(490));
        assert_eq!(at_limit.len(), 500);
        assert_eq!(rule(&at_limit).as_str(), "FREQ=DAILY");
        let over = format!("FREQ=DAILY{}", ";".repeat(491));
        assert_eq!(kind(&over), "string_too_long");
    }

    #[test]
    fn dtstart_is_rejected_in_any_form() {
        for raw in [
            "DTSTART:20260101T090000Z\nRRULE:FREQ=DAILY",
            "DTSTART;TZID=Europe/Berlin:20260101T090000",
            "FREQ=DAILY;DTSTART=20260101T090000Z",
            "freq=daily;dtstart=20260101",
        ] {
            let err = Recurrence::parse(raw).unwrap_err();
            assert_eq!(err.kind, "recurrence_invalid", "{raw:?}");
            assert!(err.message.contains("DTSTART"), "{raw:?}: {err}");
        }
    }

    #[test]
    fn malformed_rules_are_invalid() {
        for raw in [
            "",
            "   ",
            "FREQ=FORTNIGHTLY",
            "BYDAY=MO",               // no FREQ
            "FREQ=DAILY;FREQ=WEEKLY", // repeated part
            "FREQ=DAILY;INTERVAL=0",
            "FREQ=DAILY;INTERVAL=-1",
            "FREQ=DAILY;INTERVAL=70000",
            "FREQ=DAILY;COUNT=-1",
            "FREQ=DAILY;COUNT=1.5",
            "FREQ=DAILY;COUNT=99999999999",
            "FREQ=DAILY;COUNT=2;COUNT=3",
            "FREQ=DAILY;COUNT=2;UNTIL=20260101", // both ends
            "FREQ=DAILY;UNTIL=20260101T000000",  // floating (server-local) time
            "FREQ=DAILY;UNTIL=2026-01-01",
            "FREQ=DAILY;UNTIL=20260230",
            "FREQ=DAILY;UNTIL=20260101;UNTIL=20260102",
            "FREQ=DAILY;BYHOUR=24",
            "FREQ=DAILY;BYMINUTE=60",
            "FREQ=DAILY;BYSECOND=60",
            "FREQ=MONTHLY;BYMONTHDAY=0",
            "FREQ=MONTHLY;BYMONTHDAY=1,0",
            "FREQ=YEARLY;BYYEARDAY=0",
            "FREQ=YEARLY;BYWEEKNO=0",
            "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=0",
            "FREQ=MONTHLY;BYMONTHDAY=32",
            "FREQ=YEARLY;BYMONTH=13",
            "FREQ=WEEKLY;BYMONTHDAY=1", // RFC 5545: not with WEEKLY
            "FREQ=DAILY;BYYEARDAY=1",   // RFC 5545: not with DAILY
            "FREQ=MONTHLY;BYWEEKNO=1",  // RFC 5545: only with YEARLY
            "FREQ=WEEKLY;BYDAY=1MO",    // positions only MONTHLY/YEARLY
            "FREQ=MONTHLY;BYDAY=XMO",
            "FREQ=MONTHLY;BYDAY=99MO",
            "FREQ=MONTHLY;BYDAY=0MO",
            "FREQ=MONTHLY;BYDAY=MON",
            "FREQ=MONTHLY;BYDAY=",
            "FREQ=MONTHLY;BYSETPOS=1", // needs another BYxxx
            "FREQ=DAILY;X-NAME=1",
            "FREQ=YEARLY;BYEASTER=0",
            "FREQ=DAILY;BYHOUR",
            "EXRULE:FREQ=DAILY",
            "RRULE:RRULE:FREQ=DAILY",
            "RRULE;X=1:FREQ=DAILY",
            "FREQ=DAILY\nEXDATE:20260101T000000Z",
            "FREQ=DAILY;BYDAY=MÖ",
            "FREQ=DAILY;BYDAY=🦀O",
        ] {
            assert_eq!(kind(raw), "recurrence_invalid", "{raw:?}");
        }
    }

    #[test]
    fn rules_firing_more_than_once_a_minute_are_too_frequent() {
        for raw in [
            "FREQ=SECONDLY",
            "FREQ=SECONDLY;INTERVAL=120",
            "FREQ=MINUTELY;BYSECOND=0,30",
            "FREQ=DAILY;BYSECOND=1,2",
        ] {
            assert_eq!(kind(raw), "recurrence_too_frequent", "{raw:?}");
        }
        // Once a minute is the limit, and allowed.
        for raw in ["FREQ=MINUTELY", "FREQ=MINUTELY;BYSECOND=15", "FREQ=HOURLY"] {
            rule(raw);
        }
    }

    #[test]
    fn rules_that_can_never_occur_are_rejected() {
        for raw in [
            "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
            "FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=31",
            "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=-30",
            "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
            "FREQ=MONTHLY;BYMONTH=2,4,6,9,11;BYMONTHDAY=31",
            "FREQ=YEARLY;BYYEARDAY=1;BYMONTH=6",
            "FREQ=YEARLY;BYWEEKNO=1;BYMONTH=6",
            "FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30",
            "FREQ=MINUTELY;BYMONTH=4;BYMONTHDAY=31",
            "FREQ=DAILY;COUNT=0",
        ] {
            let started = std::time::Instant::now();
            let got = Recurrence::parse(raw);
            assert!(
                matches!(&got, Err(e) if e.kind == "recurrence_never_occurs"),
                "{raw:?}: {got:?}"
            );
            assert!(
                started.elapsed() < std::time::Duration::from_secs(5),
                "{raw:?} took {:?}",
                started.elapsed()
            );
        }
        // Rare but possible: 29 February.
        rule("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29");
        rule("FREQ=MONTHLY;BYMONTHDAY=31");
    }

    // ---- next occurrence ----

    #[test]
    fn daily_at_nine_in_berlin_stays_at_nine_across_the_spring_dst_change() {
        let berlin = zone("Europe/Berlin");
        let r = rule("FREQ=DAILY");
        // 09:00 CET (+01:00) on Saturday 28 March 2026; clocks go forward that night.
        let next = next_occurrence(&r, &at("2026-03-28T08:00:00Z"), Some(&berlin), 1);
        assert_eq!(next, Some(at("2026-03-29T07:00:00Z"))); // 09:00 CEST (+02:00)
        assert_eq!(next.unwrap().to_string(), "2026-03-29T07:00:00.000Z");
    }

    #[test]
    fn daily_at_nine_in_berlin_stays_at_nine_across_the_autumn_dst_change() {
        let berlin = zone("Europe/Berlin");
        let r = rule("FREQ=DAILY");
        assert_eq!(
            series(&r, at("2026-10-24T07:00:00Z"), Some(&berlin), 2),
            ["2026-10-25T08:00:00.000Z", "2026-10-26T08:00:00.000Z"]
        );
    }

    #[test]
    fn without_a_time_zone_the_rule_runs_in_utc() {
        let r = rule("FREQ=DAILY");
        assert_eq!(
            next_occurrence(&r, &at("2026-03-28T08:00:00Z"), None, 1),
            Some(at("2026-03-29T08:00:00Z"))
        );
    }

    #[test]
    fn a_local_time_skipped_by_dst_moves_forward_by_the_gap() {
        let berlin = zone("Europe/Berlin");
        // 02:30 local does not exist on 29 March 2026: it becomes 03:30 CEST.
        let pinned = rule("FREQ=DAILY;BYHOUR=2;BYMINUTE=30");
        assert_eq!(
            series(&pinned, at("2026-03-28T02:30:00+01:00"), Some(&berlin), 2),
            ["2026-03-29T01:30:00.000Z", "2026-03-30T00:30:00.000Z"]
        );
        // Without BYHOUR/BYMINUTE the time of day comes from the completed due, so after the
        // shifted occurrence the series stays at 03:30 (documented on `next_occurrence`).
        let r = rule("FREQ=DAILY");
        assert_eq!(
            series(&r, at("2026-03-28T02:30:00+01:00"), Some(&berlin), 2),
            ["2026-03-29T01:30:00.000Z", "2026-03-30T01:30:00.000Z"]
        );
    }

    #[test]
    fn a_local_time_that_happens_twice_is_the_first_of_the_two() {
        let berlin = zone("Europe/Berlin");
        // 02:30 happens twice on 25 October 2026: first in CEST (00:30Z), then in CET (01:30Z).
        let r = rule("FREQ=DAILY");
        assert_eq!(
            series(&r, at("2026-10-24T02:30:00+02:00"), Some(&berlin), 2),
            ["2026-10-25T00:30:00.000Z", "2026-10-26T01:30:00.000Z"]
        );
    }

    #[test]
    fn weekly_on_monday_and_wednesday() {
        let berlin = zone("Europe/Berlin");
        let r = rule("FREQ=WEEKLY;BYDAY=MO,WE");
        // Monday 2 March 2026, 18:00 Berlin.
        assert_eq!(
            series(&r, at("2026-03-02T18:00:00+01:00"), Some(&berlin), 5),
            [
                "2026-03-04T17:00:00.000Z", // Wed
                "2026-03-09T17:00:00.000Z", // Mon
                "2026-03-11T17:00:00.000Z", // Wed
                "2026-03-16T17:00:00.000Z",
                "2026-03-18T17:00:00.000Z",
            ]
        );
        // Every other week keeps its phase when re-anchored on each due.
        let fortnightly = rule("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE");
        assert_eq!(
            series(&fortnightly, day("2026-03-02"), None, 4),
            ["2026-03-04", "2026-03-16", "2026-03-18", "2026-03-30"]
        );
    }

    #[test]
    fn a_due_off_the_pattern_moves_onto_it() {
        // Due on a Tuesday, rule on Mondays and Wednesdays: next is the Wednesday.
        let r = rule("FREQ=WEEKLY;BYDAY=MO,WE");
        assert_eq!(
            next_occurrence(&r, &day("2026-03-03"), None, 1),
            Some(day("2026-03-04"))
        );
    }

    #[test]
    fn all_day_daily() {
        let r = rule("FREQ=DAILY");
        let berlin = zone("Europe/Berlin");
        // Across the DST change and a month end, with and without a zone.
        for tz in [None, Some(&berlin)] {
            assert_eq!(
                series(&r, day("2026-03-28"), tz, 5),
                [
                    "2026-03-29",
                    "2026-03-30",
                    "2026-03-31",
                    "2026-04-01",
                    "2026-04-02"
                ]
            );
        }
    }

    #[test]
    fn all_day_days_are_not_lost_where_dst_skips_midnight() {
        // Havana's clocks jump from 00:00 to 01:00 on 8 March 2026.
        let havana = zone("America/Havana");
        let r = rule("FREQ=DAILY");
        assert_eq!(
            series(&r, day("2026-03-07"), Some(&havana), 2),
            ["2026-03-08", "2026-03-09"]
        );
    }

    #[test]
    fn all_day_monthly_on_the_31st_skips_short_months() {
        let r = rule("FREQ=MONTHLY;BYMONTHDAY=31");
        assert_eq!(
            series(&r, day("2026-01-31"), None, 4),
            ["2026-03-31", "2026-05-31", "2026-07-31", "2026-08-31"]
        );
        // The day of the month defaults to the due's: the same without BYMONTHDAY.
        assert_eq!(
            series(&rule("FREQ=MONTHLY"), day("2026-01-31"), None, 2),
            ["2026-03-31", "2026-05-31"]
        );
        // The last day of every month is -1.
        assert_eq!(
            series(
                &rule("FREQ=MONTHLY;BYMONTHDAY=-1"),
                day("2026-01-31"),
                None,
                3
            ),
            ["2026-02-28", "2026-03-31", "2026-04-30"]
        );
    }

    #[test]
    fn yearly_on_29_february_waits_for_leap_years() {
        let r = rule("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29");
        assert_eq!(
            series(&r, day("2024-02-29"), None, 2),
            ["2028-02-29", "2032-02-29"]
        );
    }

    #[test]
    fn count_ends_the_series_after_its_last_occurrence() {
        let r = rule("FREQ=DAILY;COUNT=3");
        let first = day("2026-03-01");
        assert_eq!(
            next_occurrence(&r, &first, None, 1),
            Some(day("2026-03-02"))
        );
        assert_eq!(
            next_occurrence(&r, &day("2026-03-02"), None, 2),
            Some(day("2026-03-03"))
        );
        assert_eq!(next_occurrence(&r, &day("2026-03-03"), None, 3), None);
        assert_eq!(next_occurrence(&r, &day("2026-03-03"), None, 4), None);
        assert_eq!(series(&r, first, None, 10), ["2026-03-02", "2026-03-03"]);
        // COUNT=1: the first due is the only occurrence.
        assert_eq!(
            next_occurrence(&rule("FREQ=DAILY;COUNT=1"), &first, None, 1),
            None
        );
    }

    #[test]
    fn until_ends_the_series_inclusively() {
        let berlin = zone("Europe/Berlin");
        // A UTC instant: the occurrence at exactly UNTIL is the last one.
        let r = rule("FREQ=DAILY;UNTIL=20260303T080000Z");
        assert_eq!(
            series(&r, at("2026-03-01T08:00:00Z"), None, 10),
            ["2026-03-02T08:00:00.000Z", "2026-03-03T08:00:00.000Z"]
        );
        // A date: occurrences on that day (in the task's zone) are the last ones.
        let r = rule("FREQ=DAILY;UNTIL=20260303");
        assert_eq!(
            series(&r, day("2026-03-01"), Some(&berlin), 10),
            ["2026-03-02", "2026-03-03"]
        );
        // 23:30 Berlin on 3 March is 22:30Z, still 3 March locally.
        assert_eq!(
            series(&r, at("2026-03-01T23:30:00+01:00"), Some(&berlin), 10),
            ["2026-03-02T22:30:00.000Z", "2026-03-03T22:30:00.000Z"]
        );
        // A UTC instant against all-day dues: the day counts from its local midnight.
        let r = rule("FREQ=DAILY;UNTIL=20260302T230000Z"); // 00:00 on 3 March in Berlin
        assert_eq!(
            series(&r, day("2026-03-01"), Some(&berlin), 10),
            ["2026-03-02", "2026-03-03"]
        );
        assert_eq!(series(&r, day("2026-03-01"), None, 10), ["2026-03-02"]);
    }

    #[test]
    fn a_missed_daily_task_is_not_skipped() {
        // Whenever it is completed, the next occurrence follows its own due, not "now".
        let r = rule("FREQ=DAILY");
        assert_eq!(
            next_occurrence(&r, &at("2020-01-01T09:00:00Z"), None, 1),
            Some(at("2020-01-02T09:00:00Z"))
        );
        assert_eq!(
            next_occurrence(&r, &day("2020-01-01"), None, 1),
            Some(day("2020-01-02"))
        );
    }

    #[test]
    fn the_next_occurrence_is_strictly_after_the_due() {
        let r = rule("FREQ=DAILY;BYHOUR=9,17");
        // Due exactly on an instance: the next is the following instance, not the same one.
        assert_eq!(
            next_occurrence(&r, &at("2026-03-02T09:00:00Z"), None, 1),
            Some(at("2026-03-02T17:00:00Z"))
        );
        // Milliseconds past the instance still count as that instance having passed.
        assert_eq!(
            next_occurrence(&r, &at("2026-03-02T17:00:00.500Z"), None, 1),
            Some(at("2026-03-03T09:00:00Z"))
        );
    }

    #[test]
    fn hourly_and_minutely_rules_follow_wall_clock_time() {
        let r = rule("FREQ=HOURLY;INTERVAL=6");
        assert_eq!(
            series(&r, at("2026-03-02T01:15:00Z"), None, 3),
            [
                "2026-03-02T07:15:00.000Z",
                "2026-03-02T13:15:00.000Z",
                "2026-03-02T19:15:00.000Z"
            ]
        );
        let r = rule("FREQ=MINUTELY;INTERVAL=30");
        assert_eq!(
            series(&r, at("2026-03-02T23:45:10Z"), None, 2),
            ["2026-03-03T00:15:10.000Z", "2026-03-03T00:45:10.000Z"]
        );
    }

    #[test]
    fn an_all_day_due_with_an_hourly_rule_moves_to_the_next_day() {
        let r = rule("FREQ=HOURLY");
        assert_eq!(
            next_occurrence(&r, &day("2026-03-02"), None, 1),
            Some(day("2026-03-03"))
        );
    }

    #[test]
    fn a_sparse_rule_is_still_quick() {
        // 29 February on a Monday: 2044 is the next after 2016.
        let r = rule("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO");
        let started = std::time::Instant::now();
        assert_eq!(
            next_occurrence(&r, &day("2016-02-29"), None, 1),
            Some(day("2044-02-29"))
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn a_series_can_be_walked_far_without_drifting() {
        let berlin = zone("Europe/Berlin");
        let r = rule("FREQ=DAILY");
        let mut due = at("2026-01-01T09:00:00+01:00");
        for occurrence in 1..=400 {
            due = next_occurrence(&r, &due, Some(&berlin), occurrence).unwrap();
        }
        // 400 days later, still 09:00 local (CET again in February 2027).
        assert_eq!(due, at("2027-02-05T09:00:00+01:00"));
    }
}
