//! The totals of filtered lists, kept between requests while their owner writes nothing.
//!
//! Counting a filter's matches can read every match (a word in 2,000 of a user's tasks, or the
//! 70,000 open ones), while a page reads 100. Every write to an owner's tasks bumps the
//! owner's `task_counts.revision` in its transaction (migration 7), so a total counted at one
//! revision holds for as long as the revision is the same. The count statement carries the
//! cached revision and skips the count when the database still has it (`page::revised_count`):
//! the check and the page read the same data, and every instance of a deployment sharing one
//! database sees every other's writes. Totals that are one row already (all tasks, one tag)
//! are not kept.

use quick_cache::sync::Cache;

use super::{
    StoreError,
    page::{Arg, Statement},
};

/// Totals kept at most; an entry is a count statement (~0.5 KiB).
const CAPACITY: usize = 4_096;

/// A filter's count statement: its text and arguments name the owner and the filter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CountKey {
    sql: String,
    args: Vec<Arg>,
}

/// A total at the owner's revision it was counted at.
#[derive(Debug, Clone, Copy)]
pub(super) struct Counted {
    pub revision: i64,
    pub total: i64,
}

/// Totals by count statement, bounded (the least used go first).
pub(super) struct Totals(Cache<CountKey, Counted>);

impl Default for Totals {
    fn default() -> Self {
        Self(Cache::new(CAPACITY))
    }
}

impl Totals {
    /// The total last counted by `count`, if any.
    pub(super) fn get(&self, count: &Statement) -> Option<Counted> {
        self.0.get(&CountKey {
            sql: count.sql.clone(),
            args: count.args.clone(),
        })
    }

    /// Keep the total `count` found at `revision`.
    pub(super) fn put(&self, count: &Statement, counted: Counted) {
        self.0.insert(
            CountKey {
                sql: count.sql.clone(),
                args: count.args.clone(),
            },
            counted,
        );
    }
}

/// The total of a list from its revised count's row (`revision`, `counted`): the count, kept
/// for next time, or the cached total when the count was skipped because the revision held.
pub(super) fn settle(
    totals: &Totals,
    count: &Statement,
    cached: Option<Counted>,
    revision: Option<i64>,
    counted: Option<i64>,
) -> Result<i64, StoreError> {
    match (counted, revision, cached) {
        (Some(total), Some(revision), _) => {
            totals.put(count, Counted { revision, total });
            Ok(total)
        }
        (Some(total), None, _) => Ok(total),
        (None, Some(revision), Some(cached)) if cached.revision == revision => Ok(cached.total),
        _ => Err(StoreError::Internal(
            "a list's count was skipped without a total to reuse".into(),
        )),
    }
}
