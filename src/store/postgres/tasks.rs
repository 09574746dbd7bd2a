//! The SQL behind `TaskStore` on PostgreSQL, and mapping a `tasks` row to a `Task`.
//!
//! Creates and deletes are one statement each; a change to a task is one transaction that
//! reads the row `FOR UPDATE` and writes it back. Timestamps come from the database clock.

use deadpool_postgres::GenericClient;
use tokio_postgres::{IsolationLevel, Row, types::ToSql};

use super::{
    PgStore, finish,
    sync::{CURRENT_XID, SNAPSHOT_XMIN, one_bigint, remember, replay},
    task_row::{all_tasks, task_from_row},
};
use crate::{
    domain::{
        Task, TaskEdit, TaskId, TaskWrite, UserId,
        list::{PageQuery, TaskPage},
        sync::{ChangeRead, Claim, Expected, Outcome, Position, StoredResponse, Written},
    },
    store::{
        NotReady, Purged, StoreError, TASK_COLUMNS, TagCount, TaskStore,
        page::{self, Arg, Dialect, DueKey, DueKind, Group, PagePlan, Statement},
        row::{EditColumns, tag_rows},
    },
};

/// The rows of one group of a page: a statement's tasks, or for a group of key statements
/// (sent together), the rows of the ids the page keeps, with those ids in order. `Corrupt`: a
/// key row could not be read.
enum GroupRows {
    Rows(Vec<Row>),
    Keyed(Vec<i64>, Vec<Row>),
    Corrupt(StoreError),
}

impl GroupRows {
    fn len(&self) -> usize {
        match self {
            Self::Rows(rows) | Self::Keyed(_, rows) => rows.len(),
            Self::Corrupt(_) => 0,
        }
    }

    fn into_tasks(self) -> Result<Vec<Task>, StoreError> {
        match self {
            Self::Rows(rows) => all_tasks(&rows),
            Self::Keyed(ids, rows) => Ok(page::in_order_of(&ids, all_tasks(&rows)?)),
            Self::Corrupt(e) => Err(e),
        }
    }
}

/// Run one group of a page of `owner`'s list, which still needs `need` tasks.
async fn run_group<C: GenericClient>(
    client: &C,
    group: &Group,
    owner: &str,
    query: &PageQuery,
    need: usize,
) -> Result<GroupRows, tokio_postgres::Error> {
    let statement = match group {
        Group::Rows(statement) => statement,
        Group::Keys(keys) => {
            let rows = futures_util::future::try_join_all(keys.iter().map(|key| async move {
                let stmt = client.prepare_cached(&key.statement.sql).await?;
                client.query(&stmt, &pg_args(&key.statement.args)).await
            }))
            .await?;
            let streams = keys
                .iter()
                .zip(&rows)
                .map(|(key, rows)| {
                    rows.iter()
                        .map(|row| match key.kind {
                            DueKind::Instant => Ok(DueKey::instant(row.get(0), row.get(1))),
                            DueKind::Day => DueKey::day(row.get(0), row.get(1)),
                        })
                        .collect::<Result<Vec<_>, StoreError>>()
                })
                .collect::<Result<Vec<_>, _>>();
            let streams = match streams {
                Ok(streams) => streams,
                Err(e) => return Ok(GroupRows::Corrupt(e)),
            };
            let ids = page::merge_keys(streams, query.sort, query.filter.zone, need);
            let stmt = client
                .prepare_cached(&page::rows_by_id(Dialect::Postgres, TASK_COLUMNS))
                .await?;
            let rows = client.query(&stmt, &[&owner, &ids]).await?;
            return Ok(GroupRows::Keyed(ids, rows));
        }
    };
    let stmt = client.prepare_cached(&statement.sql).await?;
    Ok(GroupRows::Rows(
        client.query(&stmt, &pg_args(&statement.args)).await?,
    ))
}

