//! Readiness of the SQLite store: the schema is this binary's, a read works, a committed write
//! works, and no integrity check has found the file damaged.
//!
//! The write probe updates the one row of `health_probe` in place through the writer thread,
//! so it is committed (and, with `synchronous=FULL`, synced) like any acknowledged write: a
//! transaction rolled back instead could succeed in WAL mode without ever touching the disk.
//!
//! That probe writes a page or two, so on a disk with a little room left it passes while
//! creating a task (a row, its indexes and its search entries) fails. So the outcome of real
//! writes counts too: after a write failed for lack of room, readiness first writes and removes
//! a row the size of a large task (`ROOM_PROBE_BYTES`, two commits), and stays 503 until that
//! succeeds or a real write commits again.

use super::{SqliteStore, map_error, migrate::SCHEMA_VERSION};
use crate::{
    domain::now_ms,
    store::{NotReady, StoreError},
};

/// What the room probe writes: about what a create with a long description and its index
/// entries adds to the write-ahead log.
const ROOM_PROBE_BYTES: i64 = 64 * 1024;

impl SqliteStore {
    pub(super) async fn check_ready(&self) -> Result<(), NotReady> {
        if self.damage.get().is_some() {
            return Err(NotReady::Damaged);
        }
        let found = self
            .read(|conn| {
                let version: i64 = conn
                    .query_row("PRAGMA user_version", [], |r| r.get(0))
                    .map_err(map_error)?;
                conn.query_row(
                    "SELECT checked_at FROM health_probe WHERE id = 1",
                    [],
                    |r| r.get::<_, i64>(0),
                )
                .map_err(map_error)?;
                Ok(version)
            })
            .await;
        match found {
            Ok(found) if found == SCHEMA_VERSION as i64 => {}
            Ok(found) => {
                return Err(NotReady::Schema {
                    found,
                    expected: SCHEMA_VERSION,
                });
            }
            Err(e) => return Err(NotReady::Read(e)),
        }
        if self.out_of_room.load(std::sync::atomic::Ordering::Relaxed) {
            self.write(|conn| {
                conn.prepare_cached("UPDATE health_probe SET room = zeroblob(?1) WHERE id = 1")
                    .and_then(|mut stmt| stmt.execute([ROOM_PROBE_BYTES]))
                    .map_err(map_error)
            })
            .await
            .map_err(NotReady::Write)?;
            self.write(|conn| {
                conn.prepare_cached("UPDATE health_probe SET room = NULL WHERE id = 1")
                    .and_then(|mut stmt| stmt.execute([]))
                    .map_err(map_error)
            })
            .await
            .map_err(NotReady::Write)?;
        }
        self.write(|conn| {
            let changed = conn
                .prepare_cached("UPDATE health_probe SET checked_at = ?1 WHERE id = 1")
                .and_then(|mut stmt| stmt.execute([now_ms()]))
                .map_err(map_error)?;
            if changed == 1 {
                Ok(())
            } else {
                Err(StoreError::Internal(
                    "the health_probe row is missing".into(),
                ))
            }
        })
        .await
        .map_err(NotReady::Write)
    }

    /// Mark the file damaged (an integrity check failed): readiness fails from now on.
    pub fn mark_damaged(&self, report: String) {
        let _ = self.damage.set(report);
    }

    /// The database file.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}
