//! Online backup of a SQLite database file: `VACUUM INTO` a new file from a read transaction, so
//! it is safe while a server is writing (the copy is the database as of one instant, compacted),
//! then `PRAGMA integrity_check` on the copy before it is reported good.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::map_error;
use crate::store::StoreError;

/// Copy the database at `source` into the new file `target` and check the copy. Refuses a
/// `target` that exists, so a backup never overwrites anything. Returns the tasks in the copy.
pub fn backup(source: &Path, target: &Path) -> Result<i64, StoreError> {
    if target.exists() {
        return Err(StoreError::Internal(
            format!(
                "{} already exists: back up into a new file",
                target.display()
            )
            .into(),
        ));
    }
    let target_text = target
        .to_str()
        .ok_or_else(|| StoreError::Internal("the backup path must be valid UTF-8".into()))?;
    let conn = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(map_error)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(map_error)?;
    conn.execute("VACUUM INTO ?1", [target_text])
        .map_err(map_error)?;

    let copy =
        Connection::open_with_flags(target, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(map_error)?;
    let integrity: String = copy
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(map_error)?;
    if integrity != "ok" {
        return Err(StoreError::Internal(
            format!("the copy failed its integrity check: {integrity}").into(),
        ));
    }
    copy.query_row("SELECT count(*) FROM tasks", [], |r| r.get(0))
        .map_err(map_error)
}