/// The feed horizon, the count's row and the groups' rows of one page of `owner`'s list: the
/// horizon, the count and the first group go out together (pipelined on one connection), later
/// groups only while the page is not full.
///
/// The horizon is the xmin of a snapshot taken no later than any the page is read in: its
/// statement is prepared first and polled first, so it is sent first, and the connection runs
/// statements in the order they arrive. Every change below it is in the page; following the feed
/// from it may repeat a change the page shows, never miss one.
async fn read_page<C: GenericClient>(
    client: &C,
    plan: &PagePlan,
    count: &Statement,
    owner: &str,
    query: &PageQuery,
) -> Result<(i64, Row, Vec<GroupRows>), tokio_postgres::Error> {
    let wanted = query.limit as usize + 1;
    let horizon = client
        .prepare_cached(&format!("SELECT {SNAPSHOT_XMIN}"))
        .await?;
    let horizon = one_bigint(client, &horizon);
    let count = async {
        let stmt = client.prepare_cached(&count.sql).await?;
        client.query_one(&stmt, &pg_args(&count.args)).await
    };
    let mut groups = plan.groups.iter();
    let first = groups
        .next()
        .map(|group| run_group(client, group, owner, query, wanted));
    let (horizon, count, first) = match first {
        Some(first) => {
            let (horizon, count, rows) = futures_util::try_join!(horizon, count, first)?;
            (horizon, count, Some(rows))
        }
        None => {
            let (horizon, count) = futures_util::try_join!(horizon, count)?;
            (horizon, count, None)
        }
    };
    let mut results: Vec<GroupRows> = first.into_iter().collect();
    let mut fetched: usize = results.iter().map(GroupRows::len).sum();
    for group in groups {
        if fetched >= wanted {
            break;
        }
        let rows = run_group(client, group, owner, query, wanted - fetched).await?;
        fetched += rows.len();
        results.push(rows);
    }
    Ok((horizon, count, results))
}

/// The parameters of a list statement, as tokio-postgres takes them.
fn pg_args(args: &[Arg]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter()
        .map(|arg| -> &(dyn ToSql + Sync) {
            match arg {
                Arg::Int(value) => value,
                Arg::Text(value) => value,
                Arg::Bool(value) => value,
            }
        })
        .collect()
}

/// The start of every statement that changes or removes an owner's (`$1`) tasks: it locks the
/// owner's `task_counts` row first, which a create's quota check also locks first and every
/// write's triggers update (the revision, migration 7). One order for every writer of an owner
/// (their counter row, then task rows, then `tag_counts`) so two of them never wait on each
/// other in a cycle; a delete would otherwise lock `tag_counts` (cascade) before `task_counts`,
/// and a change the other way round. An owner without the row has no task to lock.
const OWNER_FIRST: &str = "WITH owner AS MATERIALIZED (SELECT user_id FROM task_counts WHERE user_id = $1::text FOR UPDATE)";

/// The CTE `gone` that deletes the owner's (`$1`, locked by `OWNER_FIRST`) tasks matching
/// `condition` and leaves a tombstone for each, in the same statement.
fn delete_with_tombstones(condition: &str) -> String {
    format!(
        "gone AS (DELETE FROM tasks WHERE user_id = (SELECT user_id FROM owner) AND {condition} \
           RETURNING user_id, id), \
         buried AS (INSERT INTO task_tombstones (user_id, change_xid, task_id, deleted_at) \
           SELECT user_id, {CURRENT_XID}, id, {NOW_MS} FROM gone)"
    )
}

/// The database clock in epoch milliseconds (floored, like `chrono::timestamp_millis`).
const NOW_MS: &str = "floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

/// Insert a task and its `task_tags` rows in one statement (so it is atomic without an explicit
/// transaction). Parameters: see `insert_params`.
fn insert_task_sql() -> String {
    insert_sql("", "")
}

