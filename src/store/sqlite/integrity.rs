//! Integrity checks of a SQLite file: SQLite's own `PRAGMA quick_check` (every page and
//! record readable and well-formed, bounded in time at start-up) or the slower
//! `PRAGMA integrity_check` (also every index against its table), so a damaged file is reported
//! once, up front, instead of being discovered one 500 at a time.

use std::{path::Path, sync::mpsc, time::Duration};

use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::map_error;
use crate::store::StoreError;

/// Most problems listed (SQLite stops looking after this many).
const MAX_PROBLEMS: u32 = 100;

/// How thorough a check is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckDepth {
    /// `PRAGMA quick_check`: O(N), skips matching indexes against tables.
    Quick,
    /// `PRAGMA integrity_check`: also checks that every index matches its table.
    Full,
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Integrity {
    /// No problem.
    Ok,
    /// SQLite's own descriptions of what is wrong (or the error that stopped the check).
    Damaged(Vec<String>),
    /// The time limit ran out before the check finished.
    Unfinished,
}

/// Check the database file at `path` without writing to it; give up after `limit` if set.
/// Blocks: call it off the async runtime.
pub fn check(
    path: &Path,
    depth: CheckDepth,
    limit: Option<Duration>,
) -> Result<Integrity, StoreError> {
    if !path.exists() {
        return Err(StoreError::Unavailable(format!(
            "{} does not exist",
            path.display()
        )));
    }
    // Read-write without create: SQLite falls back to read-only for a write-protected file,
    // and a WAL database needs its -shm file, which a read-only open cannot create.
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(map_error)?;
    conn.execute_batch("PRAGMA query_only = 1; PRAGMA busy_timeout = 5000;")
        .map_err(map_error)?;
    let (done, finished) = mpsc::channel::<()>();
    if let Some(limit) = limit {
        let interrupt = conn.get_interrupt_handle();
        std::thread::Builder::new()
            .name("sqlite-check-timer".into())
            .spawn(move || {
                if let Err(mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(limit) {
                    interrupt.interrupt();
                }
            })
            .map_err(|e| StoreError::Internal(Box::new(e)))?;
    }
    let pragma = match depth {
        CheckDepth::Quick => "quick_check",
        CheckDepth::Full => "integrity_check",
    };
    let outcome = run(&conn, &format!("PRAGMA {pragma}({MAX_PROBLEMS})"));
    drop(done);
    match outcome {
        Ok(lines) if lines == ["ok"] => Ok(Integrity::Ok),
        Ok(lines) => Ok(Integrity::Damaged(lines)),
        Err(rusqlite::Error::SqliteFailure(f, _)) if f.code == ErrorCode::OperationInterrupted => {
            Ok(Integrity::Unfinished)
        }
        Err(e @ rusqlite::Error::SqliteFailure(f, _))
            if matches!(f.code, ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) =>
        {
            Ok(Integrity::Damaged(vec![e.to_string()]))
        }
        Err(e) => Err(map_error(e)),
    }
}

/// The check's report, one line per problem: SQLite puts several lines in one row at times
/// (`*** in database main ***` and the problems under it).
fn run(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    let mut lines = Vec::new();
    for row in rows {
        lines.extend(row?.lines().filter(|l| !l.is_empty()).map(str::to_owned));
    }
    Ok(lines)
}
