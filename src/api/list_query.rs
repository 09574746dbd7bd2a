//! The query parameters of `GET /api/{user_id}/tasks`: documented with their real types, parsed
//! by the list use case's rules.
//!
//! `Deferred<T>` publishes `T`'s schema in the contract (a boolean, an integer 1..=500, an enum
//! of sort orders, ...) but only collects the raw text when extracting. The handler checks the
//! token first and then hands the text to `ListRequest::parse`, so an unauthenticated request is
//! a 401 whatever its query, and every bad value is a 422 that names the parameter, with one
//! set of messages shared with the MCP front door.

use std::{borrow::Cow, marker::PhantomData};

use poem_openapi::{
    Enum,
    registry::{MetaSchemaRef, Registry},
    types::{ParseFromParameter, ParseResult, ToJSON, Type},
};
use serde_json::Value;

/// The raw values of one query parameter, documented as a `T` (and as required when `REQUIRED`).
pub struct Deferred<T, const REQUIRED: bool = false> {
    values: Vec<String>,
    /// Shown as the parameter's default (or a required parameter's example) in the document.
    example: Option<Value>,
    _type: PhantomData<fn() -> T>,
}

impl<T, const REQUIRED: bool> Deferred<T, REQUIRED> {
    /// A value that exists only to be shown in the document.
    pub fn documented(example: Value) -> Self {
        Self {
            values: Vec::new(),
            example: Some(example),
            _type: PhantomData,
        }
    }

    /// The first value, if the parameter was sent.
    pub fn first(&self) -> Option<String> {
        self.values.first().cloned()
    }

    /// Every value, in the order sent.
    pub fn all(&self) -> Vec<String> {
        self.values.clone()
    }
}

impl<T: Type, const REQUIRED: bool> Type for Deferred<T, REQUIRED> {
    const IS_REQUIRED: bool = REQUIRED;
    type RawValueType = T::RawValueType;
    type RawElementValueType = T::RawElementValueType;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    /// Never a typed value: validators declared on the parameter only document the rule, which
    /// the use case enforces.
    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        None
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(std::iter::empty())
    }

    fn is_none(&self) -> bool {
        self.values.is_empty()
    }
}

impl<T: Type, const REQUIRED: bool> ParseFromParameter for Deferred<T, REQUIRED> {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Self::parse_from_parameters([value])
    }

    fn parse_from_parameters<I: IntoIterator<Item = A>, A: AsRef<str>>(
        iter: I,
    ) -> ParseResult<Self> {
        Ok(Self {
            values: iter.into_iter().map(|v| v.as_ref().to_owned()).collect(),
            example: None,
            _type: PhantomData,
        })
    }
}

impl<T: Type, const REQUIRED: bool> ToJSON for Deferred<T, REQUIRED> {
    fn to_json(&self) -> Option<Value> {
        self.example.clone()
    }
}

/// The orders a list can be sorted in: a field, descending with a `-` prefix. Ties are broken by
/// id in the same direction; `due` puts tasks without a due last either way; `priority` orders
/// `none < low < medium < high` (so `-priority` is most important first); `title` compares
/// case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "TaskSort")]
pub enum TaskSort {
    #[oai(rename = "id")]
    Id,
    #[oai(rename = "-id")]
    IdDesc,
    #[oai(rename = "created_at")]
    CreatedAt,
    #[oai(rename = "-created_at")]
    CreatedAtDesc,
    #[oai(rename = "updated_at")]
    UpdatedAt,
    #[oai(rename = "-updated_at")]
    UpdatedAtDesc,
    #[oai(rename = "due")]
    Due,
    #[oai(rename = "-due")]
    DueDesc,
    #[oai(rename = "priority")]
    Priority,
    #[oai(rename = "-priority")]
    PriorityDesc,
    #[oai(rename = "title")]
    Title,
    #[oai(rename = "-title")]
    TitleDesc,
}

/// What the document shows as a parameter's value: only a default the server applies anyway, or
/// the example of a required parameter. An optional parameter never carries an example, since
/// Swagger UI would send it on a first "Try it out" (a sample cursor is another user's, sample
/// filters hide every task); its examples are in its description instead.
pub mod shown {
    use serde_json::json;

    use super::Deferred;
    use crate::tasks::list::DEFAULT_LIMIT;

    pub fn limit() -> Deferred<u32> {
        Deferred::documented(json!(DEFAULT_LIMIT))
    }
    pub fn clear_complete() -> Deferred<bool, true> {
        Deferred::documented(json!(true))
    }
}
