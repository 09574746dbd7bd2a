//! Data moves on PostgreSQL (`BulkTasks`): reading every task in id order, the identity
//! sequence's high water, and importing into an empty database in one transaction that holds
//! an exclusive lock on `tasks`.

use deadpool_postgres::Object;

use super::{PgStore, finish, map_error, task_row::all_tasks};
use crate::{
    domain::{Task, TaskId},
    store::{
        StoreError, TASK_COLUMNS, import_target_not_empty,
        row::{EditColumns, tag_rows},
        transfer::{BulkTasks, TaskImport},
    },
};

impl BulkTasks for PgStore {
    type Import = PgImport;

    async fn tasks_after(&self, after: TaskId, limit: i64) -> Result<Vec<Task>, StoreError> {
        let client = self.client().await?;
        let reply = self
            .within_deadline(async {
                let stmt = client
                    .prepare_cached(&format!(
                        "SELECT {TASK_COLUMNS} FROM tasks WHERE id > $1 ORDER BY id LIMIT $2"
                    ))
                    .await?;
                client.query(&stmt, &[&after, &limit]).await
            })
            .await;
        all_tasks(&finish(client, reply)?)
    }

    async fn id_high_water(&self) -> Result<TaskId, StoreError> {
        let client = self.client().await?;
        let reply = self
            .within_deadline(async {
                client
                    .query_one(
                        "SELECT COALESCE(pg_sequence_last_value(\
                           pg_get_serial_sequence('tasks', 'id')::regclass), 0)",
                        &[],
                    )
                    .await
            })
            .await;
        Ok(finish(client, reply)?.get(0))
    }

    async fn begin_import(&self) -> Result<PgImport, StoreError> {
        let client = self.client().await?;
        let started = async {
            client
                .batch_execute(
                    "BEGIN; SET LOCAL statement_timeout = 0; LOCK TABLE tasks IN EXCLUSIVE MODE",
                )
                .await?;
            client
                .query_one("SELECT EXISTS (SELECT 1 FROM tasks)", &[])
                .await
        }
        .await;
        match started {
            Ok(row) if row.get::<_, bool>(0) => {
                drop(Object::take(client));
                Err(import_target_not_empty())
            }
            Ok(_) => Ok(PgImport {
                client: Some(client),
            }),
            Err(e) => {
                drop(Object::take(client));
                Err(map_error(e))
            }
        }
    }
}

/// An import in progress: one transaction holding an exclusive lock on `tasks`, so the data
/// appears all at once or not at all. Dropping it without `commit` rolls everything back.
pub struct PgImport {
    client: Option<Object>,
}

impl PgImport {
    fn abort(&mut self, e: tokio_postgres::Error) -> StoreError {
        if let Some(client) = self.client.take() {
            drop(Object::take(client));
        }
        map_error(e)
    }
}

