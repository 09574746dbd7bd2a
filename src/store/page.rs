//! The list query, written once and rendered in each backend's SQL dialect: the conditions of a
//! `TaskFilter`, the keyset condition that starts a page after a `Position`, the order, and the
//! count of every match. The backends run the groups of a `PagePlan` in order.
//!
//! Every statement is a range scan of one `(user_id, <sort column>, id)` index from the position
//! on (never OFFSET), so a page costs the same wherever it is in the list. Sorting by due is the
//! one order no single column holds: `due_at` instants and `due_date` days interleave by the
//! start of each day in the listing's zone. It runs as three statements — instants and days
//! (each by its own index, ids and dues only, merged here), then the tasks without a due.

use chrono::{DateTime, NaiveDate, TimeZone as _};

use super::StoreError;
use crate::domain::{
    Due, Task,
    due::{format_date, parse_calendar_date, start_of_day_ms},
    list::{DueBound, PageQuery, Position, Sort, SortKey, SortValue, TaskFilter, due_instant_ms},
};

/// The low bits of a SQLite search-index rowid that hold the task id; the owner number is
/// above them (migration 6, `0006_tasks_by_owner.sql`).
const SEARCH_ROWID_ID_BITS: u32 = 36;
const SEARCH_ROWID_ID_MASK: i64 = (1 << SEARCH_ROWID_ID_BITS) - 1;

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

