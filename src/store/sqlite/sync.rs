//! The SQL of sync on SQLite: the change counter every write takes, tombstones, idempotency
//! keys stored and replayed in the write's transaction, the feed read, and the purge.
//!
//! Every function here runs on the writer thread (writes) or a reader thread (the feed), inside
//! the job's transaction: the writer thread is the only writer, so the counter orders changes
//! exactly as they commit, and a key's lookup and its store cannot interleave with another
//! write's.

use rusqlite::{Connection, OptionalExtension, params};

use super::{map_error, task_row::task_from_row};
use crate::{
    domain::{
        TaskId,
        sync::{Change, ChangeRead, Claim, Outcome, Position, StoredResponse},
    },
    store::{Purged, StoreError, TASK_COLUMNS, sync_rows},
};

/// Take the next change counter: every task this write transaction changes gets it as its
/// feed position's major part.
pub(super) fn next_change(conn: &Connection) -> Result<i64, StoreError> {
    conn.prepare_cached("UPDATE sync_state SET change_seq = change_seq + 1 RETURNING change_seq")
        .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
        .map_err(map_error)
}

/// The position everything committed so far sorts at or before: the last counter given.
pub(super) fn horizon(conn: &Connection) -> Result<Position, StoreError> {
    let seq: i64 = conn
        .prepare_cached("SELECT change_seq FROM sync_state")
        .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
        .map_err(map_error)?;
    Ok(Position::new(seq, i64::MAX))
}

/// Record the deletion of the owner's tasks `ids` at change `seq`.
pub(super) fn insert_tombstones(
    conn: &Connection,
    owner: &str,
    seq: i64,
    ids: &[TaskId],
    now_ms: i64,
) -> Result<(), StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO task_tombstones (user_id, change_seq, task_id, deleted_at) \
             VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(map_error)?;
    for id in ids {
        stmt.execute(params![owner, seq, id, now_ms])
            .map_err(map_error)?;
    }
    Ok(())
}

/// The stored response for the claim's key, if the owner has a live one: `Some` to replay it
/// (the request matches), `KeyReused` when it was stored for another request.
pub(super) fn replay(
    conn: &Connection,
    owner: &str,
    claim: Option<&Claim>,
    now_ms: i64,
) -> Result<Option<StoredResponse>, StoreError> {
    let Some(claim) = claim else {
        return Ok(None);
    };
    let stored = conn
        .prepare_cached(
            "SELECT fingerprint, status, headers, body FROM idempotency_keys \
             WHERE user_id = ?1 AND key = ?2 AND expires_at > ?3",
        )
        .and_then(|mut stmt| {
            stmt.query_row(params![owner, claim.key.as_str(), now_ms], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, u16>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, Vec<u8>>(3)?,
                ))
            })
            .optional()
        })
        .map_err(map_error)?;
    match stored {
        None => Ok(None),
        Some((fingerprint, _, _, _)) if fingerprint != claim.fingerprint => {
            Err(StoreError::KeyReused)
        }
        Some((_, status, headers, body)) => {
            Ok(Some(sync_rows::stored_response(status, &headers, body)?))
        }
    }
}

/// Store the response the claim renders for `outcome` under its key (replacing an expired one).
pub(super) fn remember(
    conn: &Connection,
    owner: &str,
    claim: Option<Claim>,
    outcome: Outcome<'_>,
) -> Result<(), StoreError> {
    let Some(claim) = claim else {
        return Ok(());
    };
    let response = (claim.render)(outcome);
    let headers = sync_rows::headers_json(&response.headers)?;
    conn.prepare_cached(
        "INSERT INTO idempotency_keys (user_id, key, fingerprint, status, headers, body, \
           expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
         ON CONFLICT (user_id, key) DO UPDATE SET fingerprint = excluded.fingerprint, \
           status = excluded.status, headers = excluded.headers, body = excluded.body, \
           expires_at = excluded.expires_at",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            owner,
            claim.key.as_str(),
            claim.fingerprint,
            response.status,
            headers,
            response.body,
            claim.expires_at_ms
        ])
    })
    .map_err(map_error)?;
    Ok(())
}

