//! The task use cases: what listing, creating, reading, replacing, updating, completing and
//! deleting a task means, whichever front door (REST or MCP) the request came through.
//!
//! `TaskService` is the only caller of the storage port. Rules that every front door must share
//! (at least one change in an update, the due/zone/recurrence checks of a change against the
//! stored task, the next occurrence of a recurring task on completion, conditional writes,
//! idempotent retries and the change feed) live here, never in a handler and never in SQL. Ownership is already settled when
//! a use case runs: the caller passes the authenticated owner, and every store call is scoped to it.

use std::time::Duration;

use crate::{
    domain::{
        NewTask, ScheduleError, Task, TaskChanges, TaskEdit, TaskId, TaskReplacement, TaskWrite,
        UserId, now_ms,
        sync::{Claim, Written},
    },
    store::{NotReady, Purged, StoreError, TagCount, TaskStore},
};

pub mod list;
pub mod sync;

pub use list::{ListPage, ListParams, ListRefusal, ListRequest};
pub use sync::{FeedPage, FeedParams, FeedRequest, Idempotency, WriteTerms, feed_cursor};

/// How long sync's records are kept (`sync.*` settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// How long a stored idempotency key answers retries.
    pub idempotency_keys: Duration,
    /// How long a deleted task's tombstone stays in the feed.
    pub tombstones: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            idempotency_keys: Duration::from_secs(86_400),
            tombstones: Duration::from_secs(30 * 86_400),
        }
    }
}

/// Most rows one purge batch removes of each kind: small, so no write waits long behind one.
const PURGE_BATCH: u32 = 500;

/// The purge loop of `TaskService::spawn_purge`: it stops when this drops.
pub struct PurgeTask {
    _stop: tokio::sync::watch::Sender<()>,
}

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
    /// A conditional write found another version of the task; nothing was written.
    #[error("the task has changed: it is at version {}, which the request's condition does not match", .0.version)]
    PreconditionFailed(Box<Task>),
    /// The feed cursor is older than the retained tombstones: it may have missed deletions.
    #[error(
        "this cursor is older than the changes kept: list the tasks again and follow the feed from the list's sync_cursor"
    )]
    CursorExpired,
    /// The store refused (no such task for this owner, an idempotency key in use or reused)
    /// or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The task use cases over one store. Cheap to clone: it holds a handle to the store's pool.
#[derive(Clone)]
pub struct TaskService<S> {
    store: S,
    /// Most tasks one owner may have; `None` = unlimited.
    max_tasks_per_user: Option<u64>,
    retention: Retention,
    running: sync::RunningKeys,
}

impl<S: TaskStore> TaskService<S> {
    /// The use cases over `store`, with no task quota.
    pub fn new(store: S) -> Self {
        Self {
            store,
            max_tasks_per_user: None,
            retention: Retention::default(),
            running: sync::RunningKeys::default(),
        }
    }

