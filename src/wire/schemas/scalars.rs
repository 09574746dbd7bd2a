//! The scalar schemas every body is made of: instants, titles, descriptions, dates, zones,
//! rules, tags and priorities, with limits taken from the domain's constants.

use std::borrow::Cow;

use poem_openapi::{
    Enum,
    registry::{MetaSchema, MetaSchemaRef},
    types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type},
};
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::domain::{
    self, DESCRIPTION_MAX_CHARS,
    recurrence::RECURRENCE_MAX_CHARS,
    tags::{TAG_MAX_CHARS, TAGS_MAX_ITEMS},
};

/// An instant, as RFC 3339 UTC with millisecond precision and a `Z` suffix.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Self {
        Self(domain::now_ms())
    }

    pub fn to_rfc3339(self) -> String {
        chrono::DateTime::from_timestamp_millis(self.0)
            .unwrap_or_default()
            // `to_rfc3339_opts` writes directly; `format(..)` re-parses its pattern on every call.
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }
}

impl Type for Timestamp {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string_date-time".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            example: Some(Value::String("2025-12-24T10:00:00.123Z".into())),
            ..MetaSchema::new_with_format("string", "date-time")
        }))
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for Timestamp {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(s)) => chrono::DateTime::parse_from_rfc3339(&s)
                .map(|t| Self(t.timestamp_millis()))
                .map_err(|e| ParseError::custom(e.to_string())),
            other => Err(ParseError::expected_type(other.unwrap_or_default())),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match crate::wire::rfc3339::format_millis(self.0) {
            // ASCII digits and separators only.
            Some(text) => serializer.serialize_str(std::str::from_utf8(&text).unwrap_or_default()),
            None => serializer.serialize_str(&self.to_rfc3339()),
        }
    }
}

impl ToJSON for Timestamp {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.to_rfc3339()))
    }
}

/// Implements the poem-openapi traits of a one-string schema type whose schema is built in code,
/// so its limits come from the domain's constants rather than from literals in attributes.
macro_rules! string_schema {
    ($ty:ident, $name:literal, $schema:expr) => {
        impl Type for $ty {
            const IS_REQUIRED: bool = true;
            type RawValueType = Self;
            type RawElementValueType = Self;

            fn name() -> Cow<'static, str> {
                $name.into()
            }

            fn schema_ref() -> MetaSchemaRef {
                MetaSchemaRef::Inline(Box::new($schema))
            }

            fn as_raw_value(&self) -> Option<&Self> {
                Some(self)
            }

            fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
                Box::new(self.as_raw_value().into_iter())
            }
        }

        impl ParseFromJSON for $ty {
            fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
                match value {
                    Some(Value::String(s)) => Ok(Self(s)),
                    other => Err(ParseError::expected_type(other.unwrap_or_default())),
                }
            }
        }

        impl ToJSON for $ty {
            fn to_json(&self) -> Option<Value> {
                Some(Value::String(self.0.clone()))
            }
        }
    };
}

/// A title as the server returns it: 1 to `TITLE_MAX_CHARS` characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Title(pub String);

string_schema!(
    Title,
    "string_title",
    MetaSchema {
        min_length: Some(1),
        max_length: Some(domain::TITLE_MAX_CHARS),
        ..MetaSchema::new("string")
    }
);

/// A title as a client sends it: as `Title`, with at least one character that is not whitespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TitleInput(pub String);

string_schema!(
    TitleInput,
    "string_title_input",
    MetaSchema {
        min_length: Some(1),
        max_length: Some(domain::TITLE_MAX_CHARS),
        pattern: Some(r"\S".into()),
        ..MetaSchema::new("string")
    }
);

/// A value that is always present in responses but may be `null`; optional and nullable in
/// requests when wrapped in `Option`. Only for inline schemas (a `$ref` cannot carry `nullable`
/// without an `allOf`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nullable<T>(pub Option<T>);

impl<T> Default for Nullable<T> {
    fn default() -> Self {
        Self(None)
    }
}

