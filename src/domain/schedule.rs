//! The rules that tie a task's due, time zone and recurrence together: a recurrence needs a due,
//! an all-day due recurs by whole days, and the rule must have an occurrence after the due. A
//! [`Schedule`] is the validated trio; build one after merging a change into the stored task.

use super::due::Due;
use super::recurrence::{Recurrence, next_occurrence};
use super::time_zone::TimeZoneName;
use super::{DomainError, ScheduleError};

/// A task's due, time zone and recurrence, known to fit together.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schedule {
    due: Option<Due>,
    time_zone: Option<TimeZoneName>,
    recurrence: Option<Recurrence>,
}

impl Schedule {
    /// Checks the combination. Errors, all on field `recurrence`:
    /// - `recurrence_requires_due`: a recurrence without `due_at` or `due_date`;
    /// - `recurrence_invalid`: an all-day due with a rule that picks times of day
    ///   (`FREQ=HOURLY`/`MINUTELY`, `BYHOUR`, `BYMINUTE`, `BYSECOND`; RFC 5545 forbids them with
    ///   a date start);
    /// - `recurrence_never_occurs`: the due is already past the rule's `UNTIL`, or the rule has
    ///   no instance after the due (for example `FREQ=YEARLY;INTERVAL=4;BYMONTH=2;BYMONTHDAY=29`
    ///   from a year that is not a leap year). `COUNT` is not held against the due: the stored
    ///   due may be any occurrence of the series.
    pub fn new(
        due: Option<Due>,
        time_zone: Option<TimeZoneName>,
        recurrence: Option<Recurrence>,
    ) -> Result<Self, ScheduleError> {
        if let Some(rule) = &recurrence {
            let Some(due) = &due else {
                return Err(recurrence_error(
                    "recurrence_requires_due",
                    "a recurring task needs a due: set due_at or due_date",
                ));
            };
            if matches!(due, Due::Date(_)) && rule.sets_time_of_day() {
                return Err(recurrence_error(
                    "recurrence_invalid",
                    "an all-day task (due_date) recurs by whole days: the rule must not use \
                     FREQ=HOURLY, FREQ=MINUTELY, BYHOUR, BYMINUTE or BYSECOND",
                ));
            }
            if !rule.allows(due, time_zone.as_ref()) {
                return Err(recurrence_error(
                    "recurrence_never_occurs",
                    "the recurrence ends (UNTIL) before the task's due",
                ));
            }
            if rule.next_instance(due, time_zone.as_ref()).is_none() {
                return Err(recurrence_error(
                    "recurrence_never_occurs",
                    "the recurrence has no occurrence after the task's due",
                ));
            }
        }
        Ok(Self {
            due,
            time_zone,
            recurrence,
        })
    }

    pub fn due(&self) -> Option<&Due> {
        self.due.as_ref()
    }

    pub fn time_zone(&self) -> Option<&TimeZoneName> {
        self.time_zone.as_ref()
    }

    pub fn recurrence(&self) -> Option<&Recurrence> {
        self.recurrence.as_ref()
    }

    pub fn into_parts(self) -> (Option<Due>, Option<TimeZoneName>, Option<Recurrence>) {
        (self.due, self.time_zone, self.recurrence)
    }

    /// The schedule of the next occurrence once the current one (the `occurrence`-th of its
    /// series, 1-based) is completed: the same zone and rule with the next due. `None` when the
    /// task does not recur or its series has ended; see [`next_occurrence`].
    pub fn next(&self, occurrence: u32) -> Option<Schedule> {
        let rule = self.recurrence.as_ref()?;
        let due = self.due.as_ref()?;
        let next = next_occurrence(rule, due, self.time_zone.as_ref(), occurrence)?;
        Some(Self {
            due: Some(next),
            time_zone: self.time_zone,
            recurrence: self.recurrence.clone(),
        })
    }
}

