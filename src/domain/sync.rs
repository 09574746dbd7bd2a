//! What clients that work together rely on, independent of HTTP and storage: a task's version
//! and the condition a write may carry on it, positions in the change feed and what the feed
//! holds, and the idempotency key of a retried write with the response stored under it.

use super::{DomainError, Task, TaskId};

/// A task's version: 1 on create, +1 on every change of any field.
pub type Version = i64;

/// Which versions of a task a conditional write (`If-Match`, `expected_version`) accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// Any version: the task only has to exist (`If-Match: *`).
    Any,
    /// One of these (an empty list accepts none: every tag sent was of another kind).
    OneOf(Vec<Version>),
}

impl Expected {
    pub fn admits(&self, version: Version) -> bool {
        match self {
            Self::Any => true,
            Self::OneOf(versions) => versions.contains(&version),
        }
    }
}

/// A place in the owner's change feed, in commit order: every change sorts after every change
/// committed before it. `major` is the writing transaction (the SQLite writer's change counter,
/// or PostgreSQL's transaction id), `minor` the task id within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    pub major: i64,
    pub minor: i64,
}

impl Position {
    /// The start of the feed: before every change.
    pub const START: Self = Self { major: 0, minor: 0 };

    pub fn new(major: i64, minor: i64) -> Self {
        Self { major, minor }
    }
}

/// One entry of the change feed: a task as it is now, or the tombstone of a deleted one.
// Most entries are tasks: boxing them would cost an allocation each to save space in the few.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Task(Task),
    Deleted { id: TaskId, deleted_at_ms: i64 },
}

impl Change {
    pub fn id(&self) -> TaskId {
        match self {
            Self::Task(task) => task.id,
            Self::Deleted { id, .. } => *id,
        }
    }
}

/// What the store read of the owner's feed after a position.
#[derive(Debug, Clone)]
pub struct ChangeRead {
    /// Up to `limit + 1` changes after the position, in feed order, with their positions (the
    /// extra one only says that more follow).
    pub changes: Vec<(Position, Change)>,
    /// Everything committed at or before this position was visible to the read: where a client
    /// that got every change continues from.
    pub horizon: Position,
    /// The latest tombstone purged: a position before it may have missed deletions.
    pub purged: Position,
}

/// Longest idempotency key, in characters.
pub const IDEMPOTENCY_KEY_MAX: usize = 255;

/// A client's idempotency key: 1..=255 visible ASCII characters. The draft's quoted form
/// (`"k1"`) and the bare form (`k1`) name the same key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let key = raw
            .strip_prefix('"')
            .and_then(|rest| rest.strip_suffix('"'))
            .unwrap_or(raw);
        let visible = |c: char| c.is_ascii_graphic() && c != '"';
        if key.is_empty() || key.len() > IDEMPOTENCY_KEY_MAX || !key.chars().all(visible) {
            return Err(DomainError::new(
                "idempotency_key_invalid",
                format!(
                    "an idempotency key is 1 to {IDEMPOTENCY_KEY_MAX} visible ASCII characters"
                ),
            ));
        }
        Ok(Self(key.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The response a write answered with, as stored under its idempotency key and replayed to a
/// retry: the status, the headers a client depends on, and the body's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What a write did, for the front door to render into the response it stores.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// The task as written (created, replaced, updated, completed).
    Task(&'a Task),
    /// The task is gone.
    Deleted,
    /// This many completed tasks were deleted.
    Cleared(u64),
}

/// Renders a write's outcome into the response stored under its key: run inside the write's
/// transaction, after the write and before the commit.
pub type Render = Box<dyn for<'a> FnOnce(Outcome<'a>) -> StoredResponse + Send + Sync>;

/// A write sent with an idempotency key: the key, a fingerprint of the request (method, path
/// and body) a retry must match, when the key expires, and how to render the response to store.
pub struct Claim {
    pub key: IdempotencyKey,
    pub fingerprint: String,
    pub expires_at_ms: i64,
    pub render: Render,
}

impl std::fmt::Debug for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claim")
            .field("key", &self.key)
            .field("fingerprint", &self.fingerprint)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish_non_exhaustive()
    }
}

/// A write's result: done now, or the stored response of the first request with the same key
/// (and nothing written).
#[derive(Debug)]
pub enum Written<T> {
    Fresh(T),
    Replayed(StoredResponse),
}

impl<T> Written<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Written<U> {
        match self {
            Self::Fresh(value) => Written::Fresh(f(value)),
            Self::Replayed(stored) => Written::Replayed(stored),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_and_bare_keys_name_the_same_key() {
        assert_eq!(
            IdempotencyKey::parse("\"k1\"").unwrap(),
            IdempotencyKey::parse("k1").unwrap()
        );
    }

    #[test]
    fn a_key_is_one_to_255_visible_ascii_characters() {
        assert!(IdempotencyKey::parse(&"a".repeat(255)).is_ok());
        for bad in ["", "\"\"", &"a".repeat(256), "a b", "é", "a\tb", "\"a\"b\""] {
            assert!(IdempotencyKey::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn positions_sort_by_transaction_then_task() {
        assert!(Position::new(1, 9) < Position::new(2, 1));
        assert!(Position::new(2, 1) < Position::new(2, 2));
        assert!(Position::START < Position::new(0, 1));
    }

    #[test]
    fn star_admits_every_version_and_a_list_only_its_own() {
        assert!(Expected::Any.admits(7));
        assert!(Expected::OneOf(vec![2, 3]).admits(3));
        assert!(!Expected::OneOf(vec![2, 3]).admits(4));
        assert!(!Expected::OneOf(vec![]).admits(1));
    }
}
