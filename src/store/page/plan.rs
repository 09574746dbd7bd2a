//! The plan of one page: the count and the groups of statements a backend runs, in order.

use super::{
    Arg, Dialect, Group, KeyStatement, PagePlan, Statement,
    count::{CountedBy, has_other_conditions},
    due_order::{DueKind, due_streams},
    keyset::Stream,
    sql::{Builder, SEARCH_ROWID_ID_BITS, SEARCH_ROWID_ID_MASK, uses_search_index},
};
use crate::domain::{
    Task,
    list::{PageQuery, SortKey, TaskFilter},
};

/// The plan for `query` over `owner`'s tasks, selecting `columns`.
pub(in crate::store) fn plan(
    dialect: Dialect,
    owner: &str,
    query: &PageQuery,
    columns: &str,
) -> PagePlan {
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
pub(in crate::store) fn extend_page(page: &mut Vec<Task>, rows: Vec<Task>) {
    if page.is_empty() {
        *page = rows;
    } else {
        page.extend(rows);
    }
}

/// Whether `filter` keeps tasks by their tags alone: its page is read from `task_tags`.
fn is_tags_only(filter: &TaskFilter) -> bool {
    !filter.tag_keys.is_empty() && filter.text.is_none() && !has_other_conditions(filter)
}
