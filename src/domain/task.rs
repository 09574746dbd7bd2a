//! A task as it is stored, and the values that create or change one: what a request asks for
//! (`NewTask`, `TaskChanges`, `TaskReplacement`), what a use case decides a task becomes
//! (`TaskEdit`), and what a change writes (`TaskWrite`, with the next occurrence of a recurring
//! task when completing it creates one).

use super::{
    DomainError, Due, Priority, Recurrence, Schedule, ScheduleError, Tags, TaskDescription, TaskId,
    TaskTitle, TimeZoneName,
};

/// A stored task as the store returns it. Timestamps are milliseconds since the Unix epoch (UTC).
/// The time zone and recurrence are kept in the canonical text they were stored in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: TaskId,
    pub user_id: String,
    pub title: String,
    pub description: Option<String>,
    pub complete: bool,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub priority: Priority,
    /// In the order given, first spelling of each case-insensitive duplicate kept.
    pub tags: Vec<String>,
    pub due: Option<Due>,
    pub time_zone: Option<String>,
    pub recurrence: Option<String>,
    /// When `complete` last became true; `None` while the task is not complete.
    pub completed_at_ms: Option<i64>,
    /// 1-based index of this task in its recurrence series.
    pub occurrence: u32,
    /// The next occurrence created when this one was completed; set at most once.
    pub next_task_id: Option<TaskId>,
    /// 1 on create, +1 on every change of any field.
    pub version: super::sync::Version,
}

/// What a create needs, validated field by field and the schedule as a whole.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub title: TaskTitle,
    pub description: Option<TaskDescription>,
    pub priority: Priority,
    pub tags: Tags,
    pub schedule: Schedule,
}

/// A partial change; `None` leaves a field as it is, `Some(None)` clears a nullable one.
///
/// `due_at` and `due_date` are two views of one due: setting either replaces the due (so an
/// all-day task can be given a time and back); clearing one clears the due only if it is of that
/// kind. Sending both with values is refused while the body is parsed.
#[derive(Debug, Clone, Default)]
pub struct TaskChanges {
    pub title: Option<TaskTitle>,
    pub description: Option<Option<TaskDescription>>,
    pub complete: Option<bool>,
    pub priority: Option<Priority>,
    pub tags: Option<Tags>,
    pub due_at: Option<Option<Due>>,
    pub due_date: Option<Option<Due>>,
    pub time_zone: Option<Option<TimeZoneName>>,
    pub recurrence: Option<Option<Recurrence>>,
}

impl TaskChanges {
    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.description.is_none()
            && self.complete.is_none()
            && self.priority.is_none()
            && self.tags.is_none()
            && !self.changes_schedule()
    }

    /// Whether the change touches the due, the time zone or the recurrence.
    pub fn changes_schedule(&self) -> bool {
        self.due_at.is_some()
            || self.due_date.is_some()
            || self.time_zone.is_some()
            || self.recurrence.is_some()
    }
}

/// A full replacement: `title`, `description` and `complete` are required; the newer fields are
/// optional and left as they are when absent, so a client that predates them cannot wipe them.
#[derive(Debug, Clone)]
pub struct TaskReplacement {
    pub title: TaskTitle,
    pub description: Option<TaskDescription>,
    pub complete: bool,
    /// The newer fields that were sent (`title`, `description` and `complete` unset here).
    pub others: TaskChanges,
}

impl From<TaskReplacement> for TaskChanges {
    fn from(r: TaskReplacement) -> Self {
        Self {
            title: Some(r.title),
            description: Some(r.description),
            complete: Some(r.complete),
            ..r.others
        }
    }
}

/// Every field of a task a client can change, as one value: what a use case decides a task
/// becomes, and what the store writes back in the same transaction it read the task in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskEdit {
    pub title: String,
    pub description: Option<String>,
    pub complete: bool,
    pub priority: Priority,
    pub tags: Vec<String>,
    pub due: Option<Due>,
    pub time_zone: Option<String>,
    pub recurrence: Option<String>,
    pub completed_at_ms: Option<i64>,
}

/// What one change writes: the task's new state and, when completing a recurring task starts
/// its next occurrence, that occurrence (stored as the next of the series, linked to the task).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskWrite {
    pub task: TaskEdit,
    pub next: Option<TaskEdit>,
}