    /// Keep idempotency keys and tombstones as long as `retention` says.
    pub fn with_retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
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
            sync_cursor: feed_cursor(owner, page.position),
        })
    }

    /// The owner's changes after the request's cursor, in commit order: each changed task once
    /// as it is now, or its tombstone. `CursorExpired` when tombstones the cursor has not seen
    /// were purged.
    pub async fn changes(
        &self,
        owner: &UserId,
        request: FeedRequest,
    ) -> Result<FeedPage, TaskError> {
        let after = request.since.unwrap_or_default();
        let read = self.store.changes(owner, after, request.limit).await?;
        if request.since.is_some() && after < read.purged {
            return Err(TaskError::CursorExpired);
        }
        let mut changes = read.changes;
        let has_more = changes.len() > request.limit as usize;
        changes.truncate(request.limit as usize);
        let next = match changes.last() {
            Some((last, _)) if has_more => *last,
            _ => after.max(read.horizon),
        };
        Ok(FeedPage {
            changes: changes.into_iter().map(|(_, change)| change).collect(),
            next_cursor: feed_cursor(owner, next),
            has_more,
        })
    }

    /// Remove expired idempotency keys and tombstones past their retention, a small batch at a
    /// time until none is left; returns how many of each.
    pub async fn purge_expired(&self) -> Result<Purged, TaskError> {
        let mut total = Purged::default();
        loop {
            let now = now_ms();
            let retained = i64::try_from(self.retention.tombstones.as_millis()).unwrap_or(i64::MAX);
            let batch = self
                .store
                .purge(now, now.saturating_sub(retained), PURGE_BATCH)
                .await?;
            total.idempotency_keys += batch.idempotency_keys;
            total.tombstones += batch.tombstones;
            if batch.idempotency_keys < u64::from(PURGE_BATCH)
                && batch.tombstones < u64::from(PURGE_BATCH)
            {
                return Ok(total);
            }
            tokio::task::yield_now().await;
        }
    }

    /// Purge every `every` (first after one interval) until the returned guard drops; a failed
    /// purge is logged and tried again next time.
    pub fn spawn_purge(&self, every: Duration) -> PurgeTask {
        let (stop, mut stopped) = tokio::sync::watch::channel(());
        let service = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    // The guard dropped: the app is gone.
                    _ = stopped.changed() => return,
                }
                match service.purge_expired().await {
                    Ok(purged) if purged != Purged::default() => tracing::debug!(
                        keys = purged.idempotency_keys,
                        tombstones = purged.tombstones,
                        "purged expired idempotency keys and tombstones"
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "purging expired sync records failed"),
                }
            }
        });
        PurgeTask { _stop: stop }
    }

    /// Delete every completed task of the owner ("clear completed"); returns how many.
    pub async fn clear_completed(
        &self,
        owner: &UserId,
        idempotency: Option<Idempotency>,
    ) -> Result<Written<u64>, TaskError> {
        let (claim, _running) = self.claim(owner, idempotency)?;
        Ok(self.store.delete_completed(owner, claim).await?)
    }

    /// The store's claim for a keyed write, and the mark that the key is running here (held
    /// until the write has its answer). `KeyInProgress` when it already is.
    fn claim(
        &self,
        owner: &UserId,
        idempotency: Option<Idempotency>,
    ) -> Result<(Option<Claim>, Option<sync::RunningKey>), TaskError> {
        let Some(idempotency) = idempotency else {
            return Ok((None, None));
        };
        let running = self
            .running
            .start(owner, &idempotency.key)
            .ok_or(StoreError::KeyInProgress)?;
        let ttl = i64::try_from(self.retention.idempotency_keys.as_millis()).unwrap_or(i64::MAX);
        let claim = Claim {
            key: idempotency.key,
            fingerprint: idempotency.fingerprint,
            expires_at_ms: now_ms().saturating_add(ttl),
            render: idempotency.render,
        };
        Ok((Some(claim), Some(running)))
    }

    /// Create a task; the store assigns the id and timestamps, and `complete` starts false.
    /// Refused with `QuotaExceeded` when the owner already has the most tasks allowed; the store
    /// checks and inserts atomically, so racing creates never overshoot the quota. (Completing
    /// a recurring task is not a create: its next occurrence is always started, even at the
    /// quota, so finishing work never fails; it counts towards the quota from then on.)
    pub async fn create(
        &self,
        owner: &UserId,
        task: NewTask,
        idempotency: Option<Idempotency>,
    ) -> Result<Written<Task>, TaskError> {
        let max = self.max_tasks_per_user;
        let (claim, _running) = self.claim(owner, idempotency)?;
        match self
            .store
            .create(owner, TaskEdit::from(task), max, claim)
            .await
        {
            Ok(written) => Ok(written),
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
        terms: WriteTerms,
    ) -> Result<Written<Task>, TaskError> {
        self.apply(owner, id, replacement.into(), terms).await
    }

    /// Change the fields that are set; at least one must be.
    pub async fn update(
        &self,
        owner: &UserId,
        id: TaskId,
        changes: TaskChanges,
        terms: WriteTerms,
    ) -> Result<Written<Task>, TaskError> {
        if changes.is_empty() {
            return Err(TaskError::NothingToChange);
        }
        self.apply(owner, id, changes, terms).await
    }

    /// Flip `complete` atomically: two concurrent toggles cancel out rather than collide.
    pub async fn toggle_complete(
        &self,
        owner: &UserId,
        id: TaskId,
        terms: WriteTerms,
    ) -> Result<Written<Task>, TaskError> {
        self.change(owner, id, terms, |task| {
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
        terms: WriteTerms,
    ) -> Result<Written<Task>, TaskError> {
        let changes = TaskChanges {
            complete: Some(done),
            ..TaskChanges::default()
        };
        self.apply(owner, id, changes, terms).await
    }

    /// Delete a task for good; its id is never reused, and the feed keeps its tombstone.
    pub async fn delete(
        &self,
        owner: &UserId,
        id: TaskId,
        terms: WriteTerms,
    ) -> Result<Written<()>, TaskError> {
        let (claim, _running) = self.claim(owner, terms.idempotency)?;
        match self.store.delete(owner, id, terms.expected, claim).await? {
            Written::Fresh(Err(current)) => Err(TaskError::PreconditionFailed(current)),
            Written::Fresh(Ok(())) => Ok(Written::Fresh(())),
            Written::Replayed(stored) => Ok(Written::Replayed(stored)),
        }
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
        terms: WriteTerms,
    ) -> Result<Written<Task>, TaskError> {
        if changes.changes_schedule() {
            self.check_schedule(owner, id, changes.clone()).await?;
        }
        self.change(owner, id, terms, move |task| {
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

    /// Read, decide and write one task in one store transaction; with an expected version,
    /// the check is part of the decision, so it is atomic with the write.
    async fn change<F>(
        &self,
        owner: &UserId,
        id: TaskId,
        terms: WriteTerms,
        decide: F,
    ) -> Result<Written<Task>, TaskError>
    where
        F: FnOnce(&Task) -> Result<TaskWrite, TaskError> + Send + 'static,
    {
        let (claim, _running) = self.claim(owner, terms.idempotency)?;
        let expected = terms.expected;
        let decide = move |task: &Task| {
            if let Some(expected) = &expected
                && !expected.admits(task.version)
            {
                return Err(TaskError::PreconditionFailed(Box::new(task.clone())));
            }
            decide(task)
        };
        match self.store.modify(owner, id, decide, claim).await? {
            Written::Fresh(Ok(task)) => Ok(Written::Fresh(task)),
            Written::Fresh(Err(refusal)) => Err(refusal),
            Written::Replayed(stored) => Ok(Written::Replayed(stored)),
        }
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