/// `insert_task_sql` that inserts nothing (and returns no row) when the owner already has `$17`
/// tasks. Its first step upserts the owner's `task_counts` row, which locks it until the
/// statement commits: concurrent creates of one owner queue there, and each reads the count the
/// previous one left (an upsert sees the latest committed row, not its snapshot's).
fn insert_task_within_limit_sql() -> String {
    insert_sql(
        "counted AS ( \
           INSERT INTO task_counts (user_id, task_count) VALUES ($1::text, 0) \
           ON CONFLICT (user_id) DO UPDATE SET task_count = task_counts.task_count \
           RETURNING task_count), ",
        "CROSS JOIN counted WHERE counted.task_count < $17::bigint",
    )
}

fn insert_sql(before: &str, admit: &str) -> String {
    format!(
        "WITH {before}clock AS (SELECT {NOW_MS} AS ms), \
         inserted AS ( \
           INSERT INTO tasks (user_id, title, description, complete, created_at, updated_at, \
             priority, tags, due_at, due_date, time_zone, recurrence, completed_at, occurrence, \
             title_key, search_text) \
           SELECT $1::text, $2::text, $3::text, $4::boolean, clock.ms, clock.ms, $5::smallint, \
             $6::text, $7::bigint, $8::text, $9::text, $10::text, $11::bigint, $12::integer, \
             $15::text, $16::text \
           FROM clock {admit} RETURNING {TASK_COLUMNS}), \
         tagged AS ( \
           INSERT INTO task_tags (user_id, tag_key, task_id, name, created_at, updated_at, \
             priority, title_key, due_at, due_date) \
           SELECT inserted.user_id, tag.key, inserted.id, tag.name, inserted.created_at, \
             inserted.updated_at, inserted.priority, $15::text, inserted.due_at, \
             inserted.due_date \
           FROM inserted, unnest($13::text[], $14::text[]) AS tag (key, name) \
           ON CONFLICT DO NOTHING) \
         SELECT {TASK_COLUMNS} FROM inserted"
    )
}

/// The values of `insert_task_sql` for `edit`, as the `occurrence`-th of its series.
struct InsertParams<'a> {
    owner: &'a str,
    edit: &'a TaskEdit,
    columns: EditColumns,
    occurrence: i32,
    keys: Vec<String>,
    names: Vec<&'a str>,
}

