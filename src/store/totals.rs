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
    page::{self, Arg, Dialect, PagePlan, Statement},
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
struct Counted {
    revision: i64,
    total: i64,
}

/// Totals by count statement, bounded (the least used go first).
pub(super) struct Totals(Cache<CountKey, Counted>);

impl Default for Totals {
    fn default() -> Self {
        Self(Cache::new(CAPACITY))
    }
}

impl Totals {
    /// Start reading the total of `plan`, a page of `owner`'s list: the statement to run,
    /// whose one row (revision, counted) `settle` turns into the total.
    pub(super) fn read(&self, dialect: Dialect, owner: &str, plan: &PagePlan) -> TotalRead {
        if !plan.count_reads_matches {
            return TotalRead {
                statement: page::unrevised_count(dialect, &plan.count),
                key: None,
                cached: None,
            };
        }
        let key = CountKey {
            sql: plan.count.sql.clone(),
            args: plan.count.args.clone(),
        };
        let cached = self.0.get(&key);
        TotalRead {
            statement: page::revised_count(dialect, owner, &plan.count, cached.map(|c| c.revision)),
            key: Some(key),
            cached,
        }
    }

    /// The total from the row of `read`'s statement: the count (kept for next time when it
    /// came with the owner's revision), or the kept total when the revision still held and
    /// the count was skipped.
    pub(super) fn settle(
        &self,
        read: TotalRead,
        revision: Option<i64>,
        counted: Option<i64>,
    ) -> Result<i64, StoreError> {
        match (counted, revision, read.cached) {
            (Some(total), Some(revision), _) => {
                if let Some(key) = read.key {
                    self.0.insert(key, Counted { revision, total });
                }
                Ok(total)
            }
            (Some(total), None, _) => Ok(total),
            (None, Some(revision), Some(cached)) if cached.revision == revision => Ok(cached.total),
            _ => Err(StoreError::Internal(
                "a list's count was skipped without a total to reuse".into(),
            )),
        }
    }
}

/// A list's total being read (`Totals::read`).
pub(super) struct TotalRead {
    /// Rows of (revision or NULL, total or NULL).
    pub statement: Statement,
    /// The plan's count, when its total is kept.
    key: Option<CountKey>,
    /// The total kept for it, if any.
    cached: Option<Counted>,
}
