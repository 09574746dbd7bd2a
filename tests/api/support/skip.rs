//! Loud skips: a test that cannot run here (no `TEST_DATABASE_URL`, no `node`) returns early
//! and says so once per run, on stderr past libtest's output capture, so a skip never passes
//! silently.

use std::{io::Write, sync::OnceLock};

/// Print `message` once per `flag`, past libtest's output capture, so a skip is visible in every
/// `cargo test` run.
pub fn announce_once(flag: &'static OnceLock<()>, message: &str) {
    if flag.set(()).is_ok() {
        let _ = writeln!(std::io::stderr().lock(), "\n{message}\n");
    }
}
