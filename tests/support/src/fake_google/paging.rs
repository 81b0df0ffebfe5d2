//! Opaque page tokens bound to the request they continue, page sizes with
//! the API's defaults and maxima, and one page of an answer.

use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::api::invalid_argument;
use crate::util::short_hash;

/// A token for the page starting at `offset` of the request `key`.
pub(crate) fn page_token(offset: usize, key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{offset}:{}", short_hash(key)))
}

/// The offset of a page token; tokens of another request are refused.
pub(crate) fn parse_page_token(tok: &str, key: &str) -> Result<usize, Response> {
    let bad = || invalid_argument("The page token is invalid.");
    let raw = URL_SAFE_NO_PAD.decode(tok).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (off, hash) = text.split_once(':').ok_or_else(bad)?;
    if hash != short_hash(key) {
        return Err(bad());
    }
    off.parse().map_err(|_| bad())
}

/// The page size: `default` when absent or 0, values above `max` coerced.
pub(crate) fn page_size(raw: Option<i64>, default: usize, max: usize) -> Result<usize, Response> {
    match raw {
        None | Some(0) => Ok(default),
        Some(n) if n < 0 => Err(invalid_argument("page_size must not be negative")),
        Some(n) => Ok((n as usize).min(max)),
    }
}

/// A `pageSize` query parameter (TYPE_INT32).
pub(crate) fn query_page_size(raw: Option<&str>) -> Result<Option<i64>, Response> {
    raw.map(|s| {
        s.parse::<i64>().map_err(|_| {
            invalid_argument(&format!(
                "Invalid value at 'page_size' (TYPE_INT32), \"{s}\""
            ))
        })
    })
    .transpose()
}

/// The offset of an optional page token.
pub(crate) fn offset_of(token: Option<&str>, key: &str) -> Result<usize, Response> {
    match token.filter(|t| !t.is_empty()) {
        Some(t) => parse_page_token(t, key),
        None => Ok(0),
    }
}

/// One page of `items` under `field`, with a `nextPageToken` when more
/// follow. proto3 JSON omits an empty list, so an empty page is `{}`.
pub(crate) fn page(items: &[Value], field: &str, offset: usize, size: usize, key: &str) -> Value {
    let mut out = serde_json::Map::new();
    let slice: Vec<Value> = items.iter().skip(offset).take(size).cloned().collect();
    if !slice.is_empty() {
        out.insert(field.into(), Value::Array(slice));
    }
    if offset + size < items.len() {
        out.insert(
            "nextPageToken".into(),
            json!(page_token(offset + size, key)),
        );
    }
    Value::Object(out)
}
