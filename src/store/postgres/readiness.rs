//! Readiness of the PostgreSQL store: the schema is this binary's, a read works and a committed
//! write to the one-row `health_probe` table works (a read-only replica, a full disk or a
//! `default_transaction_read_only` database fail it).

use super::{PgStore, finish, migrate::SCHEMA_VERSION};
use crate::store::{NotReady, StoreError};

impl PgStore {
    pub(super) async fn check_ready(&self) -> Result<(), NotReady> {
        let client = self.client().await.map_err(NotReady::Read)?;
        let reply = self
            .within_deadline(async {
                client
                    .query_one(
                        "SELECT COALESCE(MAX(version), 0) FROM todo_schema_migrations",
                        &[],
                    )
                    .await
            })
            .await;
        let found: i32 = finish(client, reply).map_err(NotReady::Read)?.get(0);
        if found != SCHEMA_VERSION as i32 {
            return Err(NotReady::Schema {
                found: found.into(),
                expected: SCHEMA_VERSION,
            });
        }
        let client = self.client().await.map_err(NotReady::Write)?;
        let reply = self
            .within_deadline(async {
                client
                    .execute(
                        "UPDATE health_probe SET checked_at = clock_timestamp() WHERE id = 1",
                        &[],
                    )
                    .await
            })
            .await;
        match finish(client, reply).map_err(NotReady::Write)? {
            1 => Ok(()),
            _ => Err(NotReady::Write(StoreError::Internal(
                "the health_probe row is missing".into(),
            ))),
        }
    }
}
