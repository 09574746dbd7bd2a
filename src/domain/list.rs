//! Listing tasks: which of an owner's tasks a list keeps (`TaskFilter`), in what order (`Sort`),
//! and where a page starts (`Position`). This is the vocabulary the list use case hands to the
//! store; parsing it from a request and sealing it into a cursor is the use case's business.
//!
//! Due comparisons need one instant per task: a `due_at` is its instant, a `due_date` counts as
//! due at the start of that day in the listing's time zone. Because the start of a day is strictly
//! increasing in the date, every instant bound also has a date bound (`DueBound`), so a store can
//! compare both columns by index without knowing about time zones.

use chrono::{DateTime, NaiveDate, TimeZone as _};

use super::{Due, Priority, Task, TaskId, due::start_of_day_ms};

/// What a list is ordered by; ties are always broken by id in the same direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    Id,
    CreatedAt,
    UpdatedAt,
    /// The due instant; tasks without a due come last in both directions.
    Due,
    /// `none < low < medium < high`.
    Priority,
    /// The title, case-insensitively (Unicode lowercase).
    Title,
}

impl SortKey {
    /// Every key with its wire name.
    pub const ALL: [(SortKey, &'static str); 6] = [
        (Self::Id, "id"),
        (Self::CreatedAt, "created_at"),
        (Self::UpdatedAt, "updated_at"),
        (Self::Due, "due"),
        (Self::Priority, "priority"),
        (Self::Title, "title"),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(key, _)| *key == self)
            .map_or("id", |(_, name)| name)
    }
}

/// A sort key and its direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
}

impl Sort {
    /// Parses `key` or `-key` (descending).
    pub fn parse(raw: &str) -> Option<Self> {
        let (descending, name) = match raw.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, raw),
        };
        SortKey::ALL
            .iter()
            .find(|(_, known)| *known == name)
            .map(|(key, _)| Self {
                key: *key,
                descending,
            })
    }

    /// The wire spelling, `key` or `-key`.
    pub fn name(self) -> String {
        let sign = if self.descending { "-" } else { "" };
        format!("{sign}{}", self.key.name())
    }

    /// Where `task` stands in this order, for continuing after it.
    pub fn position_of(self, task: &Task, zone: chrono_tz::Tz) -> Position {
        let value = match self.key {
            SortKey::Id => SortValue::Int(task.id),
            SortKey::CreatedAt => SortValue::Int(task.created_at_ms),
            SortKey::UpdatedAt => SortValue::Int(task.updated_at_ms),
            SortKey::Priority => SortValue::Int(i64::from(task.priority.rank())),
            SortKey::Title => SortValue::Text(fold(&task.title)),
            SortKey::Due => match task.due {
                Some(due) => SortValue::Int(due_instant_ms(due, zone)),
                None => SortValue::NoDue,
            },
        };
        Position { value, id: task.id }
    }
}

/// The value of a task's sort key as a position holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortValue {
    /// Ids, timestamps, priority ranks and due instants (UTC milliseconds).
    Int(i64),
    /// Folded titles.
    Text(String),
    /// Sorting by due, among the tasks without one (they come last).
    NoDue,
}

/// A place in a sorted list: the sort value and id of the last task already returned. The next
/// page holds the tasks strictly after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub value: SortValue,
    pub id: TaskId,
}

/// An instant bound on due, with its date twin in the listing's zone: `date` is the first day
/// that starts at or after `at_ms`, so for any task "due before the bound" is `due_at < at_ms` or
/// `due_date < date`, and "due at or after it" is `due_at >= at_ms` or `due_date >= date`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueBound {
    pub at_ms: i64,
    pub date: NaiveDate,
}

impl DueBound {
    pub fn new(at_ms: i64, zone: chrono_tz::Tz) -> Self {
        let local_day = DateTime::from_timestamp_millis(at_ms)
            .map(|utc| zone.from_utc_datetime(&utc.naive_utc()).date_naive())
            .unwrap_or(NaiveDate::MAX);
        let date = if start_of_day_ms(local_day, zone) >= at_ms {
            local_day
        } else {
            local_day.succ_opt().unwrap_or(NaiveDate::MAX)
        };
        Self { at_ms, date }
    }
}

