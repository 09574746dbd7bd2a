//! Rendering a filter's conditions in a dialect: the `Builder` that numbers parameters, and the
//! SQLite search index's rowid layout.

use super::{Arg, Dialect};
use crate::domain::{
    due::format_date,
    list::{DueBound, TaskFilter},
};

/// The low bits of a SQLite search-index rowid that hold the task id; the owner number is
/// above them (migration 6, `0006_tasks_by_owner.sql`).
pub(super) const SEARCH_ROWID_ID_BITS: u32 = 36;
pub(super) const SEARCH_ROWID_ID_MASK: i64 = (1 << SEARCH_ROWID_ID_BITS) - 1;

/// Whether SQLite's trigram index can find `text`: three characters make a trigram.
pub(super) fn uses_search_index(text: &str) -> bool {
    text.chars().nth(2).is_some()
}

/// Renders conditions, numbering parameters as it goes.
pub(super) struct Builder {
    pub(super) dialect: Dialect,
    pub(super) args: Vec<Arg>,
    /// How a tag condition is tested: `false` collects the tag's task ids (`id IN`), which
    /// the database can also use to find the rows (best when ordering by id: a rare tag's few
    /// tasks are looked up directly); `true` looks each row the statement walks up in the
    /// `task_tags` primary key (`EXISTS`), best when walking another order's index, which
    /// stops at the page's last match instead of first collecting every task of the tag
    /// (`tag=work&sort=due` over 100,000 tasks: 0.92 → 0.41 ms a statement, warm).
    pub(super) probe_tags: bool,
}

impl Builder {
    pub(super) fn new(dialect: Dialect) -> Self {
        Self {
            dialect,
            args: Vec::new(),
            probe_tags: false,
        }
    }

    /// The placeholder of parameter `n` (1-based), already added.
    pub(super) fn placeholder(&self, n: usize) -> String {
        match (self.dialect, &self.args[n - 1]) {
            (Dialect::Sqlite, _) => format!("?{n}"),
            (Dialect::Postgres, Arg::Int(_)) => format!("${n}::bigint"),
            (Dialect::Postgres, Arg::Text(_)) => format!("${n}::text"),
            (Dialect::Postgres, Arg::Bool(_)) => format!("${n}::boolean"),
        }
    }

    /// The placeholder of a new parameter.
    pub(super) fn arg(&mut self, arg: Arg) -> String {
        self.args.push(arg);
        self.placeholder(self.args.len())
    }

    /// A statement's `LIMIT`. SQLite gets the number itself: given a parameter, it prepares
    /// the statement again on every run (its planner takes the limit's value into account),
    /// which was ~10% of a list's CPU. A page size is one of few values (1..=501), so each
    /// is one more cached statement, not one per request.
    pub(super) fn limit(&mut self, rows: i64) -> String {
        match self.dialect {
            Dialect::Sqlite => rows.to_string(),
            Dialect::Postgres => self.arg(Arg::Int(rows)),
        }
    }

