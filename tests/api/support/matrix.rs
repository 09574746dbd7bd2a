//! The SQLite/PostgreSQL matrix: `#[apply(every_backend)]` runs a test once per [`Backend`], each
//! variant reported on its own (`…::backend_1_Backend__Sqlite`, `…::backend_2_Backend__Postgres`),
//! and `spawn_or_skip!` gives the variant its server, or ends it early when the backend is not
//! available here (the PostgreSQL variants without `TEST_DATABASE_URL`; the skip is announced).
//!
//! ```ignore
//! #[apply(every_backend)]
//! #[tokio::test]
//! async fn health_reports_ok(backend: Backend) {
//!     let app = spawn_or_skip!(backend);
//!     // or, adjusting the settings first:
//!     let app = spawn_or_skip!(backend, |s| s.server.max_body_bytes = 1024);
//! }
//! ```
//!
//! The template's `#[values(Backend::Sqlite, Backend::Postgres)]` is pasted into the test where it
//! is applied (that text is what names the variants), so the test file needs `Backend` in scope.

use rstest_reuse::template;

/// Which store a test server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

// Run the test once per backend; the test takes `backend: Backend`. (A plain comment: every
// attribute here, a doc comment included, is pasted onto each test the template is applied to.)
#[template]
#[rstest::rstest]
pub fn every_backend(#[values(Backend::Sqlite, Backend::Postgres)] backend: Backend) {}

/// `TestApp::spawn_with(backend, configure)`, or `return` from the test when the backend is not
/// available here (`TestApp::spawn` has already announced the skip).
macro_rules! spawn_or_skip {
    ($backend:expr) => {
        match $crate::support::TestApp::spawn($backend).await {
            Some(app) => app,
            None => return,
        }
    };
    ($backend:expr, $configure:expr) => {
        match $crate::support::TestApp::spawn_with($backend, $configure).await {
            Some(app) => app,
            None => return,
        }
    };
}
pub(crate) use spawn_or_skip;