impl From<NewTask> for TaskEdit {
    fn from(task: NewTask) -> Self {
        let (due, time_zone, recurrence) = task.schedule.into_parts();
        Self {
            title: task.title.into_inner(),
            description: task.description.map(TaskDescription::into_inner),
            complete: false,
            priority: task.priority,
            tags: task.tags.to_strings(),
            due,
            time_zone: time_zone.map(|z| z.as_str().to_owned()),
            recurrence: recurrence.map(Recurrence::into_inner),
            completed_at_ms: None,
        }
    }
}

impl TaskEdit {
    /// The task as it is now.
    pub fn of(task: &Task) -> Self {
        Self {
            title: task.title.clone(),
            description: task.description.clone(),
            complete: task.complete,
            priority: task.priority,
            tags: task.tags.clone(),
            due: task.due,
            time_zone: task.time_zone.clone(),
            recurrence: task.recurrence.clone(),
            completed_at_ms: task.completed_at_ms,
        }
    }

    /// This state with the set fields of `changes` applied. When the change touches the due,
    /// zone or recurrence, the merged three must still fit together (see `Schedule::new`).
    pub fn with(self, changes: TaskChanges) -> Result<Self, ScheduleError> {
        let schedule = if changes.changes_schedule() {
            let mut due = self.due;
            if let Some(due_at) = changes.due_at {
                due = merge_due(due, due_at, |d| matches!(d, Due::At(_)));
            }
            if let Some(due_date) = changes.due_date {
                due = merge_due(due, due_date, |d| matches!(d, Due::Date(_)));
            }
            let time_zone = match changes.time_zone {
                Some(zone) => zone,
                None => stored(self.time_zone.as_deref(), "time_zone", TimeZoneName::parse)?,
            };
            let recurrence = match changes.recurrence {
                Some(rule) => rule,
                None => stored(
                    self.recurrence.as_deref(),
                    "recurrence",
                    Recurrence::from_stored,
                )?,
            };
            let (due, time_zone, recurrence) =
                Schedule::new(due, time_zone, recurrence)?.into_parts();
            Some((
                due,
                time_zone.map(|z| z.as_str().to_owned()),
                recurrence.map(Recurrence::into_inner),
            ))
        } else {
            None
        };
        let (due, time_zone, recurrence) =
            schedule.unwrap_or((self.due, self.time_zone, self.recurrence));
        Ok(Self {
            title: changes.title.map_or(self.title, TaskTitle::into_inner),
            description: match changes.description {
                None => self.description,
                Some(description) => description.map(TaskDescription::into_inner),
            },
            complete: changes.complete.unwrap_or(self.complete),
            priority: changes.priority.unwrap_or(self.priority),
            tags: changes.tags.map_or(self.tags, |tags| tags.to_strings()),
            due,
            time_zone,
            recurrence,
            completed_at_ms: self.completed_at_ms,
        })
    }

    /// The write that turns `current` into this state at `now_ms`: `completed_at` follows
    /// `complete`, and completing a recurring task whose series has a next occurrence (and that
    /// has not started one before) starts it: same fields, not complete, due at the rule's next
    /// instant after this one's due.
    pub fn into_write(mut self, current: &Task, now_ms: i64) -> TaskWrite {
        let completing = self.complete && !current.complete;
        if completing {
            self.completed_at_ms = Some(now_ms);
        } else if !self.complete {
            self.completed_at_ms = None;
        }
        let next = if completing && current.next_task_id.is_none() {
            self.next_occurrence(current.occurrence)
        } else {
            None
        };
        TaskWrite { task: self, next }
    }

    /// The next occurrence of this (recurring) task once its `occurrence`-th is completed.
    fn next_occurrence(&self, occurrence: u32) -> Option<TaskEdit> {
        let stored_rule = self.recurrence.as_deref()?;
        // Stored values were valid when stored; one that no longer reads (a zone removed from
        // the tz database) ends the series, loudly.
        let rule = Recurrence::from_stored(stored_rule)
            .inspect_err(|e| tracing::error!(rule = stored_rule, error = %e, "stored recurrence no longer parses: no next occurrence"))
            .ok()?;
        let time_zone = match self.time_zone.as_deref() {
            Some(zone) => Some(
                TimeZoneName::parse(zone)
                    .inspect_err(|e| tracing::error!(zone, error = %e, "stored time zone no longer parses: no next occurrence"))
                    .ok()?,
            ),
            None => None,
        };
        let due =
            super::next_occurrence(&rule, self.due.as_ref()?, time_zone.as_ref(), occurrence)?;
        Some(Self {
            complete: false,
            completed_at_ms: None,
            due: Some(due),
            ..self.clone()
        })
    }
}

