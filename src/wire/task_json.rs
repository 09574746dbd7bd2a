//! Tasks and lists of tasks written straight into JSON bytes: the bodies of the busiest
//! responses (a list of 100 is ~2,500 JSON strings).
//!
//! serde_json escapes every object key on every write, one small buffer write at a time; here
//! each key is part of a literal, and a value is copied in one piece unless it has a character
//! JSON must escape (then serde_json writes it, so escaping is serde_json's own). The output is
//! byte for byte what `serde_json::to_vec` makes of the same `TaskView` or `TaskList`: the tests
//! below hold the two equal, field by field, so a field added to the schema and not here fails
//! them.

use super::{
    rfc3339,
    schemas::{Priority, TaskList, TaskView, Timestamp},
};

/// A response body that writes its own compact JSON.
pub trait WriteJson {
    /// Append `self` as JSON to `out`.
    fn write_json(&self, out: &mut Vec<u8>);
}

impl WriteJson for TaskList {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"tasks\":[");
        for (n, task) in self.tasks.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            task.write_json(out);
        }
        out.extend_from_slice(b"],\"count\":");
        int(out, self.count);
        out.extend_from_slice(b",\"total\":");
        int(out, self.total);
        out.extend_from_slice(b",\"next_cursor\":");
        nullable(out, self.next_cursor.0.as_deref(), string);
        out.extend_from_slice(b",\"sync_cursor\":");
        string(out, &self.sync_cursor);
        out.push(b'}');
    }
}

impl WriteJson for TaskView {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"id\":");
        int(out, self.id);
        out.extend_from_slice(b",\"user_id\":");
        string(out, &self.user_id);
        out.extend_from_slice(b",\"title\":");
        string(out, &self.title.0);
        out.extend_from_slice(b",\"description\":");
        nullable(out, self.description.0.as_deref(), string);
        out.extend_from_slice(if self.complete {
            b",\"complete\":true,\"created_at\":"
        } else {
            b",\"complete\":false,\"created_at\":"
        });
        timestamp(out, self.created_at);
        out.extend_from_slice(b",\"updated_at\":");
        timestamp(out, self.updated_at);
        out.extend_from_slice(match self.priority {
            Priority::None => b",\"priority\":\"none\",\"tags\":[",
            Priority::Low => b",\"priority\":\"low\",\"tags\":[",
            Priority::Medium => b",\"priority\":\"medium\",\"tags\":[",
            Priority::High => b",\"priority\":\"high\",\"tags\":[",
        });
        for (n, tag) in self.tags.0.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            string(out, tag);
        }
        out.extend_from_slice(b"],\"due_at\":");
        nullable(out, self.due_at.0, timestamp);
        out.extend_from_slice(b",\"due_date\":");
        nullable(out, self.due_date.0.as_ref().map(|d| d.0.as_str()), string);
        out.extend_from_slice(b",\"time_zone\":");
        nullable(out, self.time_zone.0.as_ref().map(|z| z.0.as_str()), string);
        out.extend_from_slice(b",\"recurrence\":");
        nullable(
            out,
            self.recurrence.0.as_ref().map(|r| r.0.as_str()),
            string,
        );
        out.extend_from_slice(b",\"completed_at\":");
        nullable(out, self.completed_at.0, timestamp);
        out.extend_from_slice(b",\"next_occurrence_id\":");
        nullable(out, self.next_occurrence_id.0, int);
        out.extend_from_slice(b",\"version\":");
        int(out, self.version);
        out.push(b'}');
    }
}

/// `value` written by `write`, or `null`.
fn nullable<T>(out: &mut Vec<u8>, value: Option<T>, write: fn(&mut Vec<u8>, T)) {
    match value {
        Some(value) => write(out, value),
        None => out.extend_from_slice(b"null"),
    }
}

