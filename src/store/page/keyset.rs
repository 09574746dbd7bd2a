//! One statement's stretch of the order: its sort column and the keyset condition that starts it
//! after a page's `Position`.

use super::{Arg, Dialect, sql::Builder};
use crate::domain::list::{Position, SortKey, SortValue};

/// One statement's share of the order: the sort column (none: by id alone), and the keyset
/// condition that starts it after the page's position.
pub(super) struct Stream {
    pub(super) column: Option<&'static str>,
    pub(super) condition: Option<Keyset>,
}

/// "After this position" (or before, when descending) in one statement's order.
pub(super) enum Keyset {
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
    pub(super) fn render(self, b: &mut Builder, descending: bool, id_column: &str) -> String {
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
    pub(super) fn single(dialect: Dialect, key: SortKey, after: Option<&Position>) -> Self {
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
