//! The count of a filter's matches: where it is read, its statement, and the revised form that
//! skips it while the owner's revision holds.

use super::{
    Arg, Dialect, Statement,
    sql::{Builder, uses_search_index},
};
use crate::domain::list::TaskFilter;

/// `count` (the statement of a plan whose count reads the matches) as one that first reads
/// `owner`'s revision and counts only if it is not `cached`: rows of (revision, total), the
/// total NULL when the revision is the cached one. The revision is NULL for an owner who never
/// had a task (nothing to keep then).
pub(in crate::store) fn revised_count(
    dialect: Dialect,
    owner: &str,
    count: &Statement,
    cached: Option<i64>,
) -> Statement {
    let mut b = Builder::new(dialect);
    b.args = count.args.clone();
    let owner = b.arg(Arg::Text(owner.to_owned()));
    let cached = b.arg(Arg::Int(cached.unwrap_or(-1)));
    Statement {
        sql: format!(
            "SELECT r.revision, CASE WHEN r.revision = {cached} THEN NULL ELSE ({}) END \
             FROM (SELECT (SELECT revision FROM task_counts WHERE user_id = {owner}) AS revision) \
             AS r",
            count.sql
        ),
        args: b.args,
    }
}

/// `count` (the statement of a plan whose count reads no match) in the same row shape as
/// `revised_count`'s: (NULL, total).
pub(in crate::store) fn unrevised_count(dialect: Dialect, count: &Statement) -> Statement {
    let null = match dialect {
        Dialect::Sqlite => "NULL",
        Dialect::Postgres => "NULL::bigint",
    };
    Statement {
        sql: format!("SELECT {null}, ({})", count.sql),
        args: count.args.clone(),
    }
}

/// Where the count of a filter's matches is read: an index that answers it alone, without
/// reading a task, or the tasks themselves.
pub(super) enum CountedBy<'a> {
    /// No filter: the owner's counter row (kept exact by triggers in every writing
    /// transaction).
    Counter,
    /// Only one tag: the owner's counter row of that tag (kept exact by triggers in every
    /// writing transaction, migration 7).
    TagCounter(&'a str),
    /// Only tags: the `task_tags` primary key.
    Tags(&'a [String]),
    /// Only a `q` of a trigram or more, on SQLite: the search index's range of the owner.
    Search(&'a str),
    /// Anything else: the owner's matching rows.
    Rows,
}

/// Whether `filter` has a condition besides its tags and its text.
pub(super) fn has_other_conditions(filter: &TaskFilter) -> bool {
    let TaskFilter {
        complete,
        priorities,
        tag_keys: _,
        due_before,
        due_after,
        overdue,
        text: _,
        zone: _,
    } = filter;
    complete.is_some()
        || !priorities.is_empty()
        || due_before.is_some()
        || due_after.is_some()
        || overdue.is_some()
}

impl<'a> CountedBy<'a> {
    pub(super) fn of(dialect: Dialect, filter: &'a TaskFilter) -> Self {
        let (tag_keys, text) = (&filter.tag_keys, filter.text.as_deref());
        match (has_other_conditions(filter), tag_keys.as_slice(), text) {
            (false, [], None) => Self::Counter,
            (false, [tag], None) => Self::TagCounter(tag),
            (false, [_, ..], None) => Self::Tags(tag_keys),
            (false, [], Some(text)) if dialect == Dialect::Sqlite && uses_search_index(text) => {
                Self::Search(text)
            }
            _ => Self::Rows,
        }
    }
}

impl Builder {
    /// The statement counting `owner`'s tasks that match `filter`.
    pub(super) fn count(&mut self, owner: &str, filter: &TaskFilter) -> String {
        match CountedBy::of(self.dialect, filter) {
            CountedBy::Counter => format!(
                "SELECT COALESCE((SELECT task_count FROM task_counts WHERE user_id = {}), 0)",
                self.arg(Arg::Text(owner.to_owned()))
            ),
            CountedBy::TagCounter(key) => format!(
                "SELECT COALESCE((SELECT tag_count FROM tag_counts \
                 WHERE user_id = {} AND tag_key = {}), 0)",
                self.arg(Arg::Text(owner.to_owned())),
                self.arg(Arg::Text(key.to_owned()))
            ),
            CountedBy::Tags(keys) => {
                let owner = self.arg(Arg::Text(owner.to_owned()));
                let first = self.arg(Arg::Text(keys[0].clone()));
                let mut sql = format!(
                    "SELECT count(*) FROM task_tags WHERE user_id = {owner} AND tag_key = {first}"
                );
                for key in &keys[1..] {
                    let key = self.arg(Arg::Text(key.clone()));
                    sql.push_str(&format!(
                        " AND task_id IN (SELECT task_id FROM task_tags \
                         WHERE user_id = {owner} AND tag_key = {key})"
                    ));
                }
                sql
            }
            CountedBy::Search(text) => {
                let owner = self.arg(Arg::Text(owner.to_owned()));
                format!(
                    "SELECT count(*) FROM task_search WHERE {}",
                    self.search(&owner, text)
                )
            }
            CountedBy::Rows => format!(
                "SELECT count(*) FROM tasks WHERE {}",
                self.filter(owner, filter).join(" AND ")
            ),
        }
    }
}