/// `current` after a change of one kind of due: a value replaces the due, whichever its kind;
/// null clears it only when it is of that kind.
fn merge_due(current: Option<Due>, change: Option<Due>, is_kind: fn(&Due) -> bool) -> Option<Due> {
    match change {
        Some(due) => Some(due),
        None if current.as_ref().is_some_and(is_kind) => None,
        None => current,
    }
}

/// A stored zone or rule read back for validation. Stored values are canonical; one that no
/// longer parses (a zone removed from the tz database) is reported on its field.
fn stored<T>(
    raw: Option<&str>,
    field: &'static str,
    parse: fn(&str) -> Result<T, DomainError>,
) -> Result<Option<T>, ScheduleError> {
    raw.map(parse)
        .transpose()
        .map_err(|error| ScheduleError { field, error })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task() -> Task {
        Task {
            id: 1,
            user_id: "alice".into(),
            title: "Water the plants".into(),
            description: Some("balcony".into()),
            complete: false,
            created_at_ms: 0,
            updated_at_ms: 0,
            priority: Priority::Low,
            tags: vec!["Home".into()],
            due: Some(Due::parse_at("2026-03-28T09:00:00+01:00").unwrap()),
            time_zone: Some("Europe/Berlin".into()),
            recurrence: Some("FREQ=DAILY".into()),
            completed_at_ms: None,
            occurrence: 1,
            next_task_id: None,
            version: 1,
        }
    }

    #[test]
    fn an_edit_applies_only_the_fields_that_are_set() {
        let current = task();
        let unchanged = TaskEdit::of(&current).with(TaskChanges::default()).unwrap();
        assert_eq!(unchanged, TaskEdit::of(&current));

        let cleared = TaskEdit::of(&current)
            .with(TaskChanges {
                description: Some(None),
                complete: Some(true),
                ..TaskChanges::default()
            })
            .unwrap();
        assert_eq!(cleared.description, None);
        assert!(cleared.complete);
        assert_eq!(cleared.tags, ["Home"], "tags are left alone");
        assert_eq!(cleared.recurrence.as_deref(), Some("FREQ=DAILY"));
    }

    #[test]
    fn clearing_the_due_of_a_recurring_task_is_refused_on_the_recurrence() {
        let err = TaskEdit::of(&task())
            .with(TaskChanges {
                due_at: Some(None),
                ..TaskChanges::default()
            })
            .unwrap_err();
        assert_eq!(
            (err.field, err.error.kind),
            ("recurrence", "recurrence_requires_due")
        );
    }

    #[test]
    fn a_due_date_replaces_a_due_at_and_clearing_the_other_kind_changes_nothing() {
        let date = Due::parse_date("2026-04-01").unwrap();
        let edit = TaskEdit::of(&task())
            .with(TaskChanges {
                due_date: Some(Some(date)),
                ..TaskChanges::default()
            })
            .unwrap();
        assert_eq!(edit.due, Some(date));
        let same = edit
            .clone()
            .with(TaskChanges {
                due_at: Some(None),
                ..TaskChanges::default()
            })
            .unwrap();
        assert_eq!(same.due, Some(date));
    }

    #[test]
    fn completing_a_recurring_task_starts_the_next_occurrence_once() {
        let current = task();
        let mut done = TaskEdit::of(&current);
        done.complete = true;
        let write = done.clone().into_write(&current, 42);
        assert_eq!(write.task.completed_at_ms, Some(42));
        let next = write.next.expect("a next occurrence");
        assert!(!next.complete);
        assert_eq!(next.completed_at_ms, None);
        // 09:00 in Berlin on the day after, across the spring DST change (CET -> CEST).
        assert_eq!(
            next.due,
            Some(Due::parse_at("2026-03-29T09:00:00+02:00").unwrap())
        );
        assert_eq!(
            (next.title.as_str(), next.tags.clone()),
            ("Water the plants", vec!["Home".to_owned()])
        );

        let already_linked = Task {
            next_task_id: Some(2),
            version: 1,
            ..current.clone()
        };
        assert_eq!(done.clone().into_write(&already_linked, 43).next, None);
        let already_complete = Task {
            complete: true,
            ..current
        };
        assert_eq!(done.into_write(&already_complete, 44).next, None);
    }

    #[test]
    fn uncompleting_clears_completed_at() {
        let current = Task {
            complete: true,
            completed_at_ms: Some(7),
            ..task()
        };
        let mut edit = TaskEdit::of(&current);
        edit.complete = false;
        let write = edit.into_write(&current, 50);
        assert_eq!((write.task.completed_at_ms, write.next), (None, None));
    }
}
