//! The SQL of sync on PostgreSQL: idempotency keys locked, looked up and stored in the write's
//! transaction, the feed read below the snapshot's xmin, and the purge.
//!
//! A key is locked with a transaction-level advisory lock on a hash of (owner, key) before it
//! is looked up, so two instances running the same keyed request cannot both miss the stored
//! row: the second one's `pg_try_advisory_xact_lock` fails while the first has not finished
//! (`KeyInProgress`), and once the first has committed, the lookup sees its row.

use deadpool_postgres::{GenericClient, Transaction};
use tokio_postgres::IsolationLevel;

use super::{PgStore, finish, task_row::task_from_row};
use crate::{
    domain::{
        UserId,
        sync::{Change, ChangeRead, Claim, Outcome, Position, StoredResponse},
    },
    store::{Purged, StoreError, TASK_COLUMNS, sync_rows},
};

/// The feed position below which every transaction has finished, as a number.
pub(super) const SNAPSHOT_XMIN: &str = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint";

/// The id of the writing transaction, as a number (what `change_xid` holds).
pub(super) const CURRENT_XID: &str = "pg_current_xact_id()::text::bigint";

/// A write's result inside its transaction: the driver failed (outer), or the store refuses
/// (inner `Err`).
pub(super) type TxResult<T> = Result<Result<T, StoreError>, tokio_postgres::Error>;

/// Lock the claim's key for this transaction and return its stored response, if the owner has
/// a live one for this request: `KeyInProgress` when another transaction holds the lock,
/// `KeyReused` when the stored one is another request's.
pub(super) async fn replay(
    tx: &Transaction<'_>,
    owner: &str,
    claim: Option<&Claim>,
) -> TxResult<Option<StoredResponse>> {
    let Some(claim) = claim else {
        return Ok(Ok(None));
    };
    let lock = tx
        .prepare_cached(
            "SELECT pg_try_advisory_xact_lock(hashtextextended($1::text || chr(31) || $2::text, 0))",
        )
        .await?;
    let locked: bool = tx
        .query_one(&lock, &[&owner, &claim.key.as_str()])
        .await?
        .get(0);
    if !locked {
        return Ok(Err(StoreError::KeyInProgress));
    }
    let lookup = tx
        .prepare_cached(
            "SELECT fingerprint, status, headers, body FROM idempotency_keys \
             WHERE user_id = $1 AND key = $2 AND expires_at > $3",
        )
        .await?;
    let now = crate::domain::now_ms();
    let Some(row) = tx
        .query_opt(&lookup, &[&owner, &claim.key.as_str(), &now])
        .await?
    else {
        return Ok(Ok(None));
    };
    let fingerprint: &str = row.get(0);
    if fingerprint != claim.fingerprint {
        return Ok(Err(StoreError::KeyReused));
    }
    let status = u16::try_from(row.get::<_, i16>(1)).unwrap_or(500);
    Ok(sync_rows::stored_response(status, row.get(2), row.get(3)).map(Some))
}

/// Store the response the claim renders for `outcome` under its key (replacing an expired one).
pub(super) async fn remember(
    tx: &Transaction<'_>,
    owner: &str,
    claim: Option<Claim>,
    outcome: Outcome<'_>,
) -> TxResult<()> {
    let Some(claim) = claim else {
        return Ok(Ok(()));
    };
    let response = (claim.render)(outcome);
    let headers = match sync_rows::headers_json(&response.headers) {
        Ok(headers) => headers,
        Err(e) => return Ok(Err(e)),
    };
    let status = i16::try_from(response.status).unwrap_or(500);
    let insert = tx
        .prepare_cached(
            "INSERT INTO idempotency_keys (user_id, key, fingerprint, status, headers, body, \
               expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (user_id, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, \
               status = EXCLUDED.status, headers = EXCLUDED.headers, body = EXCLUDED.body, \
               expires_at = EXCLUDED.expires_at",
        )
        .await?;
    tx.execute(
        &insert,
        &[
            &owner,
            &claim.key.as_str(),
            &claim.fingerprint,
            &status,
            &headers,
            &response.body,
            &claim.expires_at_ms,
        ],
    )
    .await?;
    Ok(Ok(()))
}

