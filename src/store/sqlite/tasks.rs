//! The SQL behind `TaskStore` on SQLite, and mapping a `tasks` row to a `Task`.
//!
//! Reads run on the reader threads, writes on the writer thread (see `executor`). Timestamps
//! come from this process's clock; `updated_at = MAX(now, updated_at + 1)` keeps them strictly
//! monotonic per task even if the clock steps back.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, params};

use super::{
    SqliteStore, map_error,
    sync::{self, insert_tombstones, next_change, remember, replay},
    task_row::{all_tasks_within, task_from_row},
};
use crate::{
    domain::{
        Task, TaskEdit, TaskId, TaskWrite, UserId,
        list::{PageQuery, TaskPage},
        now_ms,
        sync::{ChangeRead, Claim, Expected, Outcome, Position, Written},
    },
    store::{
        NotReady, Purged, StoreError, TASK_COLUMNS, TagCount, TaskStore,
        page::{self, Arg, Dialect, DueKey, DueKind, Group, KeyStatement},
        row::{EditColumns, tag_rows},
    },
};

/// The parameters of a list statement, as rusqlite takes them.
fn sqlite_args(args: &[Arg]) -> impl rusqlite::Params + '_ {
    rusqlite::params_from_iter(args.iter().map(|arg| -> &dyn rusqlite::ToSql {
        match arg {
            Arg::Int(value) => value,
            Arg::Text(value) => value,
            Arg::Bool(value) => value,
        }
    }))
}

/// The (id, due) rows of a key statement, in its order.
fn due_keys(conn: &Connection, key: &KeyStatement) -> Result<Vec<DueKey>, StoreError> {
    let mut stmt = conn.prepare_cached(&key.statement.sql).map_err(map_error)?;
    let mut rows = stmt
        .query(sqlite_args(&key.statement.args))
        .map_err(map_error)?;
    let mut keys = Vec::new();
    while let Some(row) = rows.next().map_err(map_error)? {
        let id: i64 = row.get(0).map_err(map_error)?;
        keys.push(match key.kind {
            DueKind::Instant => DueKey::instant(id, row.get(1).map_err(map_error)?),
            DueKind::Day => {
                let date = row.get_ref(1).map_err(map_error)?;
                DueKey::day(id, date.as_str().map_err(|e| map_error(e.into()))?)?
            }
        });
    }
    Ok(keys)
}

/// Insert a task of `owner` with the fields of `edit` as the `occurrence`-th of its series, at
/// change `change` of the feed, and its tags.
pub(super) fn insert_task(
    conn: &Connection,
    owner: &str,
    edit: &TaskEdit,
    (occurrence, change): (u32, i64),
    now: i64,
) -> Result<Task, StoreError> {
    let columns = EditColumns::of(edit);
    let mut stmt = conn
        .prepare_cached(&format!(
            "INSERT INTO tasks (id, user_id, title, description, complete, created_at, \
               updated_at, priority, tags, due_at, due_date, time_zone, recurrence, completed_at, \
               occurrence, title_key, search_text, change_seq) \
             VALUES ((SELECT last_id + 1 FROM task_ids), ?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9, \
               ?10, ?11, ?12, ?13, ?14, ?15, ?16) \
             RETURNING {TASK_COLUMNS}"
        ))
        .map_err(map_error)?;
    let task = one_task(
        stmt.query_row(
            params![
                owner,
                edit.title,
                edit.description,
                edit.complete,
                now,
                columns.priority,
                columns.tags,
                columns.due_at,
                columns.due_date,
                edit.time_zone,
                edit.recurrence,
                edit.completed_at_ms,
                occurrence,
                columns.title_key,
                columns.search_text,
                change
            ],
            task_from_row,
        )
        .optional(),
    )?;
    insert_tags(conn, owner, task.id, &task.tags)?;
    Ok(task)
}

