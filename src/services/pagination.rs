//! Cursor pagination: a cursor is an opaque, URL-safe encoding of the sort
//! key of the last item returned.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Serialize, de::DeserializeOwned};

use super::ServiceError;

pub const DEFAULT_LIMIT: u64 = 50;
pub const MAX_LIMIT: u64 = 500;

/// A page request: how many, and after which key.
#[derive(Debug, Clone)]
pub struct PageRequest<K> {
    pub limit: u64,
    pub after: Option<K>,
}

impl<K: DeserializeOwned> PageRequest<K> {
    pub fn parse(limit: Option<u64>, cursor: Option<&str>) -> Result<Self, ServiceError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ServiceError::validation(
                "limit",
                format!("`limit` must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let after = match cursor {
            None | Some("") => None,
            Some(cursor) => Some(decode(cursor)?),
        };
        Ok(Self { limit, after })
    }
}

/// One page of results and the cursor for the next, if there is more.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Build a page from up to `limit + 1` rows: the extra row only says
    /// that there is more.
    pub fn from_rows<K: Serialize>(mut rows: Vec<T>, limit: u64, key: impl Fn(&T) -> K) -> Self {
        let more = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if more {
            rows.last().map(|last| encode(&key(last)))
        } else {
            None
        };
        Self {
            items: rows,
            next_cursor,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

fn encode<K: Serialize>(key: &K) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).expect("cursor keys serialise"))
}

fn decode<K: DeserializeOwned>(cursor: &str) -> Result<K, ServiceError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| {
            ServiceError::validation(
                "cursor",
                "`cursor` is not a cursor this list returned; start again without it",
            )
        })
}