impl PgStore {
    /// The owner's feed after `after`: one repeatable-read snapshot, whose xmin bounds what is
    /// served and is the horizon; tasks and tombstones are read together and merged.
    pub(super) async fn read_changes(
        &self,
        owner: &UserId,
        after: Position,
        limit: u32,
    ) -> Result<ChangeRead, StoreError> {
        let wanted = i64::from(limit) + 1;
        let mut client = self.client().await?;
        let reply = self
            .within_deadline(async {
                let tx = client
                    .build_transaction()
                    .isolation_level(IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start()
                    .await?;
                let state = tx
                    .prepare_cached(&format!(
                        "SELECT {SNAPSHOT_XMIN}, purged_major, purged_minor FROM sync_state"
                    ))
                    .await?;
                let tasks = tx
                    .prepare_cached(&format!(
                        "SELECT {TASK_COLUMNS}, change_xid FROM tasks \
                         WHERE user_id = $1 AND (change_xid, id) > ($2, $3) \
                           AND change_xid < {SNAPSHOT_XMIN} \
                         ORDER BY change_xid, id LIMIT $4"
                    ))
                    .await?;
                let tombstones = tx
                    .prepare_cached(&format!(
                        "SELECT change_xid, task_id, deleted_at FROM task_tombstones \
                         WHERE user_id = $1 AND (change_xid, task_id) > ($2, $3) \
                           AND change_xid < {SNAPSHOT_XMIN} \
                         ORDER BY change_xid, task_id LIMIT $4"
                    ))
                    .await?;
                let args: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
                    [&owner.as_str(), &after.major, &after.minor, &wanted];
                // One snapshot: the three statements see the same xmin and the same rows.
                let (state, tasks, tombstones) = futures_util::try_join!(
                    tx.query_one(&state, &[]),
                    tx.query(&tasks, &args),
                    tx.query(&tombstones, &args)
                )?;
                tx.commit().await?;
                Ok((state, tasks, tombstones))
            })
            .await;
        let (state, task_rows, tombstone_rows) = finish(client, reply)?;
        let mut tasks = Vec::with_capacity(task_rows.len());
        for row in &task_rows {
            let task = task_from_row(row)?;
            tasks.push((Position::new(row.get(17), task.id), Change::Task(task)));
        }
        let tombstones = tombstone_rows
            .iter()
            .map(|row| {
                let id = row.get(1);
                (
                    Position::new(row.get(0), id),
                    Change::Deleted {
                        id,
                        deleted_at_ms: row.get(2),
                    },
                )
            })
            .collect();
        Ok(ChangeRead {
            changes: sync_rows::merge(tasks, tombstones, wanted as usize),
            horizon: Position::new(state.get(0), 0),
            purged: Position::new(state.get(1), state.get(2)),
        })
    }

    /// One purge batch: expired keys, and tombstones older than the retention (moving the purge
    /// position past the latest removed), in one transaction.
    pub(super) async fn purge_batch(
        &self,
        now_ms: i64,
        tombstones_before_ms: i64,
        batch: u32,
    ) -> Result<Purged, StoreError> {
        let batch = i64::from(batch);
        let mut client = self.client().await?;
        let reply = self
            .within_deadline(async {
                let tx = client.transaction().await?;
                let keys = tx
                    .prepare_cached(
                        "DELETE FROM idempotency_keys WHERE (user_id, key) IN \
                         (SELECT user_id, key FROM idempotency_keys WHERE expires_at <= $1 \
                          LIMIT $2 FOR UPDATE SKIP LOCKED)",
                    )
                    .await?;
                let keys = tx.execute(&keys, &[&now_ms, &batch]).await?;
                let tombstones = tx
                    .prepare_cached(
                        "WITH gone AS (DELETE FROM task_tombstones WHERE (user_id, change_xid, \
                           task_id) IN (SELECT user_id, change_xid, task_id FROM task_tombstones \
                           WHERE deleted_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED) \
                           RETURNING change_xid, task_id), \
                         latest AS (SELECT change_xid, task_id FROM gone \
                           ORDER BY change_xid DESC, task_id DESC LIMIT 1), \
                         moved AS (UPDATE sync_state SET purged_major = latest.change_xid, \
                           purged_minor = latest.task_id FROM latest \
                           WHERE (purged_major, purged_minor) < (latest.change_xid, latest.task_id)) \
                         SELECT count(*) FROM gone",
                    )
                    .await?;
                let removed: i64 = tx
                    .query_one(&tombstones, &[&tombstones_before_ms, &batch])
                    .await?
                    .get(0);
                tx.commit().await?;
                Ok((keys, removed))
            })
            .await;
        let (keys, removed) = finish(client, reply)?;
        Ok(Purged {
            idempotency_keys: keys,
            tombstones: u64::try_from(removed).unwrap_or(0),
        })
    }
}

/// Run `statement` (no parameters) and read one bigint: used for the horizon of a list.
pub(super) async fn one_bigint<C: GenericClient>(
    client: &C,
    statement: &tokio_postgres::Statement,
) -> Result<i64, tokio_postgres::Error> {
    Ok(client.query_one(statement, &[]).await?.get(0))
}
