//! The task use cases: what listing, creating, reading, replacing, updating, completing and
//! deleting a task means, whichever front door (REST or MCP) the request came through.
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

pub mod list;

pub use list::{ListPage, ListParams, ListRefusal, ListRequest};

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
    /// The owner already has the most tasks a user may have (`quota.max_tasks_per_user`).
    #[error("task quota reached: a user may have at most {limit} tasks; delete some to add more")]
    QuotaExceeded { limit: u64 },
    /// The store refused (no such task for this owner) or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The task use cases over one store. Cheap to clone: it holds a handle to the store's pool.
#[derive(Clone)]
pub struct TaskService<S> {
    store: S,
    /// Most tasks one owner may have; `None` = unlimited.
    max_tasks_per_user: Option<u64>,
}

impl<S: TaskStore> TaskService<S> {
    /// The use cases over `store`, with no task quota.
    pub fn new(store: S) -> Self {
        Self {
            store,
            max_tasks_per_user: None,
        }
    }

    /// Refuse creates once an owner has `max` tasks (`None` or 0: unlimited).
    pub fn with_task_quota(mut self, max: Option<u64>) -> Self {
        self.max_tasks_per_user = max.filter(|&max| max > 0);
        self
    }

    /// One page of the owner's tasks under `request`'s filters and order, with the total that
    /// match and the cursor of the next page.
    pub async fn list(&self, owner: &UserId, request: ListRequest) -> Result<ListPage, TaskError> {
        let limit = request.query.limit as usize;
        let page = self.store.list(owner, request.query.clone()).await?;
        let mut tasks = page.tasks;
        let next_cursor = if tasks.len() > limit {
            tasks.truncate(limit);
            tasks.last().map(|last| request.cursor_after(last))
        } else {
            None
        };
        Ok(ListPage {
            tasks,
            total: page.total,
            next_cursor,
        })
    }

    /// Delete every completed task of the owner ("clear completed"); returns how many.
    pub async fn clear_completed(&self, owner: &UserId) -> Result<u64, TaskError> {
        Ok(self.store.delete_completed(owner).await?)
    }

    /// Create a task; the store assigns the id and timestamps, and `complete` starts false.
    /// Refused with `QuotaExceeded` when the owner already has the most tasks allowed; the store
    /// checks and inserts atomically, so racing creates never overshoot the quota. (Completing
    /// a recurring task is not a create: its next occurrence is always started, even at the
    /// quota, so finishing work never fails; it counts towards the quota from then on.)
    pub async fn create(&self, owner: &UserId, task: NewTask) -> Result<Task, TaskError> {
        let max = self.max_tasks_per_user;
        match self.store.create(owner, TaskEdit::from(task), max).await {
            Ok(task) => Ok(task),
            Err(StoreError::TaskLimitReached) => Err(TaskError::QuotaExceeded {
                limit: max.unwrap_or(0),
            }),
            Err(e) => Err(e.into()),
        }
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
