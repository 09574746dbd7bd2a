//! The change feed's schemas: one change (a task as it is now, or a tombstone) and a page of
//! them.

use poem_openapi::{Enum, Object, types::Example};
use serde::Serialize;

use super::{scalars::Timestamp, task::TaskView};
use crate::domain::sync::Change;

/// The kind of object a change is about. Only tasks today; more kinds may be added, so skip
/// an entry whose kind is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize)]
#[oai(rename = "ChangeResource", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum ChangeResource {
    Task,
}

/// One entry of the change feed: the task as it is now (`deleted: false`, with `task`), or the
/// tombstone of a deleted one (`deleted: true`, with `deleted_at`).
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "Change", example)]
pub struct ChangeView {
    pub resource: ChangeResource,
    /// The object's id.
    pub id: i64,
    pub deleted: bool,
    /// The task as it is now; absent on a tombstone.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskView>,
    /// When the task was deleted; present on a tombstone only.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<Timestamp>,
}

impl From<Change> for ChangeView {
    fn from(change: Change) -> Self {
        match change {
            Change::Task(task) => Self {
                resource: ChangeResource::Task,
                id: task.id,
                deleted: false,
                task: Some(task.into()),
                deleted_at: None,
            },
            Change::Deleted { id, deleted_at_ms } => Self {
                resource: ChangeResource::Task,
                id,
                deleted: true,
                task: None,
                deleted_at: Some(Timestamp(deleted_at_ms)),
            },
        }
    }
}

impl Example for ChangeView {
    fn example() -> Self {
        Self {
            resource: ChangeResource::Task,
            id: 42,
            deleted: false,
            task: Some(TaskView::example()),
            deleted_at: None,
        }
    }
}

/// One page of the caller's change feed.
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "ChangeList", example)]
pub struct ChangeList {
    /// In commit order; each object once, as it is now, even if it changed several times.
    pub changes: Vec<ChangeView>,
    /// Always present: pass it as `since` to continue, now (when `has_more`) or at the next
    /// poll. Opaque: do not build or edit it.
    pub next_cursor: String,
    /// Whether more changes are waiting right now.
    pub has_more: bool,
}

impl Example for ChangeList {
    fn example() -> Self {
        Self {
            changes: vec![
                ChangeView::example(),
                ChangeView {
                    resource: ChangeResource::Task,
                    id: 43,
                    deleted: true,
                    task: None,
                    deleted_at: Some(Timestamp(1_766_570_500_000)),
                },
            ],
            next_cursor: "eyJ2IjoxLCJ1IjoiOWJkNTk4MzYiLCJwIjpbOTMxLDBdfQ".into(),
            has_more: false,
        }
    }
}