    /// The conditions of `filter` over `owner`'s tasks, to be joined with AND.
    pub(super) fn filter(&mut self, owner: &str, filter: &TaskFilter) -> Vec<String> {
        let owner = self.arg(Arg::Text(owner.to_owned()));
        let mut conditions = vec![format!("user_id = {owner}")];
        if let Some(complete) = filter.complete {
            conditions.push(format!("complete = {}", self.arg(Arg::Bool(complete))));
        }
        if !filter.priorities.is_empty() {
            let ranks: Vec<String> = filter
                .priorities
                .iter()
                .map(|p| self.arg(Arg::Int(i64::from(p.rank()))))
                .collect();
            conditions.push(format!("priority IN ({})", ranks.join(", ")));
        }
        for key in &filter.tag_keys {
            let key = self.arg(Arg::Text(key.clone()));
            conditions.push(if self.probe_tags {
                // SQLite would rather probe the smaller `task_tags (task_id)` index, whose
                // entries of one owner are spread over the whole index; the primary key keeps
                // them together (`tag=work&sort=due` over 100,000 tasks at 50 connections:
                // 3.1 → 1.7 ms of CPU a request).
                let table = match self.dialect {
                    Dialect::Sqlite => "task_tags INDEXED BY sqlite_autoindex_task_tags_1",
                    Dialect::Postgres => "task_tags",
                };
                format!(
                    "EXISTS (SELECT 1 FROM {table} \
                     WHERE user_id = {owner} AND tag_key = {key} AND task_id = tasks.id)"
                )
            } else {
                format!(
                    "id IN (SELECT task_id FROM task_tags WHERE user_id = {owner} AND tag_key = {key})"
                )
            });
        }
        if let Some(bound) = filter.due_before {
            conditions.push(self.due_before(bound));
        }
        if let Some(bound) = filter.due_after {
            let (at, day) = self.bound(bound);
            conditions.push(format!("(due_at >= {at} OR due_date >= {day})"));
        }
        if let Some((overdue, now)) = filter.overdue {
            let not_complete = self.arg(Arg::Bool(false));
            let due_before_now = self.due_before(now);
            let overdue_tasks = format!("(complete = {not_complete} AND {due_before_now})");
            conditions.push(if overdue {
                overdue_tasks
            } else {
                format!("NOT {overdue_tasks}")
            });
        }
        if let Some(text) = &filter.text {
            conditions.push(self.contains(&owner, text));
        }
        conditions
    }

    /// The conditions on SQLite's `task_search` for `owner`'s (a placeholder) entries that
    /// contain `text` (folded, at least a trigram). The index's rowid is
    /// (owner number << 36) | task id, so the owner's entries are one range, which FTS5 seeks
    /// to instead of reading every owner's.
    pub(super) fn search(&mut self, owner: &str, text: &str) -> String {
        let phrase = format!("\"{}\"", text.replace('"', "\"\""));
        let phrase = self.arg(Arg::Text(phrase));
        let owner_no = format!("(SELECT owner_no FROM task_owners WHERE user_id = {owner})");
        format!(
            "task_search MATCH {phrase} \
             AND task_search.rowid BETWEEN {owner_no} << {bits} AND ({owner_no} << {bits}) | {mask}",
            bits = SEARCH_ROWID_ID_BITS,
            mask = SEARCH_ROWID_ID_MASK,
        )
    }

    /// Due strictly before `bound`; never NULL, so it can be negated.
    fn due_before(&mut self, bound: DueBound) -> String {
        let (at, day) = self.bound(bound);
        format!(
            "((due_at IS NOT NULL AND due_at < {at}) OR (due_date IS NOT NULL AND due_date < {day}))"
        )
    }

    fn bound(&mut self, bound: DueBound) -> (String, String) {
        (
            self.arg(Arg::Int(bound.at_ms)),
            self.arg(Arg::Text(format_date(bound.date))),
        )
    }

    /// The folded title or description of a task of `owner` (a placeholder) contains `text`
    /// (already folded).
    fn contains(&mut self, owner: &str, text: &str) -> String {
        match self.dialect {
            // Three characters make a trigram: shorter text cannot use the index and is looked
            // for in this owner's rows only.
            Dialect::Sqlite if uses_search_index(text) => {
                format!(
                    "id IN (SELECT rowid & {} FROM task_search WHERE {})",
                    SEARCH_ROWID_ID_MASK,
                    self.search(owner, text)
                )
            }
            Dialect::Sqlite => format!(
                "instr(search_text, {}) > 0",
                self.arg(Arg::Text(text.into()))
            ),
            Dialect::Postgres => {
                let mut pattern = String::with_capacity(text.len() + 2);
                pattern.push('%');
                for c in text.chars() {
                    if matches!(c, '%' | '_' | '\\') {
                        pattern.push('\\');
                    }
                    pattern.push(c);
                }
                pattern.push('%');
                format!("search_text LIKE {}", self.arg(Arg::Text(pattern)))
            }
        }
    }
}