/// `count` (the statement of a plan whose count reads the matches) as one that first reads
/// `owner`'s revision and counts only if it is not `cached`: rows of (revision, total), the
/// total NULL when the revision is the cached one. The revision is NULL for an owner who never
/// had a task (nothing to keep then).
pub(super) fn revised_count(
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
pub(super) fn unrevised_count(dialect: Dialect, count: &Statement) -> Statement {
    let null = match dialect {
        Dialect::Sqlite => "NULL",
        Dialect::Postgres => "NULL::bigint",
    };
    Statement {
        sql: format!("SELECT {null}, ({})", count.sql),
        args: count.args.clone(),
    }
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

/// The type of a key statement's due column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DueKind {
    /// `due_at`: UTC milliseconds.
    Instant,
    /// `due_date`: `YYYY-MM-DD`.
    Day,
}

/// One row of a key statement.
#[derive(Debug, Clone)]
pub(super) struct DueKey {
    pub id: i64,
    pub due: Due,
}

impl DueKey {
    pub(super) fn instant(id: i64, at_ms: i64) -> Self {
        Self {
            id,
            due: Due::At(at_ms),
        }
    }

    pub(super) fn day(id: i64, date: &str) -> Result<Self, StoreError> {
        let date = parse_calendar_date(date).map_err(|_| {
            StoreError::Internal(format!("task {id}: stored due_date is corrupt").into())
        })?;
        Ok(Self {
            id,
            due: Due::Date(date),
        })
    }
}

/// The ids of the first `need` tasks of key statements' rows (each in `sort` order), in one
/// order.
pub(super) fn merge_keys(
    streams: Vec<Vec<DueKey>>,
    sort: Sort,
    zone: chrono_tz::Tz,
    need: usize,
) -> Vec<i64> {
    let mut keyed: Vec<(i64, i64)> = streams
        .into_iter()
        .flatten()
        .map(|key| (due_instant_ms(key.due, zone), key.id))
        .collect();
    if sort.descending {
        keyed.sort_unstable_by(|a, b| b.cmp(a));
    } else {
        keyed.sort_unstable();
    }
    keyed.truncate(need);
    keyed.into_iter().map(|(_, id)| id).collect()
}

/// The statement reading `owner`'s tasks of the given ids (parameter 1: the owner; 2: the ids,
/// a JSON array on SQLite, a `bigint[]` on PostgreSQL), in no order: `in_order_of` orders them.
pub(super) fn rows_by_id(dialect: Dialect, columns: &str) -> String {
    match dialect {
        Dialect::Sqlite => format!(
            "SELECT {columns} FROM tasks INDEXED BY sqlite_autoindex_tasks_1 \
             WHERE user_id = ?1 AND id IN (SELECT value FROM json_each(?2))"
        ),
        Dialect::Postgres => format!(
            "SELECT {columns} FROM tasks WHERE user_id = $1::text AND id = ANY($2::bigint[])"
        ),
    }
}

/// `tasks` in the order of `ids` (each id once).
pub(super) fn in_order_of(ids: &[i64], mut tasks: Vec<Task>) -> Vec<Task> {
    let rank = |task: &Task| {
        ids.iter()
            .position(|&id| id == task.id)
            .unwrap_or(usize::MAX)
    };
    tasks.sort_by_cached_key(rank);
    tasks
}

/// The plan for `query` over `owner`'s tasks, selecting `columns`.
pub(super) fn plan(dialect: Dialect, owner: &str, query: &PageQuery, columns: &str) -> PagePlan {
    let count = {
        let mut b = Builder::new(dialect);
        let sql = b.count(owner, &query.filter);
        Statement { sql, args: b.args }
    };
    let sort = query.sort;
    let fetch = i64::from(query.limit) + 1;
    let tags_only = is_tags_only(&query.filter);
    // A statement of the stream's rows, or with `keys`, of its ids and sort values alone.
    let select = |stream: Stream, keys: bool| {
        if tags_only {
            return by_tag(dialect, owner, query, stream, columns, keys);
        }
        let mut b = Builder::new(dialect);
        b.probe_tags = stream.column.is_some();
        let mut conditions = b.filter(owner, &query.filter);
        conditions.extend(
            stream
                .condition
                .map(|c| c.render(&mut b, sort.descending, "id")),
        );
        let direction = if sort.descending { "DESC" } else { "ASC" };
        let order = match stream.column {
            Some(column) => format!("{column} {direction}, id {direction}"),
            None => format!("id {direction}"),
        };
        let limit = b.limit(fetch);
        let sql = if keys {
            format!(
                "SELECT id, {} FROM tasks WHERE {} ORDER BY {order} LIMIT {limit}",
                stream.column.unwrap_or("id"),
                conditions.join(" AND ")
            )
        } else if b.probe_tags && !query.filter.tag_keys.is_empty() {
            // Find the page's ids by walking the order's index alone, then read just those
            // rows: a row is read once it is known to be on the page, not for every task
            // the walk passes over.
            format!(
                "SELECT {columns} FROM tasks WHERE user_id = {owner} AND id IN \
                 (SELECT id FROM tasks WHERE {} ORDER BY {order} LIMIT {limit}) ORDER BY {order}",
                conditions.join(" AND "),
                owner = b.placeholder(1),
            )
        } else {
            format!(
                "SELECT {columns} FROM tasks WHERE {} ORDER BY {order} LIMIT {limit}",
                conditions.join(" AND ")
            )
        };
        Statement { sql, args: b.args }
    };
    let groups = match sort.key {
        SortKey::Id
            if dialect == Dialect::Sqlite
                && query.filter.text.as_deref().is_some_and(uses_search_index) =>
        {
            vec![Group::Rows(search_in_id_order(owner, query, columns))]
        }
        SortKey::Due => due_streams(dialect, query)
            .into_iter()
            .map(|mut group| {
                if group.len() == 1 {
                    return Group::Rows(select(group.remove(0), false));
                }
                Group::Keys(
                    group
                        .into_iter()
                        .map(|stream| {
                            let kind = if stream.column == Some("due_at") {
                                DueKind::Instant
                            } else {
                                DueKind::Day
                            };
                            KeyStatement {
                                statement: select(stream, true),
                                kind,
                            }
                        })
                        .collect(),
                )
            })
            .collect(),
        key => vec![Group::Rows(select(
            Stream::single(dialect, key, query.after.as_ref()),
            false,
        ))],
    };
    PagePlan {
        count,
        count_reads_matches: !matches!(
            CountedBy::of(dialect, &query.filter),
            CountedBy::Counter | CountedBy::TagCounter(_)
        ),
        groups,
    }
}

/// One statement of a list filtered by tags alone: the stream's stretch of the order is a range
/// of the first tag's `task_tags` index for that order (migration 7: each row carries its task's
/// sort keys; the primary key is the id order), other tags are looked up in the primary key,
/// and only the page's tasks are read.
fn by_tag(
    dialect: Dialect,
    owner: &str,
    query: &PageQuery,
    stream: Stream,
    columns: &str,
    keys: bool,
) -> Statement {
    let mut b = Builder::new(dialect);
    let owner = b.arg(Arg::Text(owner.to_owned()));
    let (first, others) = query
        .filter
        .tag_keys
        .split_first()
        .expect("a list by tag has a tag");
    let first = b.arg(Arg::Text(first.clone()));
    let mut conditions = vec![format!("user_id = {owner}"), format!("tag_key = {first}")];
    for key in others {
        let key = b.arg(Arg::Text(key.clone()));
        conditions.push(format!(
            "EXISTS (SELECT 1 FROM task_tags AS also WHERE also.user_id = {owner} \
             AND also.tag_key = {key} AND also.task_id = task_tags.task_id)"
        ));
    }
    let descending = query.sort.descending;
    conditions.extend(
        stream
            .condition
            .map(|c| c.render(&mut b, descending, "task_id")),
    );
    let direction = if descending { "DESC" } else { "ASC" };
    let order = |id: &str| match stream.column {
        Some(column) => format!("{column} {direction}, {id} {direction}"),
        None => format!("{id} {direction}"),
    };
    let limit = b.limit(i64::from(query.limit) + 1);
    if keys {
        return Statement {
            sql: format!(
                "SELECT task_id, {} FROM task_tags WHERE {} ORDER BY {} LIMIT {limit}",
                stream.column.unwrap_or("task_id"),
                conditions.join(" AND "),
                order("task_id"),
            ),
            args: b.args,
        };
    }
    // SQLite would read the page's rows through the `tasks_id` index, one more lookup a row.
    let tasks = match dialect {
        Dialect::Sqlite => "tasks INDEXED BY sqlite_autoindex_tasks_1",
        Dialect::Postgres => "tasks",
    };
    Statement {
        sql: format!(
            "SELECT {columns} FROM {tasks} WHERE user_id = {owner} AND id IN \
             (SELECT task_id FROM task_tags WHERE {} ORDER BY {} LIMIT {limit}) ORDER BY {}",
            conditions.join(" AND "),
            order("task_id"),
            order("id"),
        ),
        args: b.args,
    }
}

/// The page of a SQLite list by id with a searchable `q`, read from the search index in its
/// rowid order, which within one owner's range is task id order: the statement stops at the
/// page's last match instead of first collecting every match of the owner. Each match is read
/// by the table's own key, `(user_id, id)` (migration 6), where the owner's rows sit together;
/// left alone SQLite would go through the `tasks_id` index, one more lookup a row, on pages
/// spread over the whole index.
fn search_in_id_order(owner: &str, query: &PageQuery, columns: &str) -> Statement {
    let mut b = Builder::new(Dialect::Sqlite);
    let others = TaskFilter {
        text: None,
        ..query.filter.clone()
    };
    let mut conditions = b.filter(owner, &others);
    let text = query.filter.text.as_deref().unwrap_or_default();
    conditions.push(b.search("?1", text));
    if let Some(after) = &query.after {
        let past = if query.sort.descending { "<" } else { ">" };
        conditions.push(format!(
            "task_search.rowid {past} ((SELECT owner_no FROM task_owners WHERE user_id = ?1) \
             << {SEARCH_ROWID_ID_BITS}) | {}",
            b.arg(Arg::Int(after.id))
        ));
    }
    let direction = if query.sort.descending { "DESC" } else { "ASC" };
    let limit = b.limit(i64::from(query.limit) + 1);
    Statement {
        sql: format!(
            "SELECT {columns} FROM task_search \
             CROSS JOIN tasks INDEXED BY sqlite_autoindex_tasks_1 \
             ON tasks.id = task_search.rowid & {SEARCH_ROWID_ID_MASK} \
             WHERE {} ORDER BY task_search.rowid {direction} LIMIT {limit}",
            conditions.join(" AND ")
        ),
        args: b.args,
    }
}

/// Add a group's rows to the page built so far. The first group's vector becomes the page as
/// it is: copying it would copy every task once more.
pub(super) fn extend_page(page: &mut Vec<Task>, rows: Vec<Task>) {
    if page.is_empty() {
        *page = rows;
    } else {
        page.extend(rows);
    }
}

/// One statement's share of the order: the sort column (none: by id alone), and the keyset
/// condition that starts it after the page's position.
struct Stream {
    column: Option<&'static str>,
    condition: Option<Keyset>,
}

/// "After this position" (or before, when descending) in one statement's order.
enum Keyset {
    /// `(column, id)` strictly past `(value, id)`.
    Pair {
        column: &'static str,
        value: Arg,
        id: i64,
    },
    /// `id` strictly past this one.
    Id(i64),
    /// `column` strictly past the value: all of the value's rows are on the other side.
    Past { column: &'static str, value: Arg },
    /// `column` at or past the value: all of the value's rows are still ahead.
    From { column: &'static str, value: Arg },
    /// A condition on which rows the statement reads at all, besides the keyset.
    Rows(&'static str, Option<Box<Keyset>>),
}

impl Keyset {
    /// The condition, over a table whose task id column is `id_column`.
    fn render(self, b: &mut Builder, descending: bool, id_column: &str) -> String {
        let (past, from) = if descending { ("<", "<=") } else { (">", ">=") };
        match self {
            Self::Pair { column, value, id } => {
                let (value, id) = (b.arg(value), b.arg(Arg::Int(id)));
                format!("({column}, {id_column}) {past} ({value}, {id})")
            }
            Self::Id(id) => format!("{id_column} {past} {}", b.arg(Arg::Int(id))),
            Self::Past { column, value } => format!("{column} {past} {}", b.arg(value)),
            Self::From { column, value } => format!("{column} {from} {}", b.arg(value)),
            Self::Rows(rows, None) => rows.to_owned(),
            Self::Rows(rows, Some(keyset)) => {
                format!("{rows} AND {}", keyset.render(b, descending, id_column))
            }
        }
    }
}

impl Stream {
    /// The one statement of every order but due.
    fn single(dialect: Dialect, key: SortKey, after: Option<&Position>) -> Self {
        let column = match key {
            SortKey::Id => None,
            SortKey::CreatedAt => Some("created_at"),
            SortKey::UpdatedAt => Some("updated_at"),
            SortKey::Priority => Some("priority"),
            SortKey::Title => Some(match dialect {
                Dialect::Sqlite => "title_key",
                Dialect::Postgres => "title_key COLLATE \"C\"",
            }),
            SortKey::Due => unreachable!("due is planned by due_streams"),
        };
        let condition = after.map(|after| match (column, &after.value) {
            (Some(column), SortValue::Int(value)) => Keyset::Pair {
                column,
                value: Arg::Int(*value),
                id: after.id,
            },
            (Some(column), SortValue::Text(value)) => Keyset::Pair {
                column,
                value: Arg::Text(value.clone()),
                id: after.id,
            },
            _ => Keyset::Id(after.id),
        });
        Self { column, condition }
    }
}

/// The statements of a due order: instants and days merged, then the tasks without a due.
fn due_streams(dialect: Dialect, query: &PageQuery) -> Vec<Vec<Stream>> {
    const INSTANTS: &str = "due_at IS NOT NULL";
    const DAYS: &str = "due_date IS NOT NULL";
    const NO_DUE: &str = "due_at IS NULL AND due_date IS NULL";
    let day_column = match dialect {
        Dialect::Sqlite => "due_date",
        Dialect::Postgres => "due_date COLLATE \"C\"",
    };
    let zone = query.filter.zone;
    let no_due = |keyset| Stream {
        column: None,
        condition: Some(Keyset::Rows(NO_DUE, keyset)),
    };
    match query.after.as_ref().map(|p| (&p.value, p.id)) {
        None | Some((SortValue::Text(_), _)) => vec![
            vec![
                Stream {
                    column: Some("due_at"),
                    condition: Some(Keyset::Rows(INSTANTS, None)),
                },
                Stream {
                    column: Some(day_column),
                    condition: Some(Keyset::Rows(DAYS, None)),
                },
            ],
            vec![no_due(None)],
        ],
        Some((SortValue::Int(at), id)) => {
            // The day holding the instant: if it starts exactly there, its tasks continue
            // after `id`; otherwise the whole day is on one side of the position.
            let day = local_day(*at, zone);
            let days = if start_of_day_ms(day, zone) == *at {
                Keyset::Pair {
                    column: day_column,
                    value: Arg::Text(format_date(day)),
                    id,
                }
            } else if query.sort.descending {
                Keyset::From {
                    column: day_column,
                    value: Arg::Text(format_date(day)),
                }
            } else {
                Keyset::Past {
                    column: day_column,
                    value: Arg::Text(format_date(day)),
                }
            };
            vec![
                vec![
                    Stream {
                        column: Some("due_at"),
                        condition: Some(Keyset::Rows(
                            INSTANTS,
                            Some(Box::new(Keyset::Pair {
                                column: "due_at",
                                value: Arg::Int(*at),
                                id,
                            })),
                        )),
                    },
                    Stream {
                        column: Some(day_column),
                        condition: Some(Keyset::Rows(DAYS, Some(Box::new(days)))),
                    },
                ],
                vec![no_due(None)],
            ]
        }
        Some((SortValue::NoDue, id)) => vec![vec![no_due(Some(Box::new(Keyset::Id(id))))]],
    }
}

/// The calendar day `at_ms` falls on in `zone`.
fn local_day(at_ms: i64, zone: chrono_tz::Tz) -> NaiveDate {
    DateTime::from_timestamp_millis(at_ms)
        .map(|utc| zone.from_utc_datetime(&utc.naive_utc()).date_naive())
        .unwrap_or(NaiveDate::MAX)
}

/// Whether SQLite's trigram index can find `text`: three characters make a trigram.
fn uses_search_index(text: &str) -> bool {
    text.chars().nth(2).is_some()
}

/// Where the count of a filter's matches is read: an index that answers it alone, without
/// reading a task, or the tasks themselves.
enum CountedBy<'a> {
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
fn has_other_conditions(filter: &TaskFilter) -> bool {
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

/// Whether `filter` keeps tasks by their tags alone: its page is read from `task_tags`.
fn is_tags_only(filter: &TaskFilter) -> bool {
    !filter.tag_keys.is_empty() && filter.text.is_none() && !has_other_conditions(filter)
}

impl<'a> CountedBy<'a> {
    fn of(dialect: Dialect, filter: &'a TaskFilter) -> Self {
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

/// Renders conditions, numbering parameters as it goes.
struct Builder {
    dialect: Dialect,
    args: Vec<Arg>,
    /// How a tag condition is tested: `false` collects the tag's task ids (`id IN`), which
    /// the database can also use to find the rows (best when ordering by id: a rare tag's few
    /// tasks are looked up directly); `true` looks each row the statement walks up in the
    /// `task_tags` primary key (`EXISTS`), best when walking another order's index, which
    /// stops at the page's last match instead of first collecting every task of the tag
    /// (`tag=work&sort=due` over 100,000 tasks: 0.92 → 0.41 ms a statement, warm).
    probe_tags: bool,
}

impl Builder {
    fn new(dialect: Dialect) -> Self {
        Self {
            dialect,
            args: Vec::new(),
            probe_tags: false,
        }
    }

    /// The placeholder of parameter `n` (1-based), already added.
    fn placeholder(&self, n: usize) -> String {
        match (self.dialect, &self.args[n - 1]) {
            (Dialect::Sqlite, _) => format!("?{n}"),
            (Dialect::Postgres, Arg::Int(_)) => format!("${n}::bigint"),
            (Dialect::Postgres, Arg::Text(_)) => format!("${n}::text"),
            (Dialect::Postgres, Arg::Bool(_)) => format!("${n}::boolean"),
        }
    }

    /// The placeholder of a new parameter.
    fn arg(&mut self, arg: Arg) -> String {
        self.args.push(arg);
        self.placeholder(self.args.len())
    }

    /// A statement's `LIMIT`. SQLite gets the number itself: given a parameter, it prepares
    /// the statement again on every run (its planner takes the limit's value into account),
    /// which was ~10% of a list's CPU. A page size is one of few values (1..=501), so each
    /// is one more cached statement, not one per request.
    fn limit(&mut self, rows: i64) -> String {
        match self.dialect {
            Dialect::Sqlite => rows.to_string(),
            Dialect::Postgres => self.arg(Arg::Int(rows)),
        }
    }

    /// The statement counting `owner`'s tasks that match `filter`.
    fn count(&mut self, owner: &str, filter: &TaskFilter) -> String {
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

    /// The conditions of `filter` over `owner`'s tasks, to be joined with AND.
    fn filter(&mut self, owner: &str, filter: &TaskFilter) -> Vec<String> {
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
    fn search(&mut self, owner: &str, text: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sort(descending: bool) -> Sort {
        Sort {
            key: SortKey::Due,
            descending,
        }
    }

    #[test]
    fn merged_due_keys_put_a_day_at_its_start_in_the_listing_zone_and_break_ties_by_id() {
        // 2026-12-01T00:00:00+01:00 is 2026-11-30T23:00:00Z.
        let day_start = 1_796_079_600_000;
        let instants = vec![
            DueKey::instant(4, day_start - 1),
            DueKey::instant(2, day_start),
            DueKey::instant(9, day_start + 1),
        ];
        let days = vec![
            DueKey::day(3, "2026-12-01").unwrap(),
            DueKey::day(1, "2026-12-02").unwrap(),
        ];
        let zone = chrono_tz::Europe::Berlin;
        let both = || vec![instants.clone(), days.clone()];
        assert_eq!(merge_keys(both(), sort(false), zone, 10), [4, 2, 3, 9, 1]);
        assert_eq!(merge_keys(both(), sort(true), zone, 10), [1, 9, 3, 2, 4]);
        assert_eq!(merge_keys(both(), sort(false), zone, 3), [4, 2, 3]);
        // In UTC the day starts an hour later, after task 9.
        assert_eq!(
            merge_keys(both(), sort(false), chrono_tz::UTC, 10),
            [4, 2, 9, 3, 1]
        );
    }

    #[test]
    fn a_corrupt_stored_day_is_an_error_not_a_position() {
        assert!(DueKey::day(1, "2026-13-01").is_err());
    }
}
