//! Listing as a use case: the list parameters every front door accepts (`ListParams`, as text),
//! their rules (`ListRequest::parse`), and the cursor that continues a list.
//!
//! A cursor is the position of the last task of a page plus a seal of what produced it: the
//! owner, the sort and every filter. It is base64url JSON, not signed: it carries no secret, a
//! client that edits it can only move its own position (every read is scoped to the
//! authenticated owner), and a cursor presented with other filters, another sort or by another
//! user is refused with the names of what differs, so a list is never silently continued under
//! different rules.

use std::collections::BTreeMap;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

use crate::domain::{
    Priority, Tag, TimeZoneName, UserId,
    due::{parse_calendar_date, parse_instant_ms, start_of_day_ms},
    list::{DueBound, PageQuery, Position, Sort, SortKey, SortValue, TaskFilter, fold},
    tags::TAGS_MAX_ITEMS,
};

/// Tasks per page when the request names no limit.
pub const DEFAULT_LIMIT: u32 = 100;
/// Most tasks per page.
pub const MAX_LIMIT: u32 = 500;
/// Longest search text, in characters.
pub const SEARCH_MAX_CHARS: usize = 100;

/// The list parameters as a front door received them, every value as text (repeatable ones in
/// the order given). Names are the REST query parameters; MCP uses the same names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListParams {
    pub complete: Option<String>,
    pub priority: Vec<String>,
    pub tag: Vec<String>,
    pub due_before: Option<String>,
    pub due_after: Option<String>,
    pub overdue: Option<String>,
    pub tz: Option<String>,
    pub q: Option<String>,
    pub sort: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// One parameter that breaks its rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamIssue {
    /// The parameter's name.
    pub name: &'static str,
    /// A stable machine-readable word.
    pub kind: &'static str,
    pub message: String,
}

/// Why a list request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListRefusal {
    /// Parameters that break their rules (422 on REST).
    #[error("invalid list parameters")]
    Invalid(Vec<ParamIssue>),
    /// A cursor that is not one this service issued, or one issued for other parameters or
    /// another user (400 on REST); the text says which.
    #[error("{0}")]
    Cursor(String),
}

/// A valid list request: the page to read and the seal its cursors carry.
#[derive(Debug, Clone, PartialEq)]
pub struct ListRequest {
    pub query: PageQuery,
    seal: Seal,
}

/// One page of a list, and the cursor of the next (none on the last page).
#[derive(Debug, Clone)]
pub struct ListPage {
    pub tasks: Vec<crate::domain::Task>,
    pub total: i64,
    pub next_cursor: Option<String>,
    /// The feed cursor of the data the page was read from: follow the feed from it.
    pub sync_cursor: String,
}

