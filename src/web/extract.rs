//! Request extractors that turn every kind of bad input into a precise problem: malformed
//! JSON is a 400, a well-formed body with a wrong or missing field is a 422 naming that field.

use std::future::Future;
use std::pin::Pin;

use actix_web::error::PayloadError;
use actix_web::{http::header, web, FromRequest, HttpRequest};
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::core::admin::Page;
use crate::domain::field::FieldError;
use crate::web::problem::ApiError;

/// Largest JSON body the API accepts.
pub const JSON_LIMIT: usize = 64 * 1024;

/// A JSON body deserialised with field-precise errors.
#[derive(Debug)]
pub struct Json<T>(pub T);

fn field_error_from_path<E: std::fmt::Display>(path: String, err: E) -> FieldError {
    let message = err.to_string();
    // serde reports a missing field at its parent's path; name the field itself.
    let field = match message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        Some(missing) if path == "." || path.is_empty() => missing.to_string(),
        Some(missing) => format!("{path}.{missing}"),
        None if path == "." || path.is_empty() => "body".to_string(),
        None => path,
    };
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_string();
    FieldError::new(field, message)
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("malformed JSON: {e}")))?;
    // serde would read a struct from an array too; every body of this API is an object.
    if !value.is_object() {
        return Err(ApiError::invalid("body", "must be a JSON object"));
    }
    from_value(value)
}

/// An input type from a JSON value, with the failing field named (the dashboard's forms build
/// the API's bodies and check them here, the same way).
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    // PostgreSQL text cannot hold NUL, and no field of this API means one: refuse it by name
    // wherever it hides (keys included), rather than per field in every handler.
    if let Some(field) = nul_at(&value, String::new()) {
        return Err(ApiError::invalid(field, "must not contain a NUL character"));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        ApiError::Validation(vec![field_error_from_path(path, e.into_inner())])
    })
}

/// The path of the first string (or key) in `value` that holds a NUL character.
fn nul_at(value: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::String(s) if s.contains('\0') => {
            Some(if path.is_empty() { "body".into() } else { path })
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_at(v, format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.contains('\0') {
                Some(join(&k.replace('\0', "\\u0000")))
            } else {
                nul_at(v, join(k))
            }
        }),
        _ => None,
    }
}

fn check_content_type(req: &HttpRequest) -> Result<(), ApiError> {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let value = value.to_str().unwrap_or("").to_ascii_lowercase();
    let essence = value.split(';').next().unwrap_or("").trim();
    if essence == "application/json" || essence.ends_with("+json") {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "expected application/json, got {essence}"
        )))
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let content_type = check_content_type(req);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            content_type?;
            let bytes = body.await.map_err(map_payload_error)?;
            parse_json(&bytes).map(Json)
        })
    }
}

/// Maps body-reading failures (too large, broken stream) to problems.
pub fn map_payload_error(e: actix_web::Error) -> ApiError {
    if let Some(p) = e.as_error::<PayloadError>() {
        return match p {
            PayloadError::Overflow => ApiError::PayloadTooLarge,
            other => ApiError::BadRequest(format!("cannot read the body: {other}")),
        };
    }
    let status = e.as_response_error().status_code();
    if status == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else {
        ApiError::BadRequest(format!("cannot read the body: {e}"))
    }
}

/// A query string deserialised with field-precise errors (422).
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let parsed = form_query(req.query_string());
        std::future::ready(parsed.map(Query))
    }
}

fn form_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    // PostgreSQL text cannot hold NUL at all (a search for one was a 500 there), and no
    // stored value holds one (bodies refuse it): refuse it here, naming the parameter.
    let pairs = url::form_urlencoded::parse(query.as_bytes());
    if let Some((name, _)) = pairs.clone().find(|(_, value)| value.contains('\0')) {
        return Err(ApiError::invalid(
            name.into_owned(),
            "must not contain a NUL character",
        ));
    }
    let de = serde_urlencoded::Deserializer::new(pairs);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        ApiError::Validation(vec![field_error_from_path(path, e.into_inner())])
    })
}