impl<'a> InsertParams<'a> {
    fn new(owner: &'a str, edit: &'a TaskEdit, occurrence: u32) -> Self {
        let (keys, names) = tag_rows(&edit.tags).into_iter().unzip();
        Self {
            owner,
            edit,
            columns: EditColumns::of(edit),
            occurrence: i32::try_from(occurrence).unwrap_or(i32::MAX),
            keys,
            names,
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 16] {
        [
            &self.owner,
            &self.edit.title,
            &self.edit.description,
            &self.edit.complete,
            &self.columns.priority,
            &self.columns.tags,
            &self.columns.due_at,
            &self.columns.due_date,
            &self.edit.time_zone,
            &self.edit.recurrence,
            &self.edit.completed_at_ms,
            &self.occurrence,
            &self.keys,
            &self.names,
            &self.columns.title_key,
            &self.columns.search_text,
        ]
    }
}

/// Why a change was not written, besides the database failing.
enum Failure<E> {
    /// The use case refused the change.
    Refused(E),
    /// A row could not be read back, or the idempotency key refused the write.
    Store(StoreError),
    /// The key's stored response answers instead.
    Replayed(StoredResponse),
}

/// Look up the claim's key in `tx`: `Some` when it decides the write (a replay or a refusal).
async fn replay_or_refuse<E>(
    tx: &deadpool_postgres::Transaction<'_>,
    owner: &str,
    claim: Option<&Claim>,
) -> Result<Option<Failure<E>>, tokio_postgres::Error> {
    Ok(match replay(tx, owner, claim).await? {
        Ok(None) => None,
        Ok(Some(stored)) => Some(Failure::Replayed(stored)),
        Err(e) => Some(Failure::Store(e)),
    })
}

impl PgStore {
    /// Run one statement that returns at most one task of the owner.
    async fn one_task(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Task, StoreError> {
        let client = self.client().await?;
        let reply = self
            .within_deadline(async {
                let stmt = client.prepare_cached(sql).await?;
                client.query_opt(&stmt, params).await
            })
            .await;
        finish(client, reply)?
            .as_ref()
            .map(task_from_row)
            .ok_or(StoreError::NotFound)?
    }
}

impl PgStore {
    /// The plan PostgreSQL chooses for each statement of a list (`EXPLAIN`, costs left out):
    /// the count first, then the page's statements in order. For the index-use tests and the
    /// plans written down in specs/storage.md.
    pub async fn explain_list(
        &self,
        owner: &UserId,
        query: PageQuery,
    ) -> Result<Vec<String>, StoreError> {
        let plan = page::plan(Dialect::Postgres, owner.as_str(), &query, TASK_COLUMNS);
        let client = self.client().await?;
        let reply = self
            .within_deadline(async {
                let mut plans = Vec::new();
                for statement in std::iter::once(&plan.count)
                    .chain(plan.groups.iter().flat_map(Group::statements))
                {
                    let rows = client
                        .query(
                            &format!("EXPLAIN (COSTS OFF) {}", statement.sql),
                            &pg_args(&statement.args),
                        )
                        .await?;
                    let lines: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
                    plans.push(lines.join("\n"));
                }
                Ok(plans)
            })
            .await;
        finish(client, reply)
    }
}

impl TaskStore for PgStore {
    #[tracing::instrument(name = "postgres.list", skip_all)]
    async fn list(&self, owner: &UserId, query: PageQuery) -> Result<TaskPage, StoreError> {
        let plan = page::plan(Dialect::Postgres, owner.as_str(), &query, TASK_COLUMNS);
        let read = self.totals.read(Dialect::Postgres, owner.as_str(), &plan);
        let wanted = query.limit as usize + 1;
        // A due order's keys and the rows they pick are two statements: without one snapshot, a
        // task deleted or moved between them would leave a hole in the page (filled from the
        // next stretch of the order) or a cursor placed past tasks not yet listed.
        let one_snapshot = plan.groups.iter().any(|g| matches!(g, Group::Keys(_)));
        let mut client = self.client().await?;
        let reply = self
            .within_deadline(async {
                if one_snapshot {
                    let tx = client
                        .build_transaction()
                        .isolation_level(IsolationLevel::RepeatableRead)
                        .read_only(true)
                        .start()
                        .await?;
                    let page =
                        read_page(&tx, &plan, &read.statement, owner.as_str(), &query).await?;
                    tx.commit().await?;
                    Ok(page)
                } else {
                    read_page(&client, &plan, &read.statement, owner.as_str(), &query).await
                }
            })
            .await;
        let (horizon, count, results) = finish(client, reply)?;
        let total = self.totals.settle(read, count.get(0), count.get(1))?;
        let mut tasks = Vec::new();
        for rows in results {
            page::extend_page(&mut tasks, rows.into_tasks()?);
        }
        tasks.truncate(wanted);
        Ok(TaskPage {
            tasks,
            total,
            position: Position::new(horizon, 0),
        })
    }

    #[tracing::instrument(name = "postgres.create", skip_all)]
    async fn create(
        &self,
        owner: &UserId,
        task: TaskEdit,
        max_tasks: Option<u64>,
        claim: Option<Claim>,
    ) -> Result<Written<Task>, StoreError> {
        let insert = InsertParams::new(owner.as_str(), &task, 1);
        let max = max_tasks.map(|max| i64::try_from(max).unwrap_or(i64::MAX));
        let sql = match max {
            Some(_) => insert_task_within_limit_sql(),
            None => insert_task_sql(),
        };
        let mut params = insert.params().to_vec();
        if let Some(max) = &max {
            params.push(max);
        }
        // No row back means the limit refused it: nothing else makes the insert return none.
        let Some(claim) = claim else {
            return match self.one_task(&sql, &params).await {
                Ok(task) => Ok(Written::Fresh(task)),
                Err(StoreError::NotFound) => Err(StoreError::TaskLimitReached),
                Err(e) => Err(e),
            };
        };
        // With a key: the lookup, the insert and the key's row in one transaction.
        let owner = owner.as_str();
        let mut client = self.client().await?;
        let reply = self
            .within_deadline(async {
                let tx = client.transaction().await?;
                match replay(&tx, owner, Some(&claim)).await? {
                    Ok(None) => {}
                    Ok(Some(stored)) => return Ok(Ok(Written::Replayed(stored))),
                    Err(e) => return Ok(Err(e)),
                }
                let stmt = tx.prepare_cached(&sql).await?;
                let Some(row) = tx.query_opt(&stmt, &params).await? else {
                    return Ok(Err(StoreError::TaskLimitReached));
                };
                let task = match task_from_row(&row) {
                    Ok(task) => task,
                    Err(e) => return Ok(Err(e)),
                };
                if let Err(e) = remember(&tx, owner, Some(claim), Outcome::Task(&task)).await? {
                    return Ok(Err(e));
                }
                tx.commit().await?;
                Ok(Ok(Written::Fresh(task)))
            })
            .await;
        finish(client, reply)?
    }