/// The owner's task `id`; `NotFound` when the owner has none with that id.
fn select_task(conn: &Connection, owner: &str, id: TaskId) -> Result<Task, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?1 AND user_id = ?2"
        ))
        .map_err(map_error)?;
    one_task(stmt.query_row(params![id, owner], task_from_row).optional())
}

/// How many tasks `owner` has: the counter row the `tasks` triggers keep (0 without one).
fn task_count(conn: &Connection, owner: &str) -> Result<u64, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT task_count FROM task_counts WHERE user_id = ?1")
        .map_err(map_error)?;
    let count: Option<i64> = stmt
        .query_row([owner], |row| row.get(0))
        .optional()
        .map_err(map_error)?;
    Ok(u64::try_from(count.unwrap_or(0)).unwrap_or(0))
}

/// The `task_tags` rows of one task, with the task's sort keys (migration 7): the task's row
/// must already be written.
pub(super) fn insert_tags(
    conn: &Connection,
    owner: &str,
    task_id: TaskId,
    tags: &[String],
) -> Result<(), StoreError> {
    if tags.is_empty() {
        return Ok(());
    }
    let mut stmt = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO task_tags (user_id, tag_key, task_id, name, created_at, \
             updated_at, priority, title_key, due_at, due_date) \
             SELECT ?1, ?2, ?3, ?4, created_at, updated_at, priority, title_key, due_at, due_date \
             FROM tasks WHERE user_id = ?1 AND id = ?3",
        )
        .map_err(map_error)?;
    for (key, name) in tag_rows(tags) {
        stmt.execute(params![owner, key, task_id, name])
            .map_err(map_error)?;
    }
    Ok(())
}

/// `NotFound` when the statement matched no row of this owner.
fn one_task(
    result: rusqlite::Result<Option<Result<Task, StoreError>>>,
) -> Result<Task, StoreError> {
    result.map_err(map_error)?.ok_or(StoreError::NotFound)?
}

impl SqliteStore {
    /// The plan SQLite chooses for each statement of a list (`EXPLAIN QUERY PLAN`, one line per
    /// step): the count first, then the page's statements in order. For the index-use tests and
    /// the plans written down in specs/storage.md.
    pub async fn explain_list(
        &self,
        owner: &UserId,
        query: PageQuery,
    ) -> Result<Vec<String>, StoreError> {
        let owner = owner.clone();
        self.read(move |conn| {
            let plan = page::plan(Dialect::Sqlite, owner.as_str(), &query, TASK_COLUMNS);
            std::iter::once(&plan.count)
                .chain(plan.groups.iter().flat_map(Group::statements))
                .map(|statement| {
                    let mut stmt = conn
                        .prepare(&format!("EXPLAIN QUERY PLAN {}", statement.sql))
                        .map_err(map_error)?;
                    let steps = stmt
                        .query_map(sqlite_args(&statement.args), |r| r.get::<_, String>(3))
                        .map_err(map_error)?
                        .collect::<rusqlite::Result<Vec<_>>>()
                        .map_err(map_error)?;
                    Ok(steps.join("\n"))
                })
                .collect()
        })
        .await
    }
}