/// A path id; anything that is not a UUID cannot exist, so it is a 404.
pub fn path_id<T>(raw: &str, parse: fn(&str) -> Option<T>) -> Result<T, ApiError> {
    parse(raw).ok_or_else(ApiError::not_found)
}

/// `?limit=&cursor=` of every list endpoint.
#[derive(Debug, Deserialize)]
pub struct PageQuery {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// `?status=&limit=&cursor=` of a list filtered by a state (sync jobs, webhook deliveries).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusPageQuery<S> {
    pub status: Option<S>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

impl<S> StatusPageQuery<S> {
    /// The status asked for, and the page.
    pub fn split(self) -> Result<(Option<S>, Page), ApiError> {
        let page = PageQuery {
            limit: self.limit,
            cursor: self.cursor,
        }
        .page()?;
        Ok((self.status, page))
    }
}

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

impl PageQuery {
    pub fn page(&self) -> Result<Page, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::invalid(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let after = match &self.cursor {
            None => None,
            Some(c) if c.is_empty() => None,
            Some(c) => Some(
                decode_cursor(c)
                    .ok_or_else(|| ApiError::invalid("cursor", "not a cursor this API issued"))?,
            ),
        };
        Ok(Page { limit, after })
    }
}

pub fn encode_cursor(key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.as_bytes())
}

fn decode_cursor(cursor: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    let s = String::from_utf8(bytes).ok()?;
    // Cursors are sort keys the API wrote (ids, times): never control characters, which a
    // database may refuse outright (PostgreSQL text cannot hold NUL).
    (!s.is_empty() && s.len() <= 512 && !s.chars().any(char::is_control)).then_some(s)
}

/// `{items, next_cursor}`: loads `limit + 1` rows to know whether another page exists.
#[derive(Debug, serde::Serialize)]
pub struct List<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> List<T> {
    /// `rows` were loaded with `limit + 1`; `key` gives the sort key of a row.
    pub fn from_rows<R>(
        mut rows: Vec<R>,
        page: &Page,
        key: impl Fn(&R) -> String,
        view: impl Fn(R) -> T,
    ) -> Self {
        let more = rows.len() as i64 > page.limit;
        rows.truncate(page.limit as usize);
        let next_cursor = if more {
            rows.last().map(|r| encode_cursor(&key(r)))
        } else {
            None
        };
        Self {
            items: rows.into_iter().map(view).collect(),
            next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        inner: Option<Inner>,
    }
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        target: u32,
    }

    fn field_of(bytes: &[u8]) -> String {
        match parse_json::<Body>(bytes) {
            Err(ApiError::Validation(errors)) => errors[0].field.clone(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn names_the_failing_field() {
        assert_eq!(field_of(br#"{}"#), "name");
        assert_eq!(field_of(br#"{"name": 5}"#), "name");
        assert_eq!(field_of(br#"{"name": "x", "inner": {}}"#), "inner.target");
        assert_eq!(
            field_of(br#"{"name": "x", "inner": {"target": -1}}"#),
            "inner.target"
        );
        assert_eq!(field_of(br#"[]"#), "body");
        assert_eq!(field_of(br#"["x", null]"#), "body");
    }

    #[test]
    fn a_nul_character_anywhere_is_refused_by_path() {
        assert_eq!(field_of(br#"{"name": "a\u0000b"}"#), "name");
        assert_eq!(
            field_of(br#"{"name": "x", "inner": {"target": 1, "tags": ["ok", "\u0000"]}}"#),
            "inner.tags[1]"
        );
        assert_eq!(field_of(br#"{"name": "x", "a\u0000": 1}"#), "a\\u0000");
        // A backslash followed by "u0000" is text, not a NUL.
        assert!(parse_json::<Body>(br#"{"name": "\\u0000"}"#).is_ok());
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        assert!(matches!(
            parse_json::<Body>(b"{"),
            Err(ApiError::BadRequest(_))
        ));
    }

    #[test]
    fn cursors_round_trip() {
        let q = PageQuery {
            limit: None,
            cursor: Some(encode_cursor("abc")),
        };
        assert_eq!(q.page().unwrap().after.as_deref(), Some("abc"));
        let bad = PageQuery {
            limit: Some(0),
            cursor: None,
        };
        assert!(bad.page().is_err());
    }
}