    #[tracing::instrument(name = "postgres.get", skip_all)]
    async fn get(&self, owner: &UserId, id: TaskId) -> Result<Task, StoreError> {
        self.one_task(
            &format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1 AND user_id = $2"),
            &[&id, &owner.as_str()],
        )
        .await
    }

    #[tracing::instrument(name = "postgres.modify", skip_all)]
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
        let mut client = self.client().await?;
        // One transaction; `FOR UPDATE` holds the row until commit, so concurrent changes to the
        // task (from any instance) are serialised and each decides on the state the last wrote.
        // Dropping the transaction without a commit (a refusal, an error) rolls it back.
        let reply = self
            .within_deadline(async {
                let tx = client.transaction().await?;
                if let Some(decided) = replay_or_refuse(&tx, owner.as_str(), claim.as_ref()).await? {
                    return Ok(Some(Err(decided)));
                }
                let select = tx
                    .prepare_cached(&format!(
                        "{OWNER_FIRST} SELECT {TASK_COLUMNS} FROM tasks \
                         WHERE user_id = (SELECT user_id FROM owner) AND id = $2 FOR UPDATE"
                    ))
                    .await?;
                let Some(row) = tx.query_opt(&select, &[&owner.as_str(), &id]).await? else {
                    return Ok(None);
                };
                let current = match task_from_row(&row) {
                    Ok(task) => task,
                    Err(e) => return Ok(Some(Err(Failure::Store(e)))),
                };
                let write = match decide(&current) {
                    Ok(write) => write,
                    Err(refusal) => return Ok(Some(Err(Failure::Refused(refusal)))),
                };
                let edit = &write.task;
                let columns = EditColumns::of(edit);
                let update = tx
                    .prepare_cached(&format!(
                        "UPDATE tasks SET title = $3::text, description = $4::text, \
                           complete = $5::boolean, updated_at = GREATEST({NOW_MS}, updated_at + 1), \
                           priority = $6::smallint, tags = $7::text, due_at = $8::bigint, \
                           due_date = $9::text, time_zone = $10::text, recurrence = $11::text, \
                           completed_at = CASE WHEN NOT $5::boolean THEN NULL \
                             WHEN complete THEN completed_at ELSE {NOW_MS} END, \
                           title_key = $12::text, search_text = $13::text, \
                           version = version + 1, change_xid = {CURRENT_XID} \
                         WHERE id = $1 AND user_id = $2 RETURNING {TASK_COLUMNS}"
                    ))
                    .await?;
                let row = tx
                    .query_one(
                        &update,
                        &[
                            &id,
                            &owner.as_str(),
                            &edit.title,
                            &edit.description,
                            &edit.complete,
                            &columns.priority,
                            &columns.tags,
                            &columns.due_at,
                            &columns.due_date,
                            &edit.time_zone,
                            &edit.recurrence,
                            &columns.title_key,
                            &columns.search_text,
                        ],
                    )
                    .await?;
                let mut task = match task_from_row(&row) {
                    Ok(task) => task,
                    Err(e) => return Ok(Some(Err(Failure::Store(e)))),
                };
                if task.tags != current.tags {
                    let (keys, names): (Vec<String>, Vec<&str>) =
                        tag_rows(&task.tags).into_iter().unzip();
                    let delete = tx
                        .prepare_cached("DELETE FROM task_tags WHERE task_id = $1")
                        .await?;
                    tx.execute(&delete, &[&id]).await?;
                    let insert = tx
                        .prepare_cached(
                            "INSERT INTO task_tags (user_id, tag_key, task_id, name, \
                               created_at, updated_at, priority, title_key, due_at, due_date) \
                             SELECT $1::text, tag.key, $2::bigint, tag.name, tasks.created_at, \
                               tasks.updated_at, tasks.priority, tasks.title_key, tasks.due_at, \
                               tasks.due_date \
                             FROM tasks, unnest($3::text[], $4::text[]) AS tag (key, name) \
                             WHERE tasks.id = $2::bigint \
                             ON CONFLICT DO NOTHING",
                        )
                        .await?;
                    tx.execute(&insert, &[&owner.as_str(), &id, &keys, &names])
                        .await?;
                }
                if let Some(next) = write.next.filter(|_| current.next_task_id.is_none()) {
                    let params = InsertParams::new(owner.as_str(), &next, current.occurrence + 1);
                    let insert = tx.prepare_cached(&insert_task_sql()).await?;
                    let next_id: TaskId = tx.query_one(&insert, &params.params()).await?.get(0);
                    let link = tx
                        .prepare_cached("UPDATE tasks SET next_task_id = $2 WHERE id = $1")
                        .await?;
                    tx.execute(&link, &[&id, &next_id]).await?;
                    task.next_task_id = Some(next_id);
                }
                if let Err(e) = remember(&tx, owner.as_str(), claim, Outcome::Task(&task)).await? {
                    return Ok(Some(Err(Failure::Store(e))));
                }
                tx.commit().await?;
                Ok(Some(Ok(task)))
            })
            .await;
        match finish(client, reply)? {
            None => Err(StoreError::NotFound),
            Some(Ok(task)) => Ok(Written::Fresh(Ok(task))),
            Some(Err(Failure::Refused(refusal))) => Ok(Written::Fresh(Err(refusal))),
            Some(Err(Failure::Replayed(stored))) => Ok(Written::Replayed(stored)),
            Some(Err(Failure::Store(e))) => Err(e),
        }
    }

