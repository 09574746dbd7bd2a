//! The due order: its statements (instants and days, merged here by the start of each day in the
//! listing's zone, then the tasks without a due), and reading the page's rows by id.

use chrono::{DateTime, NaiveDate, TimeZone as _};

use super::{
    Arg, Dialect,
    keyset::{Keyset, Stream},
};
use crate::{
    domain::{
        Due, Task,
        due::{format_date, parse_calendar_date, start_of_day_ms},
        list::{PageQuery, Sort, SortValue, due_instant_ms},
    },
    store::StoreError,
};

/// The type of a key statement's due column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::store) enum DueKind {
    /// `due_at`: UTC milliseconds.
    Instant,
    /// `due_date`: `YYYY-MM-DD`.
    Day,
}

/// One row of a key statement.
#[derive(Debug, Clone)]
pub(in crate::store) struct DueKey {
    pub id: i64,
    pub due: Due,
}

impl DueKey {
    pub(in crate::store) fn instant(id: i64, at_ms: i64) -> Self {
        Self {
            id,
            due: Due::At(at_ms),
        }
    }

    pub(in crate::store) fn day(id: i64, date: &str) -> Result<Self, StoreError> {
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
pub(in crate::store) fn merge_keys(
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
pub(in crate::store) fn rows_by_id(dialect: Dialect, columns: &str) -> String {
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
pub(in crate::store) fn in_order_of(ids: &[i64], mut tasks: Vec<Task>) -> Vec<Task> {
    let rank = |task: &Task| {
        ids.iter()
            .position(|&id| id == task.id)
            .unwrap_or(usize::MAX)
    };
    tasks.sort_by_cached_key(rank);
    tasks
}

/// The statements of a due order: instants and days merged, then the tasks without a due.
pub(super) fn due_streams(dialect: Dialect, query: &PageQuery) -> Vec<Vec<Stream>> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::list::SortKey;

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
