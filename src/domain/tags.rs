//! A task's tags: the rules for one tag (trimmed, 1..=50 characters, no control characters) and
//! for the list (at most 20, unique case-insensitively, first spelling kept, order kept).

use std::collections::HashSet;
use std::fmt;

use super::DomainError;

/// Most tags on one task (counted as sent, before duplicates are dropped).
pub const TAGS_MAX_ITEMS: usize = 20;
/// Longest tag, in Unicode scalar values after trimming.
pub const TAG_MAX_CHARS: usize = 50;

/// One tag: trimmed of surrounding whitespace, 1..=50 characters, no control characters.
///
/// Two tags name the same tag when their [`key`](Tag::key)s (Unicode lowercase) are equal;
/// `==` compares the spelling too, so a change from `work` to `Work` is still a change.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tag {
    text: String,
    key: String,
}

impl Tag {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(DomainError::new(
                "string_blank",
                "a tag must contain at least one non-whitespace character",
            ));
        }
        let chars = text.chars().count();
        if chars > TAG_MAX_CHARS {
            return Err(DomainError::new(
                "string_too_long",
                format!("a tag must be at most {TAG_MAX_CHARS} characters (got {chars})"),
            ));
        }
        if let Some(c) = text.chars().find(|c| c.is_control()) {
            return Err(DomainError::new(
                "string_pattern_mismatch",
                format!(
                    "a tag must not contain control characters (found U+{:04X})",
                    u32::from(c)
                ),
            ));
        }
        Ok(Self {
            text: text.to_owned(),
            key: text.to_lowercase(),
        })
    }

    /// The tag as kept: trimmed, in its original case.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The case-insensitive matching key: the Unicode lowercase of the tag. Use it to compare,
    /// index and filter tags; show [`as_str`](Tag::as_str).
    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn into_inner(self) -> String {
        self.text
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The lowercase key a tag filter (for example `?tag=Work`) matches on, without the tag rules:
/// trimmed, then Unicode lowercase.
pub fn tag_key(raw: &str) -> String {
    raw.trim().to_lowercase()
}

/// Why a tag list was rejected, and which item (0-based, in the list as sent) is at fault;
/// `index` is `None` when the list as a whole is wrong (too many items), so the API reports
/// `loc: ["body", "tags", "3"]` or `loc: ["body", "tags"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagsError {
    pub index: Option<usize>,
    pub error: DomainError,
}

impl fmt::Display for TagsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.error.message)
    }
}

impl std::error::Error for TagsError {}

/// A task's tags: at most 20, no two with the same key, in the order given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tags(Vec<Tag>);

impl Tags {
    /// Parses a list as sent. More than 20 items is an error even if some are duplicates; the
    /// first bad item is reported by index; a later spelling of a tag already in the list
    /// (compared by [`Tag::key`]) is dropped silently, keeping the first spelling and position.
    pub fn parse<S: AsRef<str>>(raw: &[S]) -> Result<Self, TagsError> {
        if raw.len() > TAGS_MAX_ITEMS {
            return Err(TagsError {
                index: None,
                error: DomainError::new(
                    "too_long",
                    format!(
                        "a task can have at most {TAGS_MAX_ITEMS} tags (got {})",
                        raw.len()
                    ),
                ),
            });
        }
        let mut seen = HashSet::with_capacity(raw.len());
        let mut tags = Vec::with_capacity(raw.len());
        for (index, item) in raw.iter().enumerate() {
            let tag = Tag::parse(item.as_ref()).map_err(|e| TagsError {
                index: Some(index),
                error: DomainError::new(e.kind, format!("tags[{index}]: {}", e.message)),
            })?;
            if seen.insert(tag.key.clone()) {
                tags.push(tag);
            }
        }
        Ok(Self(tags))
    }

    pub fn as_slice(&self) -> &[Tag] {
        &self.0
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Tag> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether a tag with this key (see [`tag_key`]) is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.0.iter().any(|t| t.key == key)
    }

    /// The tags as kept, in order.
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(|t| t.text.clone()).collect()
    }

    pub fn into_vec(self) -> Vec<Tag> {
        self.0
    }
}

