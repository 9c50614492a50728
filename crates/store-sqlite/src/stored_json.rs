//! JSON as stored: as text when short and LZ4-compressed (a blob) otherwise. What Baton stores
//! (instance states, the events of a step, ForEach snapshots) is mostly repeated keys,
//! timestamps and ids, so it shrinks several times, and a step writes a fraction of a page
//! instead of whole pages of its own. SQLite keeps a column's type per value, so both kinds
//! read back from one column, and rows written as text before compression stay readable.
//!
//! Compression uses a fixed dictionary of the JSON Baton writes most ([`DICTIONARY_V1`]): a
//! state or a step's events of a few hundred bytes is mostly keys seen once in it, which plain
//! LZ4 can only copy; with the dictionary they become references, and a ForEach iteration's
//! row shrinks by a third. A dictionary-compressed value starts with [`DICTIONARY_MAGIC`] and
//! its version; a value compressed without one starts with its size (always far below that),
//! so both read back. (SQL's JSON functions cannot read a compressed value: a migration that
//! needs to look inside states or history does it in Rust.)

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

/// Starts a value compressed with a dictionary: as a size prefix it would be 4 GiB, which no
/// value compressed without one has (they are at most the data limits' tens of MiB).
const DICTIONARY_MAGIC: [u8; 4] = [0xFF; 4];

/// What [`DICTIONARY_V1`] is called in a stored value, after the magic.
const DICTIONARY_V1_ID: u8 = 1;

/// Typical JSON of instance states and history events, the dictionary of version 1. Stored
/// values depend on it byte for byte: never edit it; add a version 2 beside it instead.
const DICTIONARY_V1: &str = concat!(
    r#"{"rule":"predecessors_pending","tasks":[{"rule":"instance_ended","status":"aborted"}{"status":"waiting_for_predecessor","reason":"#,
    r#"{"status":"waiting_for_start_time","at":"{"status":"ended_not_ok","reason":{"rule":"exited","code":1}},"attempts":2,"post_checked":true"#,
    r#"{"seq":7,"at":"2026-12-01T00:00:00.000000000Z","task":"load","event":"job_dispatched","attempt":1,"command":["sh","-c","#,
    r#"{"seq":8,"at":"2026-12-01T00:00:00.000000000Z","task":"load","event":"job_finished","attempt":1,"exit_code":0,"duration_ms":12,"stdout_tail":""#,
    r#"{"seq":5,"at":"2026-12-01T00:00:00.000000000Z","task":"each","event":"iterations_started","first":0,"count":1024}"#,
    r#"{"seq":6,"at":"2026-12-01T00:00:00.000000000Z","task":"each","event":"iterations_ended","completed":1024}"#,
    r#"{"seq":4,"at":"2026-12-01T00:00:00.000000000Z","task":"work","event":"data_changed","values":{"#,
    r#"[{"seq":1,"at":"2026-12-01T00:00:00.000000000Z","event":"instance_started","definition":"process/each","version":1},"#,
    r#"{"seq":2,"at":"2026-12-01T00:00:00.000000000Z","event":"instance_status_changed","to":"running"},"#,
    r#"{"seq":3,"at":"2026-12-01T00:00:00.000000000Z","task":"work","event":"task_status_changed","to":{"status":"running","attempt":1,"since":"2026-12-01T00:00:00.000000000Z"}},"#,
    r#"{"seq":4,"at":"2026-12-01T00:00:00.000000000Z","task":"work","event":"task_status_changed","to":{"status":"ended_ok"}},"#,
    r#"{"seq":5,"at":"2026-12-01T00:00:00.000000000Z","event":"instance_status_changed","to":"completed"}]"#,
    r#"{"id":"01a23400-0000-7000-8000-000000000000","definition_id":"process/each","definition_version":1,"status":"running","data":{},"#,
    r#""tasks":[{"status":"running","attempt":1,"since":"2026-12-01T00:00:00.000000000Z","started_at":"2026-12-01T00:00:00.000000000Z","attempts":1,"#,
    r#""foreach":{"total":1000,"next":1000,"running":0,"completed":1000,"failed":0,"open":[[0,1000]]}},"#,
    r#"{"status":"ended_ok","started_at":"2026-12-01T00:00:00.000000000Z","ended_at":"2026-12-01T00:00:00.000000000Z","attempts":1}],"#,
    r#""created_at":"2026-12-01T00:00:00.000000000Z","updated_at":"2026-12-01T00:00:00.000000000Z","ended_at":"2026-12-01T00:00:00.000000000Z","next_seq":5,"#,
    r#""parent":{"instance":"01a23400-0000-7000-8000-000000000000","task":"each","index":1},"iteration":{"index":1,"item":1,"snapshot":1}}"#,
);

