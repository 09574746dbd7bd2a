//! How a task's fields are stored, shared by both backends: a row read as plain column values
//! (`TaskRow`, in `TASK_COLUMNS` order) becomes a `Task`, and a `TaskEdit` becomes the column
//! values to write (`EditColumns`). Each backend only moves these values in and out of its
//! driver's row type.

use super::StoreError;
use crate::domain::{
    Due, Priority, Task, TaskEdit,
    due::{format_date, parse_calendar_date},
    list::{fold, search_text},
    tags::tag_key,
};

/// One `tasks` row as its column values, in `TASK_COLUMNS` order. The columns that are only
/// parsed (`tags`, `due_date`) are borrowed from the driver's row: most tasks' tags are `[]`,
/// and a `String` for each was one allocation in four of a page's rows.
pub(super) struct TaskRow<'a> {
    pub id: i64,
    pub user_id: String,
    pub title: String,
    pub description: Option<String>,
    pub complete: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub priority: i64,
    pub tags: &'a str,
    pub due_at: Option<i64>,
    pub due_date: Option<&'a str>,
    pub time_zone: Option<String>,
    pub recurrence: Option<String>,
    pub completed_at: Option<i64>,
    pub occurrence: i64,
    pub next_task_id: Option<i64>,
    pub version: i64,
}

impl TaskRow<'_> {
    /// The task this row stores. A value no release writes (an unknown priority, tags that are
    /// not a JSON array of strings, a malformed date) is a corrupted row: an internal error.
    pub fn into_task(self) -> Result<Task, StoreError> {
        let corrupt = |what: &str| {
            StoreError::Internal(format!("task {}: stored {what} is invalid", self.id).into())
        };
        let priority = u8::try_from(self.priority)
            .ok()
            .and_then(Priority::from_rank)
            .ok_or_else(|| corrupt("priority"))?;
        // Most tasks have no tags: skip the JSON parser (and its allocation) for them.
        let tags: Vec<String> = if self.tags == "[]" {
            Vec::new()
        } else {
            serde_json::from_str(self.tags).map_err(|_| corrupt("tags"))?
        };
        let due = match (self.due_at, self.due_date) {
            (Some(ms), _) => Some(Due::At(ms)),
            (None, Some(date)) => Some(Due::Date(
                parse_calendar_date(date).map_err(|_| corrupt("due_date"))?,
            )),
            (None, None) => None,
        };
        let occurrence = u32::try_from(self.occurrence).map_err(|_| corrupt("occurrence"))?;
        Ok(Task {
            id: self.id,
            user_id: self.user_id,
            title: self.title,
            description: self.description,
            complete: self.complete,
            created_at_ms: self.created_at,
            updated_at_ms: self.updated_at,
            priority,
            tags,
            due,
            time_zone: self.time_zone,
            recurrence: self.recurrence,
            completed_at_ms: self.completed_at,
            occurrence,
            next_task_id: self.next_task_id,
            version: self.version,
        })
    }
}

/// The columns a `TaskEdit` writes besides title, description and complete.
pub(super) struct EditColumns {
    pub priority: i16,
    pub tags: String,
    pub due_at: Option<i64>,
    pub due_date: Option<String>,
    /// What `sort=title` orders by.
    pub title_key: String,
    /// What `q` searches.
    pub search_text: String,
}

impl EditColumns {
    pub fn of(edit: &TaskEdit) -> Self {
        Self::from_parts(
            (&edit.title, edit.description.as_deref()),
            edit.priority,
            &edit.tags,
            edit.due.as_ref(),
        )
    }

    pub fn of_task(task: &Task) -> Self {
        Self::from_parts(
            (&task.title, task.description.as_deref()),
            task.priority,
            &task.tags,
            task.due.as_ref(),
        )
    }

    fn from_parts(
        (title, description): (&str, Option<&str>),
        priority: Priority,
        tags: &[String],
        due: Option<&Due>,
    ) -> Self {
        Self {
            title_key: fold(title),
            search_text: search_text(title, description),
            priority: i16::from(priority.rank()),
            tags: if tags.is_empty() {
                "[]".to_owned()
            } else {
                serde_json::to_string(tags).unwrap_or_else(|_| "[]".into())
            },
            due_at: due.and_then(Due::at_ms),
            due_date: due.and_then(Due::date).map(format_date),
        }
    }
}

/// The `task_tags` rows of a task: `(tag_key, name)` for each tag, keys unique.
pub(super) fn tag_rows(tags: &[String]) -> Vec<(String, &str)> {
    tags.iter()
        .map(|name| (tag_key(name), name.as_str()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> TaskRow<'static> {
        TaskRow {
            id: 7,
            user_id: "alice".into(),
            title: "t".into(),
            description: None,
            complete: false,
            created_at: 1,
            updated_at: 2,
            priority: 3,
            tags: r#"["Work","home"]"#,
            due_at: None,
            due_date: Some("2026-04-01"),
            time_zone: Some("Europe/Berlin".into()),
            recurrence: Some("FREQ=DAILY".into()),
            completed_at: None,
            occurrence: 2,
            next_task_id: None,
            version: 1,
        }
    }

    #[test]
    fn a_row_reads_back_as_the_task_it_stores_and_writes_the_same_columns() {
        let task = row().into_task().unwrap();
        assert_eq!(task.priority, Priority::High);
        assert_eq!(task.tags, ["Work", "home"]);
        assert_eq!(task.due, Some(Due::parse_date("2026-04-01").unwrap()));
        let columns = EditColumns::of_task(&task);
        assert_eq!(columns.priority, 3);
        assert_eq!(columns.tags, r#"["Work","home"]"#);
        assert_eq!(
            (columns.due_at, columns.due_date.as_deref()),
            (None, Some("2026-04-01"))
        );
        assert_eq!(
            tag_rows(&task.tags),
            [("work".to_owned(), "Work"), ("home".to_owned(), "home")]
        );
    }

    #[test]
    fn a_corrupted_row_is_an_internal_error_not_a_panic() {
        for broken in [
            TaskRow {
                priority: 9,
                ..row()
            },
            TaskRow { tags: "{", ..row() },
            TaskRow {
                due_date: Some("2026-02-30"),
                ..row()
            },
        ] {
            assert!(matches!(broken.into_task(), Err(StoreError::Internal(_))));
        }
    }
}
