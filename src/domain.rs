//! The task domain: validated value types and the rules a task obeys, independent of HTTP and storage.
//!
//! "Parse, don't validate": a `TaskTitle` or `TaskDescription` can only exist if it is valid, so the
//! store and the handlers never re-check lengths. The newer task fields live in submodules with the
//! same style: `priority`, `tags`, `due` (`due_at` / `due_date`), `time_zone`, `recurrence` (RRULE
//! parsing and the next-occurrence rule) and `schedule` (the rules that tie due, zone and
//! recurrence together), and `sync` (versions, feed positions and idempotency keys).

use std::fmt;

pub mod due;
pub mod list;
pub mod priority;
pub mod recurrence;
pub mod schedule;
pub mod sync;
pub mod tags;
pub mod task;
pub mod time_zone;

pub use due::Due;
pub use priority::Priority;
pub use recurrence::{Recurrence, next_occurrence};
pub use schedule::Schedule;
pub use tags::{Tag, Tags, TagsError};
pub use task::{NewTask, Task, TaskChanges, TaskEdit, TaskReplacement, TaskWrite};
pub use time_zone::TimeZoneName;

/// Longest title accepted, in Unicode scalar values.
pub const TITLE_MAX_CHARS: usize = 200;
/// Longest description accepted, in Unicode scalar values.
pub const DESCRIPTION_MAX_CHARS: usize = 1000;

/// Why a value was rejected; the `kind` is a stable machine-readable word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainError {
    pub kind: &'static str,
    pub message: String,
}

impl DomainError {
    fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DomainError {}

/// Why a due, zone and recurrence were rejected, and which request field to blame
/// (`"recurrence"` for the rules of [`Schedule::new`]; `"due_at"` or `"due_date"` from
/// [`Due::from_fields`]), so the API can report `loc: ["body", field]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleError {
    pub field: &'static str,
    pub error: DomainError,
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.error.message)
    }
}

impl std::error::Error for ScheduleError {}

/// The authenticated owner of tasks: the token's `sub`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserId(String);

impl UserId {
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A task's server-assigned identifier.
pub type TaskId = i64;

/// A title: 1..=200 characters with at least one that is not whitespace, stored exactly as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskTitle(String);

impl TaskTitle {
    pub fn parse(raw: String) -> Result<Self, DomainError> {
        reject_nul("title", &raw)?;
        if raw.trim().is_empty() {
            return Err(DomainError::new(
                "string_blank",
                "title must contain at least one non-whitespace character",
            ));
        }
        let chars = raw.chars().count();
        if chars > TITLE_MAX_CHARS {
            return Err(DomainError::new(
                "string_too_long",
                format!("title must be at most {TITLE_MAX_CHARS} characters (got {chars})"),
            ));
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A description: at most 1000 characters (an empty string is allowed and kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDescription(String);

impl TaskDescription {
    pub fn parse(raw: String) -> Result<Self, DomainError> {
        reject_nul("description", &raw)?;
        let chars = raw.chars().count();
        if chars > DESCRIPTION_MAX_CHARS {
            return Err(DomainError::new(
                "string_too_long",
                format!(
                    "description must be at most {DESCRIPTION_MAX_CHARS} characters (got {chars})"
                ),
            ));
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// PostgreSQL cannot store U+0000 in text, so neither backend accepts it: the same request gets
/// the same answer whichever database is configured.
fn reject_nul(field: &str, raw: &str) -> Result<(), DomainError> {
    if raw.contains('\0') {
        return Err(DomainError::new(
            "string_pattern_mismatch",
            format!("{field} must not contain the NUL character (U+0000)"),
        ));
    }
    Ok(())
}

/// Current time in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_of_200_characters_is_accepted_and_201_is_rejected() {
        assert!(TaskTitle::parse("a".repeat(200)).is_ok());
        let err = TaskTitle::parse("a".repeat(201)).unwrap_err();
        assert_eq!(err.kind, "string_too_long");
    }

    #[test]
    fn title_length_counts_characters_not_bytes() {
        // 200 four-byte characters are 800 bytes but still 200 characters.
        assert!(TaskTitle::parse("🦀".repeat(200)).is_ok());
        assert!(TaskTitle::parse("é".repeat(201)).is_err());
    }

    #[test]
    fn blank_titles_are_rejected_and_titles_are_kept_verbatim() {
        for blank in ["", " ", "\t\n", "\u{3000}"] {
            assert_eq!(
                TaskTitle::parse(blank.to_owned()).unwrap_err().kind,
                "string_blank",
                "{blank:?} should be blank"
            );
        }
        assert_eq!(
            TaskTitle::parse("  milk ".into()).unwrap().as_str(),
            "  milk "
        );
    }

    #[test]
    fn the_nul_character_is_rejected_in_titles_and_descriptions() {
        assert_eq!(
            TaskTitle::parse("a\0b".into()).unwrap_err().kind,
            "string_pattern_mismatch"
        );
        assert_eq!(
            TaskDescription::parse("\0".into()).unwrap_err().kind,
            "string_pattern_mismatch"
        );
    }

    #[test]
    fn a_description_of_1000_characters_is_accepted_and_1001_is_rejected() {
        assert!(TaskDescription::parse("d".repeat(1000)).is_ok());
        assert!(TaskDescription::parse(String::new()).is_ok());
        assert_eq!(
            TaskDescription::parse("d".repeat(1001)).unwrap_err().kind,
            "string_too_long"
        );
    }
}
