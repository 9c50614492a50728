//! JSON as stored: as text when short and LZ4-compressed (a blob) otherwise. What Baton stores
//! (instance states, the events of a step, ForEach snapshots) is mostly repeated keys,
//! timestamps and ids, so it shrinks several times, and a step writes a fraction of a page
//! instead of whole pages of its own. SQLite keeps a column's type per value, so both kinds
//! read back from one column, and rows written as text before compression stay readable.

use serde::de::DeserializeOwned;
use serde::Serialize;

use baton_store::Result;

use crate::other_err;

pub(crate) enum StoredJson {
    Text(String),
    Lz4(Vec<u8>),
}

/// Below this many bytes an instance's state stays readable text: compressing it saves less
/// than a page.
pub(crate) const STATE_COMPRESS_FROM: usize = 512;

/// Below this many bytes a step's events stay text. Lower than for states: history rows are
/// appended, never rewritten, and an iteration's few events (~400 bytes, four timestamps the
/// same) are a large part of what it stores.
pub(crate) const EVENTS_COMPRESS_FROM: usize = 256;

impl StoredJson {
    /// `value` as JSON, compressed when it is `compress_from` bytes or longer.
    pub(crate) fn encode(value: &impl Serialize, compress_from: usize) -> Result<Self> {
        let json = serde_json::to_string(value).map_err(other_err)?;
        Ok(if json.len() < compress_from { Self::Text(json) } else { Self::Lz4(lz4_flex::compress_prepend_size(json.as_bytes())) })
    }

    pub(crate) fn decode<T: DeserializeOwned>(&self) -> std::result::Result<T, String> {
        match self {
            Self::Text(json) => serde_json::from_str(json).map_err(|e| e.to_string()),
            Self::Lz4(bytes) => {
                let json = lz4_flex::decompress_size_prepended(bytes).map_err(|e| format!("decompressing: {e}"))?;
                serde_json::from_slice(&json).map_err(|e| e.to_string())
            }
        }
    }
}

impl rusqlite::ToSql for StoredJson {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(match self {
            Self::Text(json) => rusqlite::types::ToSqlOutput::Borrowed(rusqlite::types::ValueRef::Text(json.as_bytes())),
            Self::Lz4(bytes) => rusqlite::types::ToSqlOutput::Borrowed(rusqlite::types::ValueRef::Blob(bytes)),
        })
    }
}

impl rusqlite::types::FromSql for StoredJson {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        match value {
            rusqlite::types::ValueRef::Blob(bytes) => Ok(Self::Lz4(bytes.to_vec())),
            other => other.as_str().map(|s| Self::Text(s.to_owned())),
        }
    }
}