impl<T: Type> Type for Nullable<T> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        format!("nullable_{}", T::name()).into()
    }

    fn schema_ref() -> MetaSchemaRef {
        match T::schema_ref() {
            MetaSchemaRef::Inline(schema) => MetaSchemaRef::Inline(Box::new(MetaSchema {
                nullable: true,
                ..*schema
            })),
            reference => reference,
        }
    }

    fn register(registry: &mut poem_openapi::registry::Registry) {
        T::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl<T: ParseFromJSON> ParseFromJSON for Nullable<T> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            None | Some(Value::Null) => Ok(Self(None)),
            value => T::parse_from_json(value)
                .map(|v| Self(Some(v)))
                .map_err(ParseError::propagate),
        }
    }
}

impl<T: ToJSON> ToJSON for Nullable<T> {
    fn to_json(&self) -> Option<Value> {
        Some(self.0.as_ref().and_then(T::to_json).unwrap_or(Value::Null))
    }
}

impl<T: Serialize> Serialize for Nullable<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// An all-day date, `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DateText(pub String);

string_schema!(
    DateText,
    "string_date",
    MetaSchema {
        example: Some(Value::String("2026-04-30".into())),
        ..MetaSchema::new_with_format("string", "date")
    }
);

/// An IANA time zone name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct TimeZoneText(pub String);

string_schema!(
    TimeZoneText,
    "string_time_zone",
    MetaSchema {
        max_length: Some(64),
        example: Some(Value::String("Europe/Berlin".into())),
        ..MetaSchema::new("string")
    }
);

/// An RFC 5545 recurrence rule (the RRULE value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct RecurrenceText(pub String);

string_schema!(
    RecurrenceText,
    "string_recurrence",
    MetaSchema {
        max_length: Some(RECURRENCE_MAX_CHARS),
        example: Some(Value::String("FREQ=WEEKLY;BYDAY=MO,WE".into())),
        ..MetaSchema::new("string")
    }
);

/// A task's tags: at most `TAGS_MAX_ITEMS`, each 1 to `TAG_MAX_CHARS` characters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct TagNames(pub Vec<String>);

impl Type for TagNames {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "tag_names".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            items: Some(Box::new(MetaSchemaRef::Inline(Box::new(MetaSchema {
                min_length: Some(1),
                max_length: Some(TAG_MAX_CHARS),
                ..MetaSchema::new("string")
            })))),
            max_items: Some(TAGS_MAX_ITEMS),
            example: Some(serde_json::json!(["home", "errands"])),
            ..MetaSchema::new("array")
        }))
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for TagNames {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        Vec::<String>::parse_from_json(value)
            .map(Self)
            .map_err(ParseError::propagate)
    }
}

impl ToJSON for TagNames {
    fn to_json(&self) -> Option<Value> {
        self.0.to_json()
    }
}

/// How important a task is: `none` (the default), `low`, `medium` or `high`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Serialize)]
#[oai(rename = "Priority", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    None,
    Low,
    Medium,
    High,
}

impl From<domain::Priority> for Priority {
    fn from(p: domain::Priority) -> Self {
        match p {
            domain::Priority::None => Self::None,
            domain::Priority::Low => Self::Low,
            domain::Priority::Medium => Self::Medium,
            domain::Priority::High => Self::High,
        }
    }
}

/// A description that is always present in the document but may be `null`:
/// `{"type": "string", "nullable": true, "maxLength": 1000}`, listed as required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(pub Option<String>);

impl Type for Description {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "nullable_string".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            nullable: true,
            max_length: Some(DESCRIPTION_MAX_CHARS),
            description: Some("Free text, at most 1000 characters, or null for none."),
            example: Some(Value::String("2 litres, semi-skimmed".into())),
            ..MetaSchema::new("string")
        }))
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for Description {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            None | Some(Value::Null) => Ok(Self(None)),
            Some(Value::String(s)) => Ok(Self(Some(s))),
            Some(other) => Err(ParseError::expected_type(other)),
        }
    }
}

impl Serialize for Description {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl ToJSON for Description {
    fn to_json(&self) -> Option<Value> {
        Some(self.0.clone().map(Value::String).unwrap_or(Value::Null))
    }
}