fn int(out: &mut Vec<u8>, value: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// A JSON string. Most values need no escaping and are copied whole; the rest go through
/// serde_json.
fn string(out: &mut Vec<u8>, value: &str) {
    let plain = value.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\');
    if plain {
        out.reserve(value.len() + 2);
        out.push(b'"');
        out.extend_from_slice(value.as_bytes());
        out.push(b'"');
    } else {
        // Writing into a vector cannot fail, and a `str` always serialises.
        let _ = serde_json::to_writer(&mut *out, value);
    }
}

fn timestamp(out: &mut Vec<u8>, at: Timestamp) {
    match rfc3339::format_millis(at.0) {
        Some(text) => {
            out.push(b'"');
            out.extend_from_slice(&text);
            out.push(b'"');
        }
        None => string(out, &at.to_rfc3339()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::schemas::{
        DateText, Description, Nullable, RecurrenceText, TagNames, TimeZoneText, Title,
    };

    fn written<T: WriteJson>(value: &T) -> String {
        let mut out = Vec::new();
        value.write_json(&mut out);
        String::from_utf8(out).expect("UTF-8")
    }

    fn by_serde<T: serde::Serialize>(value: &T) -> String {
        serde_json::to_string(value).expect("serialises")
    }

    /// Every field set, with text JSON must escape and text it must not.
    fn full_task(text: &str) -> TaskView {
        TaskView {
            id: i64::MAX,
            user_id: format!("user {text}"),
            title: Title(text.to_owned()),
            description: Description(Some(format!("{text}\n{text}"))),
            complete: true,
            created_at: Timestamp(0),
            updated_at: Timestamp(1_764_892_800_123),
            priority: Priority::High,
            tags: TagNames(vec![text.to_owned(), "work".to_owned()]),
            due_at: Nullable(Some(Timestamp(-1))),
            due_date: Nullable(Some(DateText("2026-12-05".to_owned()))),
            time_zone: Nullable(Some(TimeZoneText("Europe/Berlin".to_owned()))),
            recurrence: Nullable(Some(RecurrenceText(format!("FREQ=DAILY;X={text}")))),
            completed_at: Nullable(Some(Timestamp(253_402_300_800_000))),
            next_occurrence_id: Nullable(Some(7)),
            version: i64::MAX,
        }
    }

    /// Every optional field empty.
    fn bare_task(priority: Priority) -> TaskView {
        TaskView {
            id: 1,
            user_id: "u".to_owned(),
            title: Title("t".to_owned()),
            description: Description(None),
            complete: false,
            created_at: Timestamp(1),
            updated_at: Timestamp(2),
            priority,
            tags: TagNames(Vec::new()),
            due_at: Nullable(None),
            due_date: Nullable(None),
            time_zone: Nullable(None),
            recurrence: Nullable(None),
            completed_at: Nullable(None),
            next_occurrence_id: Nullable(None),
            version: 1,
        }
    }

    const TEXTS: &[&str] = &[
        "plain words",
        "",
        "quote \" and backslash \\",
        "controls \u{0} \u{1} \u{8} \t \n \u{b} \u{c} \r \u{1f} and del \u{7f}",
        "Ärger, ß, 日本語, emoji 🎉, </script>",
        "\u{2028}\u{2029}",
    ];

    #[test]
    fn a_task_is_written_as_serde_json_writes_it() {
        for text in TEXTS {
            let task = full_task(text);
            assert_eq!(written(&task), by_serde(&task), "{text:?}");
        }
        for priority in [
            Priority::None,
            Priority::Low,
            Priority::Medium,
            Priority::High,
        ] {
            let task = bare_task(priority);
            assert_eq!(written(&task), by_serde(&task));
        }
    }

    #[test]
    fn timestamps_outside_four_digit_years_are_written_as_serde_json_writes_them() {
        for at in [i64::MIN, -62_167_219_200_001, 253_402_300_800_000, i64::MAX] {
            let mut task = bare_task(Priority::None);
            task.created_at = Timestamp(at);
            task.due_at = Nullable(Some(Timestamp(at)));
            assert_eq!(written(&task), by_serde(&task), "{at}");
        }
    }

    #[test]
    fn a_list_is_written_as_serde_json_writes_it() {
        let empty = TaskList {
            tasks: Vec::new(),
            count: 0,
            total: 0,
            next_cursor: Nullable(None),
            sync_cursor: "c".to_owned(),
        };
        assert_eq!(written(&empty), by_serde(&empty));
        let page = TaskList {
            tasks: TEXTS
                .iter()
                .map(|t| full_task(t))
                .chain([bare_task(Priority::Low)])
                .collect(),
            count: 7,
            total: 1_000_000,
            next_cursor: Nullable(Some("eyJ2IjoxfQ\"x".to_owned())),
            sync_cursor: "eyJ2Ijox\"fQ".to_owned(),
        };
        assert_eq!(written(&page), by_serde(&page));
    }
}