impl StoredJson {
    /// `value` as JSON, compressed when it is `compress_from` bytes or longer.
    pub(crate) fn encode(value: &impl Serialize, compress_from: usize) -> Result<Self> {
        let json = serde_json::to_string(value).map_err(other_err)?;
        if json.len() < compress_from {
            return Ok(Self::Text(json));
        }
        let mut stored = Vec::with_capacity(json.len() / 2 + 16);
        stored.extend_from_slice(&DICTIONARY_MAGIC);
        stored.push(DICTIONARY_V1_ID);
        stored.extend_from_slice(&lz4_flex::block::compress_prepend_size_with_dict(
            json.as_bytes(),
            DICTIONARY_V1.as_bytes(),
        ));
        Ok(Self::Lz4(stored))
    }

    pub(crate) fn decode<T: DeserializeOwned>(&self) -> std::result::Result<T, String> {
        let bytes = match self {
            Self::Text(json) => return serde_json::from_str(json).map_err(|e| e.to_string()),
            Self::Lz4(bytes) => bytes,
        };
        let json = match bytes.strip_prefix(&DICTIONARY_MAGIC[..]) {
            None => lz4_flex::decompress_size_prepended(bytes),
            Some([DICTIONARY_V1_ID, rest @ ..]) => {
                lz4_flex::block::decompress_size_prepended_with_dict(rest, DICTIONARY_V1.as_bytes())
            }
            Some(_) => {
                return Err(
                    "compressed with a dictionary this version of Baton does not know".into(),
                )
            }
        }
        .map_err(|e| format!("decompressing: {e}"))?;
        serde_json::from_slice(&json).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn values_compressed_without_the_dictionary_still_read_back() {
        let value = json!({"id": "i-1", "status": "running", "pad": "x".repeat(600)});
        let old = StoredJson::Lz4(lz4_flex::compress_prepend_size(
            value.to_string().as_bytes(),
        ));
        assert_eq!(old.decode::<Value>().unwrap(), value);
        let new = StoredJson::encode(&value, 512).unwrap();
        assert!(matches!(&new, StoredJson::Lz4(bytes) if bytes.starts_with(&DICTIONARY_MAGIC)));
        assert_eq!(new.decode::<Value>().unwrap(), value);
        assert!(matches!(
            StoredJson::encode(&value, 100_000).unwrap(),
            StoredJson::Text(_)
        ));
    }

    #[test]
    fn the_dictionary_makes_a_small_state_smaller_than_plain_lz4() {
        let state = r#"{"id":"01a2340b-f762-73ab-b150-8473c3c5359e","definition_id":"fe/each","definition_version":1,"status":"completed","tasks":[{"status":"ended_ok","started_at":"2026-12-01T23:58:49.186451596Z","ended_at":"2026-12-01T23:58:49.186451596Z","attempts":1}],"created_at":"2026-12-01T23:58:49.186451596Z","updated_at":"2026-12-01T23:58:49.186451596Z","ended_at":"2026-12-01T23:58:49.186451596Z","next_seq":5,"parent":{"instance":"01a2340b-f741-7078-83a9-6712013dface","task":"each","index":1},"iteration":{"index":1,"item":1,"snapshot":1}}"#;
        let value: Value = serde_json::from_str(state).unwrap();
        let StoredJson::Lz4(with) = StoredJson::encode(&value, 0).unwrap() else {
            unreachable!()
        };
        let without = lz4_flex::compress_prepend_size(state.as_bytes());
        assert!(
            with.len() * 10 < without.len() * 7,
            "{} bytes with the dictionary, {} without",
            with.len(),
            without.len()
        );
    }
}

impl rusqlite::ToSql for StoredJson {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(match self {
            Self::Text(json) => rusqlite::types::ToSqlOutput::Borrowed(
                rusqlite::types::ValueRef::Text(json.as_bytes()),
            ),
            Self::Lz4(bytes) => {
                rusqlite::types::ToSqlOutput::Borrowed(rusqlite::types::ValueRef::Blob(bytes))
            }
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