    #[tracing::instrument(name = "postgres.tags", skip_all)]
    async fn tags(&self, owner: &UserId) -> Result<Vec<TagCount>, StoreError> {
        let client = self.client().await?;
        let reply = self
            .within_deadline(async {
                let stmt = client
                    .prepare_cached(
                        "SELECT MIN(name COLLATE \"C\"), COUNT(*) FROM task_tags WHERE user_id = $1 \
                         GROUP BY tag_key ORDER BY tag_key COLLATE \"C\"",
                    )
                    .await?;
                client.query(&stmt, &[&owner.as_str()]).await
            })
            .await;
        Ok(finish(client, reply)?
            .iter()
            .map(|row| TagCount {
                name: row.get(0),
                count: row.get(1),
            })
            .collect())
    }

    #[tracing::instrument(name = "postgres.delete_completed", skip_all)]
    async fn delete_completed(
        &self,
        owner: &UserId,
        claim: Option<Claim>,
    ) -> Result<Written<u64>, StoreError> {
        let sql = format!(
            "{OWNER_FIRST}, {} SELECT count(*) FROM gone",
            delete_with_tombstones("complete")
        );
        let owner = owner.as_str();
        let mut client = self.client().await?;
        let reply = self
            .within_deadline(async {
                let Some(claim) = claim else {
                    let stmt = client.prepare_cached(&sql).await?;
                    let deleted: i64 = client.query_one(&stmt, &[&owner]).await?.get(0);
                    return Ok(Ok(Written::Fresh(deleted as u64)));
                };
                let tx = client.transaction().await?;
                match replay(&tx, owner, Some(&claim)).await? {
                    Ok(None) => {}
                    Ok(Some(stored)) => return Ok(Ok(Written::Replayed(stored))),
                    Err(e) => return Ok(Err(e)),
                }
                let stmt = tx.prepare_cached(&sql).await?;
                let deleted = tx.query_one(&stmt, &[&owner]).await?.get::<_, i64>(0) as u64;
                if let Err(e) = remember(&tx, owner, Some(claim), Outcome::Cleared(deleted)).await?
                {
                    return Ok(Err(e));
                }
                tx.commit().await?;
                Ok(Ok(Written::Fresh(deleted)))
            })
            .await;
        finish(client, reply)?
    }

