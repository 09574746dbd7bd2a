//! The liveness schema `GET /health` answers with.

use poem_openapi::{Enum, Object, types::Example};
use serde::Serialize;

/// Liveness and database reachability: `status` is `ok` when the service can serve requests,
/// `degraded` otherwise; `database` is `ok` when the database answered a round trip.
//  (No doc comments on `$ref` fields: poem-openapi would wrap the `$ref` in an `allOf`.)
#[derive(Debug, Clone, Object, Serialize)]
#[oai(rename = "Health", example)]
pub struct Health {
    pub status: HealthStatus,
    pub database: DatabaseStatus,
}

impl Example for Health {
    fn example() -> Self {
        Self {
            status: HealthStatus::Ok,
            database: DatabaseStatus::Ok,
        }
    }
}

/// The service's overall state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize)]
#[oai(rename = "HealthStatus", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Ok,
    Degraded,
}

/// The database's state: `ok` when it answered a round trip, `unavailable` otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize)]
#[oai(rename = "DatabaseStatus", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum DatabaseStatus {
    Ok,
    Unavailable,
}