impl ListRequest {
    /// Apply the rules to `params` for `owner`, at `now_ms` (what "overdue" compares with).
    /// Every parameter is checked, so a refusal lists every issue at once.
    pub fn parse(owner: &UserId, params: &ListParams, now_ms: i64) -> Result<Self, ListRefusal> {
        let mut issues = Vec::new();
        let mut seal = Seal::new(owner);
        let mut check = |result: Result<(), ParamIssue>| {
            if let Err(issue) = result {
                issues.push(issue);
            }
        };
        let mut filter = TaskFilter::default();

        if let Some(raw) = &params.tz {
            match TimeZoneName::parse(raw) {
                Ok(zone) => {
                    filter.zone = zone.tz();
                    seal.add("tz", zone.as_str());
                }
                Err(_) => check(Err(issue(
                    "tz",
                    "time_zone_unknown",
                    format!(
                        "tz must be an IANA time zone name such as Europe/Berlin (got {:?})",
                        clip(raw)
                    ),
                ))),
            }
        }
        let zone = filter.zone;
        if let Some(raw) = &params.complete {
            check(boolean("complete", raw).map(|value| {
                filter.complete = Some(value);
                seal.add("complete", &value.to_string());
            }));
        }
        if !params.priority.is_empty() {
            check(priorities(&params.priority).map(|set| {
                seal.add(
                    "priority",
                    &set.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(","),
                );
                filter.priorities = set;
            }));
        }
        if !params.tag.is_empty() {
            check(tag_keys(&params.tag).map(|keys| {
                seal.add("tag", &keys.join("\u{1f}"));
                filter.tag_keys = keys;
            }));
        }
        if let Some(raw) = &params.due_before {
            check(due_bound("due_before", raw, zone).map(|bound| {
                seal.add("due_before", &bound.at_ms.to_string());
                filter.due_before = Some(bound);
            }));
        }
        if let Some(raw) = &params.due_after {
            check(due_bound("due_after", raw, zone).map(|bound| {
                seal.add("due_after", &bound.at_ms.to_string());
                filter.due_after = Some(bound);
            }));
        }
        if let Some(raw) = &params.overdue {
            check(boolean("overdue", raw).map(|value| {
                seal.add("overdue", &value.to_string());
                filter.overdue = Some((value, DueBound::new(now_ms, zone)));
            }));
        }
        if let Some(raw) = &params.q {
            check(search("q", raw).map(|text| {
                seal.add("q", &text);
                filter.text = Some(text);
            }));
        }
        let mut sort = Sort::default();
        if let Some(raw) = &params.sort {
            match Sort::parse(raw) {
                Some(parsed) => sort = parsed,
                None => check(Err(issue(
                    "sort",
                    "enum",
                    format!(
                        "sort must be one of {}, each optionally prefixed with - for descending (got {:?})",
                        SortKey::ALL.map(|(_, name)| name).join(", "),
                        clip(raw)
                    ),
                ))),
            }
        }
        seal.sort = sort.name();
        let mut limit = DEFAULT_LIMIT;
        if let Some(raw) = &params.limit {
            match raw.parse::<u32>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => limit = n,
                _ => check(Err(issue(
                    "limit",
                    "range",
                    format!(
                        "limit must be a whole number from 1 to {MAX_LIMIT} (got {:?})",
                        clip(raw)
                    ),
                ))),
            }
        }
        if !issues.is_empty() {
            return Err(ListRefusal::Invalid(issues));
        }
        let after = match &params.cursor {
            Some(raw) => Some(Cursor::decode(raw)?.continue_under(&seal, sort)?),
            None => None,
        };
        Ok(Self {
            query: PageQuery {
                filter,
                sort,
                after,
                limit,
            },
            seal,
        })
    }

    /// The cursor that continues this list after `last`.
    pub fn cursor_after(&self, last: &crate::domain::Task) -> String {
        let position = self.query.sort.position_of(last, self.query.filter.zone);
        Cursor {
            version: CURSOR_VERSION,
            user: self.seal.user.clone(),
            sort: self.seal.sort.clone(),
            filters: self.seal.filters.clone(),
            key: match position.value {
                SortValue::Int(n) => CursorKey::Int(n),
                SortValue::Text(text) => CursorKey::Text(text),
                SortValue::NoDue => CursorKey::NoDue,
            },
            id: position.id,
        }
        .encode()
    }
}

/// What a cursor is bound to: a fingerprint of the owner, the sort, and one of each filter.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seal {
    user: String,
    sort: String,
    filters: BTreeMap<String, String>,
}

impl Seal {
    fn new(owner: &UserId) -> Self {
        Self {
            user: fingerprint(owner.as_str()),
            sort: String::new(),
            filters: BTreeMap::new(),
        }
    }

    /// Seal the canonical form of one filter.
    fn add(&mut self, name: &str, canonical: &str) {
        self.filters.insert(name.to_owned(), fingerprint(canonical));
    }
}

/// A short, stable fingerprint (FNV-1a, 32 bits, hex). Not a secret and not a MAC: it only
/// tells whether two values differ.
pub(super) fn fingerprint(text: &str) -> String {
    let hash = text.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    format!("{hash:08x}")
}

const CURSOR_VERSION: u8 = 1;

/// The cursor's content.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cursor {
    #[serde(rename = "v")]
    version: u8,
    #[serde(rename = "u")]
    user: String,
    #[serde(rename = "s")]
    sort: String,
    #[serde(rename = "f", default, skip_serializing_if = "BTreeMap::is_empty")]
    filters: BTreeMap<String, String>,
    #[serde(rename = "k")]
    key: CursorKey,
    #[serde(rename = "i")]
    id: i64,
}

/// The sort value of the last task: a number, a folded title, or null for "no due".
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum CursorKey {
    Int(i64),
    Text(String),
    NoDue,
}

