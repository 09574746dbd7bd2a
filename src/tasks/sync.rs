//! Sync as a use case: the terms a write may carry (an expected version, an idempotency key),
//! the keys running in this process, and the change feed's request and cursor.
//!
//! A feed cursor is a position in the owner's feed, sealed like a list cursor: base64url JSON
//! with a fingerprint of the owner, so another user's cursor is refused (400) and an edited one
//! can only move the client's own position.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex, PoisonError},
};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

use super::list::{ListRefusal, ParamIssue, fingerprint};
use crate::domain::{
    UserId,
    sync::{Change, Expected, IdempotencyKey, Position, Render},
};

/// Changes per feed page when the request names no limit.
pub const DEFAULT_FEED_LIMIT: u32 = 100;
/// Most changes per feed page.
pub const MAX_FEED_LIMIT: u32 = 1000;

/// What a front door asks of a keyed write: the key, a fingerprint of the request a retry must
/// match (the door decides what "the same request" is: method, path and body for REST), and
/// how to render the outcome into the response stored under the key.
pub struct Idempotency {
    pub key: IdempotencyKey,
    pub fingerprint: String,
    pub render: Render,
}

/// The terms of a write besides its content: both optional, and without them a write behaves
/// as it always did.
#[derive(Default)]
pub struct WriteTerms {
    /// Only write if the task's version is admitted (`If-Match`, `expected_version`).
    pub expected: Option<Expected>,
    /// Store the response under this key, and replay it to retries.
    pub idempotency: Option<Idempotency>,
}

impl WriteTerms {
    pub fn new(expected: Option<Expected>, idempotency: Option<Idempotency>) -> Self {
        Self {
            expected,
            idempotency,
        }
    }
}

/// The idempotency keys with a write running in this process. A retry that arrives while the
/// first is still running is refused at once (`KeyInProgress`) instead of queueing behind it;
/// across instances on one PostgreSQL database the store's advisory lock says the same.
#[derive(Clone, Default)]
pub(super) struct RunningKeys(Arc<Mutex<HashSet<(UserId, IdempotencyKey)>>>);

impl RunningKeys {
    /// Mark the key running until the returned guard drops; `None` if it already is.
    pub(super) fn start(&self, owner: &UserId, key: &IdempotencyKey) -> Option<RunningKey> {
        let entry = (owner.clone(), key.clone());
        let fresh = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(entry.clone());
        fresh.then(|| RunningKey {
            keys: self.clone(),
            entry,
        })
    }
}

/// A key marked running; dropping it (when the write has an answer) clears the mark.
pub(super) struct RunningKey {
    keys: RunningKeys,
    entry: (UserId, IdempotencyKey),
}

impl Drop for RunningKey {
    fn drop(&mut self) {
        self.keys
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.entry);
    }
}

/// A feed request as a front door received it: both values as text.
#[derive(Debug, Clone, Default)]
pub struct FeedParams {
    pub since: Option<String>,
    pub limit: Option<String>,
}

/// A valid feed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedRequest {
    /// Where to continue; `None` for the start of the feed.
    pub since: Option<Position>,
    pub limit: u32,
}

impl FeedRequest {
    /// Apply the rules to `params` for `owner`: a limit of 1..=1000, a cursor of this owner's.
    pub fn parse(owner: &UserId, params: &FeedParams) -> Result<Self, ListRefusal> {
        let limit = match params.limit.as_deref() {
            None => DEFAULT_FEED_LIMIT,
            Some(raw) => match raw.parse::<u32>() {
                Ok(limit) if (1..=MAX_FEED_LIMIT).contains(&limit) => limit,
                _ => return Err(limit_issue(raw)),
            },
        };
        let since = params
            .since
            .as_deref()
            .map(|raw| FeedCursor::decode(raw)?.position_for(owner))
            .transpose()?;
        Ok(Self { since, limit })
    }
}

fn limit_issue(raw: &str) -> ListRefusal {
    let shown: String = raw.chars().take(20).collect();
    ListRefusal::Invalid(vec![ParamIssue {
        name: "limit",
        kind: "range",
        message: format!("limit must be a whole number from 1 to {MAX_FEED_LIMIT} (got {shown:?})"),
    }])
}