/// The owner's feed after `after`, read in one transaction: up to `limit + 1` changes (tasks
/// and tombstones merged in position order), the horizon and the purge position.
pub(super) fn read_changes(
    conn: &Connection,
    owner: &str,
    after: Position,
    limit: u32,
) -> Result<ChangeRead, StoreError> {
    let tx = conn.unchecked_transaction().map_err(map_error)?;
    let wanted = i64::from(limit) + 1;
    let (seq, purged): (i64, Position) = tx
        .prepare_cached("SELECT change_seq, purged_major, purged_minor FROM sync_state")
        .and_then(|mut stmt| {
            stmt.query_row([], |row| {
                Ok((row.get(0)?, Position::new(row.get(1)?, row.get(2)?)))
            })
        })
        .map_err(map_error)?;
    // Walk whichever is shorter: every change since the cursor (the index by change_seq, for a
    // client that polls), or the owner's own tasks (sorted, for one far behind or starting).
    let catching_up = seq.saturating_sub(after.major);
    let owned: i64 = tx
        .prepare_cached("SELECT task_count FROM task_counts WHERE user_id = ?1")
        .and_then(|mut stmt| stmt.query_row([owner], |row| row.get(0)).optional())
        .map_err(map_error)?
        .unwrap_or(0);
    let by = if catching_up <= owned.max(wanted) {
        "INDEXED BY tasks_changes"
    } else {
        "INDEXED BY tasks_user_created"
    };
    let mut tasks = Vec::new();
    {
        let mut stmt = tx
            .prepare_cached(&format!(
                "SELECT {TASK_COLUMNS}, change_seq FROM tasks {by} \
                 WHERE user_id = ?1 AND (change_seq, id) > (?2, ?3) \
                 ORDER BY change_seq, id LIMIT ?4"
            ))
            .map_err(map_error)?;
        let mut rows = stmt
            .query(params![owner, after.major, after.minor, wanted])
            .map_err(map_error)?;
        while let Some(row) = rows.next().map_err(map_error)? {
            let task = task_from_row(row).map_err(map_error)??;
            let major: i64 = row.get(17).map_err(map_error)?;
            tasks.push((Position::new(major, task.id), Change::Task(task)));
        }
    }
    let mut tombstones = Vec::new();
    {
        let mut stmt = tx
            .prepare_cached(
                "SELECT change_seq, task_id, deleted_at FROM task_tombstones \
                 WHERE user_id = ?1 AND (change_seq, task_id) > (?2, ?3) \
                 ORDER BY change_seq, task_id LIMIT ?4",
            )
            .map_err(map_error)?;
        let rows = stmt
            .query_map(params![owner, after.major, after.minor, wanted], |row| {
                let (major, id, at): (i64, i64, i64) = (row.get(0)?, row.get(1)?, row.get(2)?);
                Ok((
                    Position::new(major, id),
                    Change::Deleted {
                        id,
                        deleted_at_ms: at,
                    },
                ))
            })
            .map_err(map_error)?;
        for row in rows {
            tombstones.push(row.map_err(map_error)?);
        }
    }
    Ok(ChangeRead {
        changes: sync_rows::merge(tasks, tombstones, wanted as usize),
        horizon: Position::new(seq, i64::MAX),
        purged,
    })
}

/// One purge batch: expired keys, and tombstones older than the retention (moving the purge
/// position past the latest removed).
pub(super) fn purge(
    conn: &Connection,
    now_ms: i64,
    tombstones_before_ms: i64,
    batch: u32,
) -> Result<Purged, StoreError> {
    let keys = conn
        .prepare_cached(
            "DELETE FROM idempotency_keys WHERE (user_id, key) IN \
             (SELECT user_id, key FROM idempotency_keys WHERE expires_at <= ?1 LIMIT ?2)",
        )
        .and_then(|mut stmt| stmt.execute(params![now_ms, batch]))
        .map_err(map_error)?;
    let removed: Vec<(i64, i64)> = conn
        .prepare_cached(
            "DELETE FROM task_tombstones WHERE (user_id, change_seq, task_id) IN \
             (SELECT user_id, change_seq, task_id FROM task_tombstones \
              WHERE deleted_at < ?1 LIMIT ?2) \
             RETURNING change_seq, task_id",
        )
        .and_then(|mut stmt| {
            stmt.query_map(params![tombstones_before_ms, batch], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?
            .collect()
        })
        .map_err(map_error)?;
    if let Some(&(major, minor)) = removed.iter().max() {
        conn.prepare_cached(
            "UPDATE sync_state SET purged_major = ?1, purged_minor = ?2 \
             WHERE (purged_major, purged_minor) < (?1, ?2)",
        )
        .and_then(|mut stmt| stmt.execute(params![major, minor]))
        .map_err(map_error)?;
    }
    Ok(Purged {
        idempotency_keys: keys as u64,
        tombstones: removed.len() as u64,
    })
}