fn recurrence_error(kind: &'static str, message: &str) -> ScheduleError {
    ScheduleError {
        field: "recurrence",
        error: DomainError::new(kind, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(raw: &str) -> Recurrence {
        Recurrence::parse(raw).unwrap()
    }

    fn kind(result: Result<Schedule, ScheduleError>) -> (&'static str, &'static str) {
        let err = result.unwrap_err();
        (err.field, err.error.kind)
    }

    #[test]
    fn a_recurrence_requires_a_due() {
        assert_eq!(
            kind(Schedule::new(None, None, Some(rule("FREQ=DAILY")))),
            ("recurrence", "recurrence_requires_due")
        );
        let berlin = TimeZoneName::parse("Europe/Berlin").unwrap();
        assert_eq!(
            kind(Schedule::new(None, Some(berlin), Some(rule("FREQ=DAILY")))),
            ("recurrence", "recurrence_requires_due")
        );
    }

    #[test]
    fn plain_combinations_are_accepted() {
        let at = Due::parse_at("2026-03-28T09:00:00+01:00").unwrap();
        let date = Due::parse_date("2026-03-28").unwrap();
        let berlin = TimeZoneName::parse("Europe/Berlin").unwrap();
        assert!(Schedule::new(None, None, None).is_ok());
        assert!(Schedule::new(None, Some(berlin), None).is_ok());
        assert!(Schedule::new(Some(at), Some(berlin), Some(rule("FREQ=DAILY"))).is_ok());
        assert!(Schedule::new(Some(date), None, Some(rule("FREQ=MONTHLY"))).is_ok());
        let schedule = Schedule::new(Some(at), Some(berlin), None).unwrap();
        assert_eq!(schedule.due(), Some(&at));
        assert_eq!(schedule.time_zone(), Some(&berlin));
        assert_eq!(schedule.recurrence(), None);
        assert_eq!(
            schedule.next(1),
            None,
            "a task without a rule does not recur"
        );
    }

    #[test]
    fn an_all_day_due_cannot_recur_by_the_hour() {
        let date = Due::parse_date("2026-03-28").unwrap();
        for raw in [
            "FREQ=HOURLY",
            "FREQ=MINUTELY",
            "FREQ=DAILY;BYHOUR=9",
            "FREQ=WEEKLY;BYMINUTE=30",
            "FREQ=DAILY;BYSECOND=0",
        ] {
            assert_eq!(
                kind(Schedule::new(Some(date), None, Some(rule(raw)))),
                ("recurrence", "recurrence_invalid"),
                "{raw}"
            );
        }
        let at = Due::parse_at("2026-03-28T09:00:00Z").unwrap();
        assert!(Schedule::new(Some(at), None, Some(rule("FREQ=DAILY;BYHOUR=9,17"))).is_ok());
    }

    #[test]
    fn a_due_after_until_never_occurs() {
        let r = rule("FREQ=DAILY;UNTIL=20260301");
        let late = Due::parse_date("2026-03-02").unwrap();
        assert_eq!(
            kind(Schedule::new(Some(late), None, Some(r.clone()))),
            ("recurrence", "recurrence_never_occurs")
        );
        // The last occurrence itself is fine: it is what a finished series keeps as its due.
        let last = Due::parse_date("2026-03-01").unwrap();
        let schedule = Schedule::new(Some(last), None, Some(r)).unwrap();
        assert_eq!(schedule.next(5), None);
    }

    #[test]
    fn a_rule_with_no_instance_after_this_due_never_occurs() {
        // Every fourth year on 29 February, counted from 2026: 2030, 2034, ... never leap years.
        let r = rule("FREQ=YEARLY;INTERVAL=4;BYMONTH=2;BYMONTHDAY=29");
        let due = Due::parse_date("2026-02-01").unwrap();
        assert_eq!(
            kind(Schedule::new(Some(due), None, Some(r.clone()))),
            ("recurrence", "recurrence_never_occurs")
        );
        let due = Due::parse_date("2024-02-01").unwrap();
        assert!(Schedule::new(Some(due), None, Some(r)).is_ok());
    }

    #[test]
    fn count_is_not_held_against_the_due() {
        let due = Due::parse_date("2026-03-01").unwrap();
        let schedule = Schedule::new(Some(due), None, Some(rule("FREQ=DAILY;COUNT=1"))).unwrap();
        assert_eq!(schedule.next(1), None);
    }

    #[test]
    fn next_keeps_zone_and_rule_and_moves_the_due() {
        let berlin = TimeZoneName::parse("Europe/Berlin").unwrap();
        let due = Due::parse_at("2026-03-28T08:00:00Z").unwrap();
        let schedule =
            Schedule::new(Some(due), Some(berlin), Some(rule("FREQ=DAILY;COUNT=2"))).unwrap();
        let next = schedule.next(1).unwrap();
        assert_eq!(
            next.due().map(ToString::to_string).as_deref(),
            Some("2026-03-29T07:00:00.000Z")
        );
        assert_eq!(next.time_zone(), Some(&berlin));
        assert_eq!(next.recurrence(), schedule.recurrence());
        assert_eq!(next.next(2), None);
    }
}