/// One page of the feed.
#[derive(Debug, Clone)]
pub struct FeedPage {
    /// In commit order; each task once, as it is now, or its tombstone.
    pub changes: Vec<Change>,
    /// Where to continue: after this page, or after everything read when nothing more is there.
    pub next_cursor: String,
    /// Whether more changes follow right away.
    pub has_more: bool,
}

const FEED_CURSOR_VERSION: u8 = 1;

/// A feed cursor's content.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedCursor {
    #[serde(rename = "v")]
    version: u8,
    #[serde(rename = "u")]
    user: String,
    #[serde(rename = "p")]
    position: (i64, i64),
}

fn not_a_feed_cursor() -> ListRefusal {
    ListRefusal::Cursor(
        "since is not a valid cursor: pass a next_cursor or sync_cursor unchanged".into(),
    )
}

impl FeedCursor {
    fn decode(raw: &str) -> Result<Self, ListRefusal> {
        if raw.len() > 512 {
            return Err(not_a_feed_cursor());
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(raw)
            .map_err(|_| not_a_feed_cursor())?;
        let cursor: Self = serde_json::from_slice(&bytes).map_err(|_| not_a_feed_cursor())?;
        if cursor.version != FEED_CURSOR_VERSION || cursor.position.0 < 0 {
            return Err(not_a_feed_cursor());
        }
        Ok(cursor)
    }

    fn position_for(self, owner: &UserId) -> Result<Position, ListRefusal> {
        if self.user != fingerprint(owner.as_str()) {
            return Err(ListRefusal::Cursor(
                "since is a cursor of another user's feed".into(),
            ));
        }
        Ok(Position::new(self.position.0, self.position.1))
    }
}

/// The cursor of `owner`'s feed at `position`.
pub fn feed_cursor(owner: &UserId, position: Position) -> String {
    let cursor = FeedCursor {
        version: FEED_CURSOR_VERSION,
        user: fingerprint(owner.as_str()),
        position: (position.major, position.minor),
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(since: Option<&str>, limit: Option<&str>) -> FeedParams {
        FeedParams {
            since: since.map(str::to_owned),
            limit: limit.map(str::to_owned),
        }
    }

    #[test]
    fn a_cursor_continues_its_owners_feed_only() {
        let alice = UserId::new("alice");
        let cursor = feed_cursor(&alice, Position::new(7, 3));
        let request = FeedRequest::parse(&alice, &params(Some(&cursor), None)).unwrap();
        assert_eq!(request.since, Some(Position::new(7, 3)));
        assert_eq!(request.limit, DEFAULT_FEED_LIMIT);
        let refused = FeedRequest::parse(&UserId::new("bob"), &params(Some(&cursor), None));
        assert!(matches!(refused, Err(ListRefusal::Cursor(_))));
    }

    #[test]
    fn a_limit_is_one_to_a_thousand() {
        let alice = UserId::new("alice");
        for good in ["1", "1000"] {
            assert!(FeedRequest::parse(&alice, &params(None, Some(good))).is_ok());
        }
        for bad in ["0", "1001", "x", "-1"] {
            let refused = FeedRequest::parse(&alice, &params(None, Some(bad)));
            assert!(matches!(refused, Err(ListRefusal::Invalid(_))), "{bad}");
        }
    }

    #[test]
    fn garbage_is_not_a_cursor() {
        let alice = UserId::new("alice");
        for bad in ["", "not-base64!", "e30"] {
            let refused = FeedRequest::parse(&alice, &params(Some(bad), None));
            assert!(matches!(refused, Err(ListRefusal::Cursor(_))), "{bad}");
        }
    }

    #[test]
    fn a_running_key_is_refused_until_its_guard_drops() {
        let keys = RunningKeys::default();
        let (alice, key) = (UserId::new("alice"), IdempotencyKey::parse("k1").unwrap());
        let first = keys.start(&alice, &key).unwrap();
        assert!(keys.start(&alice, &key).is_none());
        assert!(keys.start(&UserId::new("bob"), &key).is_some());
        drop(first);
        assert!(keys.start(&alice, &key).is_some());
    }
}
