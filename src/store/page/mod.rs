//! The list query, written once and rendered in each backend's SQL dialect: the conditions of a
//! `TaskFilter`, the keyset condition that starts a page after a `Position`, the order, and the
//! count of every match. The backends run the groups of a `PagePlan` in order.
//!
//! Every statement is a range scan of one `(user_id, <sort column>, id)` index from the position
//! on (never OFFSET), so a page costs the same wherever it is in the list. Sorting by due is the
//! one order no single column holds: `due_at` instants and `due_date` days interleave by the
//! start of each day in the listing's zone. It runs as three statements — instants and days
//! (each by its own index, ids and dues only, merged here), then the tasks without a due.
//!
//! `plan` builds a page's `PagePlan`; `sql` renders a filter's conditions in a dialect;
//! `keyset` is each statement's stretch of the order past a `Position`; `due_order` is the due
//! order's statements and the merge of its keys; `count` is the count of the matches.

mod count;
mod due_order;
mod keyset;
mod plan;
mod sql;

pub(super) use count::{revised_count, unrevised_count};
pub(super) use due_order::{DueKey, DueKind, in_order_of, merge_keys, rows_by_id};
pub(super) use plan::{extend_page, plan};

/// The SQL flavour a statement is rendered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    /// `?N` parameters, `complete` stored as 0/1, substring search through the FTS5 table
    /// `task_search`, within the owner's range of its rowids (migration 6).
    Sqlite,
    /// `$N::type` parameters, substring search with `LIKE` on the trigram index.
    Postgres,
}

/// A statement parameter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Arg {
    Int(i64),
    Text(String),
    Bool(bool),
}

/// SQL text and its parameters, in order.
#[derive(Debug, Clone)]
pub(super) struct Statement {
    pub sql: String,
    pub args: Vec<Arg>,
}

/// What a backend runs for one page: the count, then the groups in order, each one a further
/// stretch of the order. A later group is only needed while the page is not full.
pub(super) struct PagePlan {
    pub count: Statement,
    /// Whether the count reads the matches themselves, not a counter row: its total is worth
    /// keeping while the owner's revision holds (`store::totals`).
    pub count_reads_matches: bool,
    pub groups: Vec<Group>,
}

/// One stretch of a page's order.
pub(super) enum Group {
    /// A statement returning the stretch's tasks, in order.
    Rows(Statement),
    /// Stretches that interleave: the due instants and the due days of a due order. Each
    /// statement returns the id and due of its tasks, in its order, read from its index alone;
    /// `merge_keys` puts them in one order and the backend reads just the rows the page keeps
    /// (`rows_by_id`), instead of a page of rows from each statement.
    Keys(Vec<KeyStatement>),
}

impl Group {
    pub(super) fn statements(&self) -> Vec<&Statement> {
        match self {
            Self::Rows(statement) => vec![statement],
            Self::Keys(keys) => keys.iter().map(|k| &k.statement).collect(),
        }
    }
}

/// A statement of `Group::Keys`: rows of (id, due), the due being `kind`.
pub(super) struct KeyStatement {
    pub statement: Statement,
    pub kind: DueKind,
}