impl TaskStore for SqliteStore {
    #[tracing::instrument(name = "sqlite.list", skip_all)]
    async fn list(&self, owner: &UserId, query: PageQuery) -> Result<TaskPage, StoreError> {
        let owner = owner.clone();
        let totals = Arc::clone(&self.totals);
        self.read(move |conn| {
            let plan = page::plan(Dialect::Sqlite, owner.as_str(), &query, TASK_COLUMNS);
            // One read transaction: the count and the page see the same snapshot.
            let tx = conn.unchecked_transaction().map_err(map_error)?;
            let read = totals.read(Dialect::Sqlite, owner.as_str(), &plan);
            let (revision, counted) = tx
                .prepare_cached(&read.statement.sql)
                .and_then(|mut stmt| {
                    stmt.query_row(sqlite_args(&read.statement.args), |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                })
                .map_err(map_error)?;
            let total = totals.settle(read, revision, counted)?;
            let wanted = query.limit as usize + 1;
            let mut tasks = Vec::new();
            for group in &plan.groups {
                if tasks.len() >= wanted {
                    break;
                }
                let rows = match group {
                    Group::Rows(statement) => {
                        let mut stmt = tx.prepare_cached(&statement.sql).map_err(map_error)?;
                        let rows = stmt
                            .query_map(sqlite_args(&statement.args), task_from_row)
                            .map_err(map_error)?;
                        all_tasks_within(rows, wanted)?
                    }
                    Group::Keys(keys) => {
                        let streams = keys
                            .iter()
                            .map(|key| due_keys(&tx, key))
                            .collect::<Result<Vec<_>, _>>()?;
                        let ids = page::merge_keys(
                            streams,
                            query.sort,
                            query.filter.zone,
                            wanted - tasks.len(),
                        );
                        let ids_json = serde_json::to_string(&ids).map_err(|e| {
                            StoreError::Internal(format!("task ids as JSON: {e}").into())
                        })?;
                        let mut stmt = tx
                            .prepare_cached(&page::rows_by_id(Dialect::Sqlite, TASK_COLUMNS))
                            .map_err(map_error)?;
                        let rows = stmt
                            .query_map(params![owner.as_str(), ids_json], task_from_row)
                            .map_err(map_error)?;
                        page::in_order_of(&ids, all_tasks_within(rows, ids.len())?)
                    }
                };
                page::extend_page(&mut tasks, rows);
            }
            tasks.truncate(wanted);
            let position = sync::horizon(&tx)?;
            Ok(TaskPage {
                tasks,
                total,
                position,
            })
        })
        .await
    }

    #[tracing::instrument(name = "sqlite.create", skip_all)]
    async fn create(
        &self,
        owner: &UserId,
        task: TaskEdit,
        max_tasks: Option<u64>,
        claim: Option<Claim>,
    ) -> Result<Written<Task>, StoreError> {
        let owner = owner.clone();
        // The writer thread is the only writer: nothing can insert between the count read here
        // and the insert, so concurrent creates at the limit cannot overshoot it.
        self.write(move |conn| {
            let now = now_ms();
            if let Some(stored) = replay(conn, owner.as_str(), claim.as_ref(), now)? {
                return Ok(Written::Replayed(stored));
            }
            if let Some(max) = max_tasks
                && task_count(conn, owner.as_str())? >= max
            {
                return Err(StoreError::TaskLimitReached);
            }
            let change = next_change(conn)?;
            let task = insert_task(conn, owner.as_str(), &task, (1, change), now)?;
            remember(conn, owner.as_str(), claim, Outcome::Task(&task))?;
            Ok(Written::Fresh(task))
        })
        .await
    }

    #[tracing::instrument(name = "sqlite.get", skip_all)]
    async fn get(&self, owner: &UserId, id: TaskId) -> Result<Task, StoreError> {
        let owner = owner.clone();
        self.read(move |conn| select_task(conn, owner.as_str(), id))
            .await
    }

    #[tracing::instrument(name = "sqlite.modify", skip_all)]
    async fn modify<E, F>(
        &self,
        owner: &UserId,
        id: TaskId,
        decide: F,
        claim: Option<Claim>,
    ) -> Result<Written<Result<Task, E>>, StoreError>
    where
        E: Send + 'static,
        F: FnOnce(&Task) -> Result<TaskWrite, E> + Send + 'static,
    {
        let owner = owner.clone();
        // The writer thread is the only writer, so nothing can change the row between the read
        // and the write below. `updated_at` moves forward by at least a millisecond on every
        // change, even if the clock steps back.
        self.write(move |conn| {
            if let Some(stored) = replay(conn, owner.as_str(), claim.as_ref(), now_ms())? {
                return Ok(Written::Replayed(stored));
            }
            let current = select_task(conn, owner.as_str(), id)?;
            let write = match decide(&current) {
                Ok(write) => write,
                Err(refusal) => return Ok(Written::Fresh(Err(refusal))),
            };
            // After `decide`, so `updated_at` is never before the `completed_at` it set.
            let now = now_ms();
            let change = next_change(conn)?;
            let edit = &write.task;
            let columns = EditColumns::of(edit);
            let mut update = conn
                .prepare_cached(&format!(
                    "UPDATE tasks SET title = ?3, description = ?4, complete = ?5, \
                       updated_at = MAX(?6, updated_at + 1), priority = ?7, tags = ?8, \
                       due_at = ?9, due_date = ?10, time_zone = ?11, recurrence = ?12, \
                       completed_at = ?13, title_key = ?14, search_text = ?15, \
                       version = version + 1, change_seq = ?16 \
                     WHERE id = ?1 AND user_id = ?2 RETURNING {TASK_COLUMNS}"
                ))
                .map_err(map_error)?;
            let mut task = one_task(
                update
                    .query_row(
                        params![
                            id,
                            owner.as_str(),
                            edit.title,
                            edit.description,
                            edit.complete,
                            now,
                            columns.priority,
                            columns.tags,
                            columns.due_at,
                            columns.due_date,
                            edit.time_zone,
                            edit.recurrence,
                            edit.completed_at_ms,
                            columns.title_key,
                            columns.search_text,
                            change
                        ],
                        task_from_row,
                    )
                    .optional(),
            )?;
            if task.tags != current.tags {
                conn.prepare_cached("DELETE FROM task_tags WHERE task_id = ?1")
                    .and_then(|mut stmt| stmt.execute([id]))
                    .map_err(map_error)?;
                insert_tags(conn, owner.as_str(), id, &task.tags)?;
            }
            if let Some(next) = write.next.filter(|_| current.next_task_id.is_none()) {
                let series = (current.occurrence + 1, change);
                let next = insert_task(conn, owner.as_str(), &next, series, now)?;
                conn.prepare_cached("UPDATE tasks SET next_task_id = ?2 WHERE id = ?1")
                    .and_then(|mut stmt| stmt.execute(params![id, next.id]))
                    .map_err(map_error)?;
                task.next_task_id = Some(next.id);
            }
            remember(conn, owner.as_str(), claim, Outcome::Task(&task))?;
            Ok(Written::Fresh(Ok(task)))
        })
        .await
    }

    #[tracing::instrument(name = "sqlite.delete", skip_all)]
    async fn delete(
        &self,
        owner: &UserId,
        id: TaskId,
        expected: Option<Expected>,
        claim: Option<Claim>,
    ) -> Result<Written<Result<(), Box<Task>>>, StoreError> {
        let owner = owner.clone();
        // The writer thread is the only writer: the version read here is the one deleted.
        self.write(move |conn| {
            let now = now_ms();
            if let Some(stored) = replay(conn, owner.as_str(), claim.as_ref(), now)? {
                return Ok(Written::Replayed(stored));
            }
            if let Some(expected) = expected {
                let current = select_task(conn, owner.as_str(), id)?;
                if !expected.admits(current.version) {
                    return Ok(Written::Fresh(Err(Box::new(current))));
                }
            }
            let mut stmt = conn
                .prepare_cached("DELETE FROM tasks WHERE id = ?1 AND user_id = ?2")
                .map_err(map_error)?;
            if stmt
                .execute(params![id, owner.as_str()])
                .map_err(map_error)?
                == 0
            {
                return Err(StoreError::NotFound);
            }
            let change = next_change(conn)?;
            insert_tombstones(conn, owner.as_str(), change, &[id], now)?;
            remember(conn, owner.as_str(), claim, Outcome::Deleted)?;
            Ok(Written::Fresh(Ok(())))
        })
        .await
    }

    #[tracing::instrument(name = "sqlite.delete_completed", skip_all)]
    async fn delete_completed(
        &self,
        owner: &UserId,
        claim: Option<Claim>,
    ) -> Result<Written<u64>, StoreError> {
        let owner = owner.clone();
        self.write(move |conn| {
            let now = now_ms();
            if let Some(stored) = replay(conn, owner.as_str(), claim.as_ref(), now)? {
                return Ok(Written::Replayed(stored));
            }
            let ids: Vec<TaskId> = conn
                .prepare_cached(
                    "DELETE FROM tasks WHERE user_id = ?1 AND complete = 1 RETURNING id",
                )
                .and_then(|mut stmt| {
                    stmt.query_map([owner.as_str()], |row| row.get(0))?
                        .collect()
                })
                .map_err(map_error)?;
            if !ids.is_empty() {
                let change = next_change(conn)?;
                insert_tombstones(conn, owner.as_str(), change, &ids, now)?;
            }
            let deleted = ids.len() as u64;
            remember(conn, owner.as_str(), claim, Outcome::Cleared(deleted))?;
            Ok(Written::Fresh(deleted))
        })
        .await
    }

    #[tracing::instrument(name = "sqlite.changes", skip_all)]
    async fn changes(
        &self,
        owner: &UserId,
        after: Position,
        limit: u32,
    ) -> Result<ChangeRead, StoreError> {
        let owner = owner.clone();
        self.read(move |conn| sync::read_changes(conn, owner.as_str(), after, limit))
            .await
    }

    #[tracing::instrument(name = "sqlite.purge", skip_all)]
    async fn purge(
        &self,
        now_ms: i64,
        tombstones_before_ms: i64,
        batch: u32,
    ) -> Result<Purged, StoreError> {
        self.write(move |conn| sync::purge(conn, now_ms, tombstones_before_ms, batch))
            .await
    }

    #[tracing::instrument(name = "sqlite.tags", skip_all)]
    async fn tags(&self, owner: &UserId) -> Result<Vec<TagCount>, StoreError> {
        let owner = owner.clone();
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT MIN(name), COUNT(*) FROM task_tags WHERE user_id = ?1 \
                     GROUP BY tag_key ORDER BY tag_key",
                )
                .map_err(map_error)?;
            let rows = stmt
                .query_map([owner.as_str()], |row| {
                    Ok(TagCount {
                        name: row.get(0)?,
                        count: row.get(1)?,
                    })
                })
                .map_err(map_error)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(map_error)
        })
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| {
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
                .map_err(map_error)
        })
        .await
    }

    async fn ready(&self) -> Result<(), NotReady> {
        self.check_ready().await
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::StatementStatus;

    use super::*;
    use crate::domain::list::{Sort, SortKey, TaskFilter};

    #[test]
    fn a_list_page_is_not_prepared_again_for_every_owner() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("todo.db")).unwrap();
        super::super::migrate::migrate(&mut conn).unwrap();
        for key in [SortKey::Id, SortKey::CreatedAt, SortKey::Due] {
            let query = PageQuery {
                filter: TaskFilter::default(),
                sort: Sort {
                    key,
                    descending: false,
                },
                after: None,
                limit: 100,
            };
            for owner in ["alice", "bob", "carol"] {
                let plan = page::plan(Dialect::Sqlite, owner, &query, TASK_COLUMNS);
                for statement in plan.groups.iter().flat_map(Group::statements) {
                    let mut stmt = conn.prepare_cached(&statement.sql).unwrap();
                    let rows = stmt
                        .query_map(sqlite_args(&statement.args), |_| Ok(()))
                        .unwrap()
                        .count();
                    assert_eq!(rows, 0);
                    assert_eq!(
                        stmt.get_status(StatementStatus::RePrepare),
                        0,
                        "{key:?} for {owner}: {}",
                        statement.sql
                    );
                }
            }
        }
    }
}