/// The refusal for a cursor that does not decode.
fn not_a_cursor() -> ListRefusal {
    ListRefusal::Cursor(
        "cursor is not valid: pass the next_cursor of a previous page unchanged".into(),
    )
}

impl Cursor {
    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(raw: &str) -> Result<Self, ListRefusal> {
        if raw.len() > 2048 {
            return Err(not_a_cursor());
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| not_a_cursor())?;
        let cursor: Self = serde_json::from_slice(&bytes).map_err(|_| not_a_cursor())?;
        if cursor.version != CURSOR_VERSION {
            return Err(not_a_cursor());
        }
        Ok(cursor)
    }

    /// The position to continue from, if this cursor was issued for `seal`.
    fn continue_under(self, seal: &Seal, sort: Sort) -> Result<Position, ListRefusal> {
        if self.user != seal.user {
            return Err(ListRefusal::Cursor(
                "cursor belongs to a list of another user".into(),
            ));
        }
        let mut differ: Vec<&str> = seal
            .filters
            .keys()
            .chain(self.filters.keys())
            .filter(|name| seal.filters.get(*name) != self.filters.get(*name))
            .map(String::as_str)
            .collect();
        if self.sort != seal.sort {
            differ.push("sort");
        }
        differ.sort_unstable();
        differ.dedup();
        if !differ.is_empty() {
            return Err(ListRefusal::Cursor(format!(
                "cursor was issued for a list with other parameters ({}): send the same filters and sort as the first page, or drop the cursor to start over",
                differ.join(", ")
            )));
        }
        let value = match (sort.key, self.key) {
            (SortKey::Title, CursorKey::Text(text)) => SortValue::Text(text),
            (SortKey::Title, _) | (_, CursorKey::Text(_)) => return Err(not_a_cursor()),
            (SortKey::Due, CursorKey::NoDue) => SortValue::NoDue,
            (_, CursorKey::NoDue) => return Err(not_a_cursor()),
            (_, CursorKey::Int(n)) => SortValue::Int(n),
        };
        Ok(Position { value, id: self.id })
    }
}

fn issue(name: &'static str, kind: &'static str, message: String) -> ParamIssue {
    ParamIssue {
        name,
        kind,
        message,
    }
}

/// At most 40 characters of a bad value, for messages.
fn clip(raw: &str) -> String {
    raw.chars().take(40).collect()
}

fn boolean(name: &'static str, raw: &str) -> Result<bool, ParamIssue> {
    match raw {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(issue(
            name,
            "bool_parsing",
            format!("{name} must be true or false (got {:?})", clip(raw)),
        )),
    }
}

/// Comma-separated or repeated priority names; the set, lowest first.
fn priorities(raw: &[String]) -> Result<Vec<Priority>, ParamIssue> {
    let mut set = Vec::new();
    for name in raw.iter().flat_map(|value| value.split(',')) {
        let priority = Priority::parse(name.trim()).map_err(|_| {
            issue(
                "priority",
                "enum",
                format!(
                    "priority must be one or more of none, low, medium, high, comma-separated or repeated (got {:?})",
                    clip(name)
                ),
            )
        })?;
        set.push(priority);
    }
    set.sort_unstable();
    set.dedup();
    Ok(set)
}

/// Repeated tags, each by the tag rules; their keys, sorted and without duplicates.
fn tag_keys(raw: &[String]) -> Result<Vec<String>, ParamIssue> {
    let mut keys = Vec::with_capacity(raw.len());
    for value in raw {
        let tag = Tag::parse(value).map_err(|e| issue("tag", e.kind, e.message))?;
        keys.push(tag.key().to_owned());
    }
    keys.sort_unstable();
    keys.dedup();
    if keys.len() > TAGS_MAX_ITEMS {
        return Err(issue(
            "tag",
            "too_long",
            format!(
                "at most {TAGS_MAX_ITEMS} different tags can be required at once (a task has at most {TAGS_MAX_ITEMS})"
            ),
        ));
    }
    Ok(keys)
}