impl<'a> IntoIterator for &'a Tags {
    type Item = &'a Tag;
    type IntoIter = std::slice::Iter<'a, Tag>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(tags: &Tags) -> Vec<&str> {
        tags.iter().map(Tag::as_str).collect()
    }

    #[test]
    fn tags_are_trimmed_and_kept_in_the_order_given() {
        let tags = Tags::parse(&["  work ", "home", "\tErrands\n"]).unwrap();
        assert_eq!(texts(&tags), ["work", "home", "Errands"]);
    }

    #[test]
    fn no_tags_is_fine() {
        let none: [&str; 0] = [];
        assert!(Tags::parse(&none).unwrap().is_empty());
    }

    #[test]
    fn twenty_tags_are_accepted_and_twenty_one_are_rejected_as_a_whole() {
        let twenty: Vec<String> = (0..20).map(|i| format!("t{i}")).collect();
        assert_eq!(Tags::parse(&twenty).unwrap().len(), 20);

        let twenty_one: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        let err = Tags::parse(&twenty_one).unwrap_err();
        assert_eq!(err.index, None);
        assert_eq!(err.error.kind, "too_long");
    }

    #[test]
    fn twenty_one_items_are_rejected_even_when_duplicates_would_leave_twenty() {
        let mut items: Vec<String> = (0..20).map(|i| format!("t{i}")).collect();
        items.push("T0".into());
        assert_eq!(Tags::parse(&items).unwrap_err().index, None);
    }

    #[test]
    fn a_tag_of_50_characters_is_accepted_and_51_is_rejected_with_its_index() {
        assert!(Tag::parse(&"a".repeat(50)).is_ok());
        // Characters, not bytes; and counted after trimming.
        assert!(Tag::parse(&format!("  {}  ", "🦀".repeat(50))).is_ok());

        let err = Tags::parse(&["ok", "fine", "good", &"x".repeat(51)]).unwrap_err();
        assert_eq!(err.index, Some(3));
        assert_eq!(err.error.kind, "string_too_long");
        assert!(err.error.message.starts_with("tags[3]: "), "{err}");
    }

    #[test]
    fn blank_tags_are_rejected_with_their_index() {
        for blank in ["", "   ", "\u{3000}"] {
            let err = Tags::parse(&["a", blank]).unwrap_err();
            assert_eq!(err.index, Some(1));
            assert_eq!(err.error.kind, "string_blank");
        }
    }

    #[test]
    fn control_characters_inside_a_tag_are_rejected() {
        for bad in [
            "a\u{0}b",
            "a\nb",
            "a\tb",
            "bell\u{7}",
            "del\u{7f}x",
            "c1\u{85}x",
        ] {
            let err = Tags::parse(&[bad]).unwrap_err();
            assert_eq!(err.index, Some(0), "{bad:?}");
            assert_eq!(err.error.kind, "string_pattern_mismatch", "{bad:?}");
        }
        // Non-control Unicode is fine.
        assert!(Tag::parse("café ☕ 東京").is_ok());
    }

    #[test]
    fn duplicates_differing_in_case_are_dropped_keeping_the_first_spelling() {
        let tags = Tags::parse(&["Work", "home", "WORK", " work ", "Home", "ÉTÉ", "été"]).unwrap();
        assert_eq!(texts(&tags), ["Work", "home", "ÉTÉ"]);
    }

    #[test]
    fn the_key_is_the_unicode_lowercase() {
        let tag = Tag::parse(" Straße ÉTÉ ΣΟΦΙΑ ").unwrap();
        assert_eq!(tag.as_str(), "Straße ÉTÉ ΣΟΦΙΑ");
        assert_eq!(tag.key(), "straße été σοφια");
        assert_eq!(tag_key("  WORK "), "work");
        assert_eq!(
            Tag::parse("Work").unwrap().key(),
            Tag::parse("wORK").unwrap().key()
        );
        assert_ne!(Tag::parse("Work").unwrap(), Tag::parse("work").unwrap());
        let tags = Tags::parse(&["Work"]).unwrap();
        assert!(tags.contains_key(&tag_key("WORK")));
    }

    #[test]
    fn the_first_bad_item_is_reported() {
        let err = Tags::parse(&["ok", "", &"x".repeat(51)]).unwrap_err();
        assert_eq!(err.index, Some(1));
    }
}