/// Which of an owner's tasks a list keeps. Every condition that is set must hold.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskFilter {
    pub complete: Option<bool>,
    /// Any of these priorities; empty keeps every priority.
    pub priorities: Vec<Priority>,
    /// Every one of these tag keys (lowercase); empty keeps every task.
    pub tag_keys: Vec<String>,
    /// Due strictly before the bound.
    pub due_before: Option<DueBound>,
    /// Due at or after the bound.
    pub due_after: Option<DueBound>,
    /// `Some(true)`: not complete and due before the bound (now); `Some(false)`: anything else.
    pub overdue: Option<(bool, DueBound)>,
    /// Folded text that the folded title or description must contain.
    pub text: Option<String>,
    /// The zone date-only dues are read in (for sorting by due).
    pub zone: chrono_tz::Tz,
}

impl Default for TaskFilter {
    fn default() -> Self {
        Self {
            complete: None,
            priorities: Vec::new(),
            tag_keys: Vec::new(),
            due_before: None,
            due_after: None,
            overdue: None,
            text: None,
            zone: chrono_tz::Tz::UTC,
        }
    }
}

/// One page to read: the filter, the order, where to start and how many tasks at most.
#[derive(Debug, Clone, PartialEq)]
pub struct PageQuery {
    pub filter: TaskFilter,
    pub sort: Sort,
    /// Start strictly after this position; `None` starts at the beginning.
    pub after: Option<Position>,
    /// Most tasks to return. Stores return up to `limit + 1` so the caller can tell whether
    /// there is a next page.
    pub limit: u32,
}

/// What a store returns for a `PageQuery`.
#[derive(Debug, Clone)]
pub struct TaskPage {
    /// Up to `limit + 1` tasks in order: the extra one only says that a next page exists.
    pub tasks: Vec<Task>,
    /// How many of the owner's tasks match the filter, over all pages.
    pub total: i64,
    /// The feed position the page was read at: following the feed from it gives every change
    /// the page does not show.
    pub position: super::sync::Position,
}

/// The due instant of `due` when date-only dues start their day in `zone`.
pub fn due_instant_ms(due: Due, zone: chrono_tz::Tz) -> i64 {
    match due {
        Due::At(ms) => ms,
        Due::Date(date) => start_of_day_ms(date, zone),
    }
}

/// The form text is compared in for search and title sorting: Unicode lowercase, so `"Ä"`
/// matches `"ä"`.
pub fn fold(text: &str) -> String {
    text.to_lowercase()
}

/// What a store indexes for search: the folded title and description, joined by a line feed
/// (which a search text never contains, so no match spans the two).
pub fn search_text(title: &str, description: Option<&str>) -> String {
    match description {
        Some(description) => format!("{}\n{}", fold(title), fold(description)),
        None => fold(title),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Tz;

    fn ms(rfc3339: &str) -> i64 {
        DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .timestamp_millis()
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn sort_names_round_trip_and_unknown_ones_are_refused() {
        for (key, name) in SortKey::ALL {
            for descending in [false, true] {
                let sort = Sort { key, descending };
                assert_eq!(Sort::parse(&sort.name()), Some(sort));
            }
            assert_eq!(key.name(), name);
        }
        for bad in ["", "-", "--id", "ID", "due ", "+id", "complete"] {
            assert_eq!(Sort::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_due_bound_has_the_first_day_starting_at_or_after_it() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        // Midnight in Berlin exactly: that day starts at the bound.
        let bound = DueBound::new(ms("2026-03-09T23:00:00Z"), berlin);
        assert_eq!(bound.date, date("2026-03-10"));
        // A minute later, the 10th has started before the bound: the first day after is the 11th.
        let bound = DueBound::new(ms("2026-03-09T23:01:00Z"), berlin);
        assert_eq!(bound.date, date("2026-03-11"));
        // In UTC the same instant is late on the 9th.
        let bound = DueBound::new(ms("2026-03-09T23:01:00Z"), Tz::UTC);
        assert_eq!(bound.date, date("2026-03-10"));
    }

    #[test]
    fn due_dates_sort_by_the_start_of_their_day_in_the_zone() {
        let tokyo: Tz = "Asia/Tokyo".parse().unwrap();
        let day = Due::Date(date("2026-05-01"));
        assert_eq!(due_instant_ms(day, tokyo), ms("2026-04-30T15:00:00Z"));
        assert_eq!(due_instant_ms(day, Tz::UTC), ms("2026-05-01T00:00:00Z"));
        assert_eq!(due_instant_ms(Due::At(5), tokyo), 5);
    }

    #[test]
    fn search_text_is_folded_and_keeps_title_and_description_apart() {
        assert_eq!(search_text("Äpfel KAUFEN", None), "äpfel kaufen");
        assert_eq!(search_text("A", Some("ΣΟΦΊΑ")), "a\nσοφία");
    }
}