    #[tracing::instrument(name = "postgres.delete", skip_all)]
    async fn delete(
        &self,
        owner: &UserId,
        id: TaskId,
        expected: Option<Expected>,
        claim: Option<Claim>,
    ) -> Result<Written<Result<(), Box<Task>>>, StoreError> {
        // The version check is part of the delete's own statement: atomic with it.
        let sql = format!(
            "{OWNER_FIRST}, {} SELECT count(*) FROM gone",
            delete_with_tombstones(
                "id = $2 AND ($3::bigint[] IS NULL OR version = ANY($3::bigint[]))"
            )
        );
        let versions: Option<Vec<i64>> = match expected {
            None | Some(Expected::Any) => None,
            Some(Expected::OneOf(versions)) => Some(versions),
        };
        let owner_id = owner.as_str();
        let mut client = self.client().await?;
        let reply = self
            .within_deadline(async {
                let params: [&(dyn ToSql + Sync); 3] = [&owner_id, &id, &versions];
                let Some(claim) = claim else {
                    let stmt = client.prepare_cached(&sql).await?;
                    let deleted: i64 = client.query_one(&stmt, &params).await?.get(0);
                    return Ok(Ok(Written::Fresh(deleted > 0)));
                };
                let tx = client.transaction().await?;
                match replay(&tx, owner_id, Some(&claim)).await? {
                    Ok(None) => {}
                    Ok(Some(stored)) => return Ok(Ok(Written::Replayed(stored))),
                    Err(e) => return Ok(Err(e)),
                }
                let stmt = tx.prepare_cached(&sql).await?;
                let deleted: i64 = tx.query_one(&stmt, &params).await?.get(0);
                if deleted == 0 {
                    return Ok(Ok(Written::Fresh(false)));
                }
                if let Err(e) = remember(&tx, owner_id, Some(claim), Outcome::Deleted).await? {
                    return Ok(Err(e));
                }
                tx.commit().await?;
                Ok(Ok(Written::Fresh(true)))
            })
            .await;
        match finish(client, reply)?? {
            Written::Replayed(stored) => Ok(Written::Replayed(stored)),
            Written::Fresh(true) => Ok(Written::Fresh(Ok(()))),
            // Nothing deleted: no such task, or (with versions) another version of it, which
            // the client gets to see (`get` says which).
            Written::Fresh(false) if versions.is_some() => {
                Ok(Written::Fresh(Err(Box::new(self.get(owner, id).await?))))
            }
            Written::Fresh(false) => Err(StoreError::NotFound),
        }
    }

    #[tracing::instrument(name = "postgres.changes", skip_all)]
    async fn changes(
        &self,
        owner: &UserId,
        after: Position,
        limit: u32,
    ) -> Result<ChangeRead, StoreError> {
        self.read_changes(owner, after, limit).await
    }

    #[tracing::instrument(name = "postgres.purge", skip_all)]
    async fn purge(
        &self,
        now_ms: i64,
        tombstones_before_ms: i64,
        batch: u32,
    ) -> Result<Purged, StoreError> {
        self.purge_batch(now_ms, tombstones_before_ms, batch).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        let reply = self
            .within_deadline(async { client.simple_query("SELECT 1").await })
            .await;
        finish(client, reply).map(|_| ())
    }

    async fn ready(&self) -> Result<(), NotReady> {
        self.check_ready().await
    }
}