/// An RFC 3339 date-time, or a date meaning the start of that day in `zone`.
fn due_bound(name: &'static str, raw: &str, zone: chrono_tz::Tz) -> Result<DueBound, ParamIssue> {
    let at_ms = if raw.len() == 10 {
        parse_calendar_date(raw).map(|date| start_of_day_ms(date, zone))
    } else {
        parse_instant_ms(raw)
    }
    .map_err(|_| {
        issue(
            name,
            "datetime_parsing",
            format!(
                "{name} must be an RFC 3339 date-time such as 2026-03-29T09:00:00Z or a date YYYY-MM-DD (got {:?})",
                clip(raw)
            ),
        )
    })?;
    Ok(DueBound::new(at_ms, zone))
}

/// Search text: 1 to 100 characters, no control characters; folded.
fn search(name: &'static str, raw: &str) -> Result<String, ParamIssue> {
    let chars = raw.chars().count();
    if chars == 0 || chars > SEARCH_MAX_CHARS {
        return Err(issue(
            name,
            "string_length",
            format!("{name} must be 1 to {SEARCH_MAX_CHARS} characters (got {chars})"),
        ));
    }
    if let Some(c) = raw.chars().find(|c| c.is_control()) {
        return Err(issue(
            name,
            "string_pattern_mismatch",
            format!(
                "{name} must not contain control characters (found U+{:04X})",
                u32::from(c)
            ),
        ));
    }
    Ok(fold(raw))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Task, list::SortValue};

    fn alice() -> UserId {
        UserId::new("alice")
    }

    fn params(pairs: &[(&str, &str)]) -> ListParams {
        let mut p = ListParams::default();
        for (name, value) in pairs {
            let value = (*value).to_owned();
            match *name {
                "complete" => p.complete = Some(value),
                "priority" => p.priority.push(value),
                "tag" => p.tag.push(value),
                "due_before" => p.due_before = Some(value),
                "due_after" => p.due_after = Some(value),
                "overdue" => p.overdue = Some(value),
                "tz" => p.tz = Some(value),
                "q" => p.q = Some(value),
                "sort" => p.sort = Some(value),
                "limit" => p.limit = Some(value),
                "cursor" => p.cursor = Some(value),
                other => panic!("unknown {other}"),
            }
        }
        p
    }

    fn task(id: i64, title: &str) -> Task {
        Task {
            id,
            user_id: "alice".into(),
            title: title.into(),
            description: None,
            complete: false,
            created_at_ms: 10 * id,
            updated_at_ms: 20 * id,
            priority: Priority::Low,
            tags: Vec::new(),
            due: None,
            time_zone: None,
            recurrence: None,
            completed_at_ms: None,
            occurrence: 1,
            next_task_id: None,
            version: 1,
        }
    }

    fn names(refusal: ListRefusal) -> Vec<&'static str> {
        match refusal {
            ListRefusal::Invalid(issues) => issues.into_iter().map(|i| i.name).collect(),
            other => panic!("expected invalid parameters, got {other:?}"),
        }
    }

    #[test]
    fn no_parameters_is_the_first_hundred_by_id() {
        let request = ListRequest::parse(&alice(), &ListParams::default(), 0).unwrap();
        assert_eq!(request.query.limit, DEFAULT_LIMIT);
        assert_eq!(request.query.sort, Sort::default());
        assert_eq!(request.query.after, None);
        assert_eq!(request.query.filter, TaskFilter::default());
    }

    #[test]
    fn every_bad_parameter_is_named_at_once() {
        let p = params(&[
            ("complete", "yes"),
            ("priority", "low,urgent"),
            ("tag", " "),
            ("due_before", "tomorrow"),
            ("due_after", "2026-02-30"),
            ("overdue", "1"),
            ("tz", "Mars/Olympus"),
            ("q", ""),
            ("sort", "-size"),
            ("limit", "501"),
        ]);
        let mut got = names(ListRequest::parse(&alice(), &p, 0).unwrap_err());
        got.sort_unstable();
        assert_eq!(
            got,
            [
                "complete",
                "due_after",
                "due_before",
                "limit",
                "overdue",
                "priority",
                "q",
                "sort",
                "tag",
                "tz"
            ]
        );
        for limit in ["0", "-1", "1.5", "", "ten"] {
            let p = params(&[("limit", limit)]);
            assert_eq!(
                names(ListRequest::parse(&alice(), &p, 0).unwrap_err()),
                ["limit"]
            );
        }
        let long = "x".repeat(SEARCH_MAX_CHARS + 1);
        for q in [long.as_str(), "a\u{7}b"] {
            let p = params(&[("q", q)]);
            assert_eq!(
                names(ListRequest::parse(&alice(), &p, 0).unwrap_err()),
                ["q"]
            );
        }
    }

    #[test]
    fn priorities_and_tags_are_sets_whichever_way_they_are_written() {
        let a = ListRequest::parse(
            &alice(),
            &params(&[("priority", "high,low"), ("priority", "low")]),
            0,
        )
        .unwrap();
        assert_eq!(a.query.filter.priorities, [Priority::Low, Priority::High]);
        let b = ListRequest::parse(
            &alice(),
            &params(&[("tag", "Work"), ("tag", " home "), ("tag", "WORK")]),
            0,
        )
        .unwrap();
        assert_eq!(b.query.filter.tag_keys, ["home", "work"]);
    }

    #[test]
    fn a_date_bound_is_the_start_of_that_day_in_tz() {
        let p = params(&[("due_before", "2026-06-01"), ("tz", "America/New_York")]);
        let request = ListRequest::parse(&alice(), &p, 0).unwrap();
        let bound = request.query.filter.due_before.unwrap();
        assert_eq!(
            bound.at_ms,
            parse_instant_ms("2026-06-01T04:00:00Z").unwrap()
        );
        assert_eq!(bound.date, parse_calendar_date("2026-06-01").unwrap());
    }

    #[test]
    fn a_cursor_continues_the_same_list_after_the_last_task() {
        let p = params(&[("sort", "-title"), ("q", "MILK"), ("limit", "2")]);
        let first = ListRequest::parse(&alice(), &p, 0).unwrap();
        let cursor = first.cursor_after(&task(7, "Buy Milk"));
        let next = params(&[
            ("sort", "-title"),
            ("q", "milk"),
            ("limit", "50"),
            ("cursor", &cursor),
        ]);
        let second = ListRequest::parse(&alice(), &next, 0).unwrap();
        assert_eq!(
            second.query.after,
            Some(Position {
                value: SortValue::Text("buy milk".into()),
                id: 7
            })
        );
        assert_eq!(second.query.limit, 50);
    }

    #[test]
    fn a_cursor_with_other_parameters_names_them() {
        let p = params(&[("complete", "false"), ("sort", "due")]);
        let cursor = ListRequest::parse(&alice(), &p, 0)
            .unwrap()
            .cursor_after(&task(3, "x"));
        let other = params(&[("tag", "work"), ("sort", "-due"), ("cursor", &cursor)]);
        let refusal = ListRequest::parse(&alice(), &other, 0).unwrap_err();
        let ListRefusal::Cursor(text) = refusal else {
            panic!("{refusal:?}")
        };
        assert!(text.contains("(complete, sort, tag)"), "{text}");
        let bob = ListRequest::parse(&UserId::new("bob"), &with_cursor(&p, &cursor), 0);
        assert_eq!(
            bob.unwrap_err(),
            ListRefusal::Cursor("cursor belongs to a list of another user".into())
        );
    }

    fn with_cursor(p: &ListParams, cursor: &str) -> ListParams {
        ListParams {
            cursor: Some(cursor.to_owned()),
            ..p.clone()
        }
    }

    #[test]
    fn garbage_and_tampered_cursors_are_refused() {
        let good = ListRequest::parse(&alice(), &ListParams::default(), 0)
            .unwrap()
            .cursor_after(&task(3, "x"));
        let json = String::from_utf8(URL_SAFE_NO_PAD.decode(&good).unwrap()).unwrap();
        let tampered = [
            json.replace("\"k\":3", "\"k\":\"x\""),
            json.replace("\"k\":3", "\"k\":null"),
            json.replace("\"v\":1", "\"v\":9"),
            json.replace('}', ",\"extra\":1}"),
            json.replace("\"i\":3", "\"i\":\"3\""),
        ];
        let mut bad: Vec<String> = tampered.iter().map(|j| URL_SAFE_NO_PAD.encode(j)).collect();
        bad.extend(["", "!!!", "eyJ9", &"A".repeat(4000)].map(String::from));
        for cursor in bad {
            let p = params(&[("cursor", &cursor)]);
            assert!(
                matches!(
                    ListRequest::parse(&alice(), &p, 0),
                    Err(ListRefusal::Cursor(_))
                ),
                "{cursor:?}"
            );
        }
    }
}
