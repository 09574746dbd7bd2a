//! The task use cases: what listing, creating, reading, replacing, updating, completing and
//! deleting a task means, whichever front door (REST today, MCP next) the request came through.
//!
//! `TaskService` is the only caller of the storage port. Rules that every front door must share
//! (at least one change in an update, the due/zone/recurrence checks of a change against the
//! stored task, the next occurrence of a recurring task on completion; later idempotent creates
//! and the change feed) live here, never in a handler and never in SQL. Ownership is already settled when
//! a use case runs: the caller passes the authenticated owner, and every store call is scoped to it.

use crate::{
    domain::{
        NewTask, ScheduleError, Task, TaskChanges, TaskEdit, TaskId, TaskReplacement, TaskWrite,
        UserId, now_ms,
    },
    store::{NotReady, StoreError, TagCount, TaskStore},
};

/// Why a use case refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// An update that sets no field: there is nothing to do, and saying so beats a silent no-op.
    #[error("send at least one field to change")]
    NothingToChange,
    /// The change would leave the due, time zone and recurrence in a state that does not fit
    /// together (a recurrence without a due, a rule with no occurrence after the due, ...).
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// The store refused (no such task for this owner) or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Which tasks a listing keeps, by completion.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StatusFilter {
    /// Every task.
    #[default]
    All,
    /// Tasks not completed yet.
    Pending,
    /// Completed tasks.
    Completed,
}

impl StatusFilter {
    /// The names a front door accepts, in the order they are documented.
    pub const NAMES: [&'static str; 3] = ["all", "pending", "completed"];

    /// The filter called `name` (one of [`Self::NAMES`]).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "all" => Some(Self::All),
            "pending" => Some(Self::Pending),
            "completed" => Some(Self::Completed),
            _ => None,
        }
    }

    /// Whether `task` is kept.
    pub fn matches(self, task: &Task) -> bool {
        match self {
            Self::All => true,
            Self::Pending => !task.complete,
            Self::Completed => task.complete,
        }
    }
}

/// The task use cases over one store. Cheap to clone: it holds a handle to the store's pool.
#[derive(Clone)]
pub struct TaskService<S> {
    store: S,
}

impl<S: TaskStore> TaskService<S> {
    pub fn new(store: S) -> Self {
        Self { store }
    }

    /// All of the owner's tasks, ordered by id ascending.
    pub async fn list(&self, owner: &UserId) -> Result<Vec<Task>, TaskError> {
        Ok(self.store.list(owner).await?)
    }

    /// The owner's tasks with the given status, ordered by id ascending.
    pub async fn list_by_status(
        &self,
        owner: &UserId,
        status: StatusFilter,
    ) -> Result<Vec<Task>, TaskError> {
        let mut tasks = self.store.list(owner).await?;
        tasks.retain(|task| status.matches(task));
        Ok(tasks)
    }

    /// Create a task; the store assigns the id and timestamps, and `complete` starts false.
    pub async fn create(&self, owner: &UserId, task: NewTask) -> Result<Task, TaskError> {
        Ok(self.store.create(owner, TaskEdit::from(task)).await?)
    }

    /// One of the owner's tasks; another owner's task is `NotFound`, as if it did not exist.
    pub async fn get(&self, owner: &UserId, id: TaskId) -> Result<Task, TaskError> {
        Ok(self.store.get(owner, id).await?)
    }

    /// Set `title`, `description` and `complete`, and whichever newer fields were sent.
    pub async fn replace(
        &self,
        owner: &UserId,
        id: TaskId,
        replacement: TaskReplacement,
    ) -> Result<Task, TaskError> {
        self.apply(owner, id, replacement.into()).await
    }

    /// Change the fields that are set; at least one must be.
    pub async fn update(
        &self,
        owner: &UserId,
        id: TaskId,
        changes: TaskChanges,
    ) -> Result<Task, TaskError> {
        if changes.is_empty() {
            return Err(TaskError::NothingToChange);
        }
        self.apply(owner, id, changes).await
    }

    /// Flip `complete` atomically: two concurrent toggles cancel out rather than collide.
    pub async fn toggle_complete(&self, owner: &UserId, id: TaskId) -> Result<Task, TaskError> {
        self.change(owner, id, |task| {
            let edit = TaskEdit {
                complete: !task.complete,
                ..TaskEdit::of(task)
            };
            Ok(edit.into_write(task, now_ms()))
        })
        .await
    }

    /// Set `complete` to `done`. Idempotent: completing a completed task changes nothing, and a
    /// recurring task's next occurrence is started once, the first time it is completed.
    pub async fn set_complete(
        &self,
        owner: &UserId,
        id: TaskId,
        done: bool,
    ) -> Result<Task, TaskError> {
        let changes = TaskChanges {
            complete: Some(done),
            ..TaskChanges::default()
        };
        self.apply(owner, id, changes).await
    }

    /// Delete a task for good; its id is never reused.
    pub async fn delete(&self, owner: &UserId, id: TaskId) -> Result<(), TaskError> {
        Ok(self.store.delete(owner, id).await?)
    }

    /// The owner's tags with the number of tasks carrying each, by name case-insensitively.
    pub async fn tags(&self, owner: &UserId) -> Result<Vec<TagCount>, TaskError> {
        Ok(self.store.tags(owner).await?)
    }

    /// Apply `changes` to the task as it is when the store reads it. Completing a recurring task
    /// this way starts its next occurrence in the same transaction, exactly once.
    async fn apply(
        &self,
        owner: &UserId,
        id: TaskId,
        changes: TaskChanges,
    ) -> Result<Task, TaskError> {
        if changes.changes_schedule() {
            self.check_schedule(owner, id, changes.clone()).await?;
        }
        self.change(owner, id, move |task| {
            let edit = TaskEdit::of(task).with(changes)?;
            Ok(edit.into_write(task, now_ms()))
        })
        .await
    }

    /// Check a change of due, zone or recurrence against the task as it is now, on the blocking
    /// pool: expanding an odd rule can take a while, and a rejection is better found here than
    /// inside the write transaction (where the SQLite writer would wait for it). The check is
    /// repeated in the transaction against the state it then reads (the task may have changed
    /// in between); stored rules are read back without their "can it ever occur" search, so what
    /// remains there is finding the rule's next instance, quick for every ordinary rule.
    async fn check_schedule(
        &self,
        owner: &UserId,
        id: TaskId,
        changes: TaskChanges,
    ) -> Result<(), TaskError> {
        let current = self.store.get(owner, id).await?;
        tokio::task::spawn_blocking(move || TaskEdit::of(&current).with(changes).map(drop))
            .await
            .map_err(|e| StoreError::Internal(Box::new(e)))??;
        Ok(())
    }

    /// Read, decide and write one task in one store transaction.
    async fn change<F>(&self, owner: &UserId, id: TaskId, decide: F) -> Result<Task, TaskError>
    where
        F: FnOnce(&Task) -> Result<TaskWrite, TaskError> + Send + 'static,
    {
        self.store.modify(owner, id, decide).await?
    }

    /// Whether the database answers a cheap round trip (the liveness check).
    pub async fn check_database(&self) -> Result<(), StoreError> {
        self.store.ping().await
    }

    /// Whether the store can serve every request: read, write, schema, integrity (readiness).
    pub async fn check_ready(&self) -> Result<(), NotReady> {
        self.store.ready().await
    }
}