impl TaskImport for PgImport {
    async fn insert(&mut self, tasks: Vec<Task>) -> Result<(), StoreError> {
        let client = self.client.as_ref().expect("import still open");
        let ids: Vec<i64> = tasks.iter().map(|t| t.id).collect();
        let users: Vec<&str> = tasks.iter().map(|t| t.user_id.as_str()).collect();
        let titles: Vec<&str> = tasks.iter().map(|t| t.title.as_str()).collect();
        let descriptions: Vec<Option<&str>> =
            tasks.iter().map(|t| t.description.as_deref()).collect();
        let completes: Vec<bool> = tasks.iter().map(|t| t.complete).collect();
        let created: Vec<i64> = tasks.iter().map(|t| t.created_at_ms).collect();
        let updated: Vec<i64> = tasks.iter().map(|t| t.updated_at_ms).collect();
        let columns: Vec<EditColumns> = tasks.iter().map(EditColumns::of_task).collect();
        let priorities: Vec<i16> = columns.iter().map(|c| c.priority).collect();
        let tags: Vec<&str> = columns.iter().map(|c| c.tags.as_str()).collect();
        let due_ats: Vec<Option<i64>> = columns.iter().map(|c| c.due_at).collect();
        let due_dates: Vec<Option<&str>> = columns.iter().map(|c| c.due_date.as_deref()).collect();
        let zones: Vec<Option<&str>> = tasks.iter().map(|t| t.time_zone.as_deref()).collect();
        let rules: Vec<Option<&str>> = tasks.iter().map(|t| t.recurrence.as_deref()).collect();
        let completed: Vec<Option<i64>> = tasks.iter().map(|t| t.completed_at_ms).collect();
        let occurrences: Vec<i32> = tasks
            .iter()
            .map(|t| i32::try_from(t.occurrence).unwrap_or(i32::MAX))
            .collect();
        let next_ids: Vec<Option<i64>> = tasks.iter().map(|t| t.next_task_id).collect();
        let versions: Vec<i64> = tasks.iter().map(|t| t.version).collect();
        let title_keys: Vec<&str> = columns.iter().map(|c| c.title_key.as_str()).collect();
        let search_texts: Vec<&str> = columns.iter().map(|c| c.search_text.as_str()).collect();
        let (mut tag_owners, mut tag_keys, mut tag_tasks, mut tag_names) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for t in &tasks {
            for (key, name) in tag_rows(&t.tags) {
                tag_owners.push(t.user_id.as_str());
                tag_keys.push(key);
                tag_tasks.push(t.id);
                tag_names.push(name);
            }
        }
        let result = async {
            client
                .execute(
                    &format!(
                        "INSERT INTO tasks ({TASK_COLUMNS}, title_key, search_text) \
                         OVERRIDING SYSTEM VALUE \
                         SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], \
                           $5::boolean[], $6::bigint[], $7::bigint[], $8::smallint[], $9::text[], \
                           $10::bigint[], $11::text[], $12::text[], $13::text[], $14::bigint[], \
                           $15::integer[], $16::bigint[], $17::bigint[], $18::text[], $19::text[])"
                    ),
                    &[
                        &ids,
                        &users,
                        &titles,
                        &descriptions,
                        &completes,
                        &created,
                        &updated,
                        &priorities,
                        &tags,
                        &due_ats,
                        &due_dates,
                        &zones,
                        &rules,
                        &completed,
                        &occurrences,
                        &next_ids,
                        &versions,
                        &title_keys,
                        &search_texts,
                    ],
                )
                .await?;
            client
                .execute(
                    "INSERT INTO task_tags (user_id, tag_key, task_id, name, created_at, \
                       updated_at, priority, title_key, due_at, due_date) \
                     SELECT tag.user_id, tag.key, tag.task_id, tag.name, tasks.created_at, \
                       tasks.updated_at, tasks.priority, tasks.title_key, tasks.due_at, \
                       tasks.due_date \
                     FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) \
                       AS tag (user_id, key, task_id, name) \
                     JOIN tasks ON tasks.id = tag.task_id \
                     ON CONFLICT DO NOTHING",
                    &[&tag_owners, &tag_keys, &tag_tasks, &tag_names],
                )
                .await
        }
        .await;
        result.map(|_| ()).map_err(|e| self.abort(e))
    }

    /// Move the id sequence past `high_water`, past every imported id and never backwards
    /// (the target may have handed out ids before, to tasks deleted since), then commit.
    async fn commit(mut self, high_water: TaskId) -> Result<(), StoreError> {
        let client = self.client.as_ref().expect("import still open");
        let result = async {
            client
                .execute(
                    "SELECT setval(seq, GREATEST(v, 1), v > 0) FROM (\
                       SELECT seq, GREATEST($1::bigint, \
                                (SELECT COALESCE(MAX(id), 0) FROM tasks), \
                                COALESCE(pg_sequence_last_value(seq::regclass), 0)) AS v \
                       FROM (SELECT pg_get_serial_sequence('tasks', 'id') AS seq) AS named\
                     ) AS target",
                    &[&high_water],
                )
                .await?;
            client.batch_execute("COMMIT").await
        }
        .await;
        match result {
            Ok(()) => {
                self.client.take();
                Ok(())
            }
            Err(e) => Err(self.abort(e)),
        }
    }
}

impl Drop for PgImport {
    fn drop(&mut self) {
        // Never hand a connection with an open transaction back to the pool: closing it rolls
        // the transaction back.
        if let Some(client) = self.client.take() {
            drop(Object::take(client));
        }
    }
}
