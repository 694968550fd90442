//! How events are stored: a flush's events make one chunk (one document, one row), as
//! CloudTrail delivers many events in one log file. The chunk's body says what a search needs
//! to skip it unread (its events' first and last times, their user names and access key ids)
//! and holds the events themselves, one JSON text per line, deflated and in base64.
//!
//! One row per flush instead of one per event: SQLite inserted each event into the table and
//! three indexes and wrote its ~1 KB through the WAL twice (bench/RESULTS.md, P8: 13 µs of the
//! store's thread per event, 13 % of the server's CPU under P8's load); a chunk of 1,000
//! events is one insert of ~100 KB.

use std::io::{Read, Write as _};

use engine::kinds;
use engine::store::{Document, Write};
use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One recorded event as a chunk takes it: its JSON text and what the chunk's summary says
/// of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The event as JSON text, on one line (serde_json's compact form escapes line breaks).
    pub text: String,
    pub time_ms: i64,
    /// The name a lookup by `Username` matches (`UserIdentity::lookup_name`).
    pub user_name: Option<String>,
    pub access_key_id: Option<String>,
}

impl Recorded {
    pub fn of(event: &crate::event::Event) -> Result<Recorded, serde_json::Error> {
        Ok(Recorded {
            text: serde_json::to_string(event)?,
            time_ms: event.time_ms(),
            user_name: event.user_identity.lookup_name().map(str::to_owned),
            access_key_id: event.user_identity.access_key_id.clone(),
        })
    }
}

/// A chunk's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Chunk {
    /// How many events it holds.
    pub count: usize,
    /// The earliest and the latest of its events' times (milliseconds).
    pub first_time: i64,
    pub last_time: i64,
    /// Every name a lookup by `Username` matches among its events, once each, sorted.
    pub user_names: Vec<String>,
    /// Every `userIdentity.accessKeyId` among its events, once each, sorted.
    pub access_key_ids: Vec<String>,
    /// The events' JSON texts in the order they were recorded, a line each, deflated, in
    /// base64.
    pub events: String,
}

/// Why a stored chunk could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    #[error("the chunk's body is not a chunk: {0}")]
    Body(#[from] serde_json::Error),
    #[error("the chunk's events are not base64")]
    Base64,
    #[error("the chunk's events do not inflate to text: {0}")]
    Inflate(#[from] std::io::Error),
}

impl Chunk {
    /// The chunk of `events` (at least one), in their order.
    pub fn of(events: &[Recorded]) -> Chunk {
        let mut user_names: Vec<String> =
            events.iter().filter_map(|it| it.user_name.clone()).collect();
        user_names.sort_unstable();
        user_names.dedup();
        let mut access_key_ids: Vec<String> =
            events.iter().filter_map(|it| it.access_key_id.clone()).collect();
        access_key_ids.sort_unstable();
        access_key_ids.dedup();
        let size = events.iter().map(|it| it.text.len() + 1).sum::<usize>();
        let mut encoder = DeflateEncoder::new(Vec::with_capacity(size / 8), Compression::fast());
        for event in events {
            // Writing to a Vec cannot fail.
            let _ = encoder.write_all(event.text.as_bytes());
            let _ = encoder.write_all(b"\n");
        }
        let deflated = encoder.finish().unwrap_or_default();
        Chunk {
            count: events.len(),
            first_time: events.iter().map(|it| it.time_ms).min().unwrap_or(0),
            last_time: events.iter().map(|it| it.time_ms).max().unwrap_or(0),
            user_names,
            access_key_ids,
            events: awsapi::base64::encode(&deflated),
        }
    }

    pub fn from_body(body: Value) -> Result<Chunk, ChunkError> {
        Ok(serde_json::from_value(body)?)
    }

    /// Its events' JSON texts, in the order they were recorded.
    pub fn texts(&self) -> Result<Vec<String>, ChunkError> {
        let deflated = awsapi::base64::decode(&self.events).ok_or(ChunkError::Base64)?;
        let mut text = String::with_capacity(deflated.len() * 8);
        // Text that is not UTF-8 is an error of its own kind (`InvalidData`).
        DeflateDecoder::new(&deflated[..]).read_to_string(&mut text)?;
        Ok(text.lines().map(str::to_owned).collect())
    }

    /// Whether one of its events may be by `user_name`.
    pub fn may_have_user(&self, user_name: &str) -> bool {
        self.user_names.binary_search_by(|it| it.as_str().cmp(user_name)).is_ok()
    }

    /// Whether one of its events may be signed with `access_key_id`.
    pub fn may_have_access_key(&self, access_key_id: &str) -> bool {
        self.access_key_ids.binary_search_by(|it| it.as_str().cmp(access_key_id)).is_ok()
    }

    /// The store write of the chunk: the next number of the chunks' counter, which orders the
    /// chunks as they were written (across replicas too).
    pub fn write(&self) -> Result<Write, serde_json::Error> {
        Ok(Write::InsertNumbered {
            counter: kinds::CLOUDTRAIL_CHUNK_COUNTER.to_owned(),
            document: Document {
                kind: kinds::CLOUDTRAIL_CHUNK.to_owned(),
                key: String::new(),
                parent: None,
                sort: 0,
                version: 0,
                body: serde_json::to_value(self)?,
            },
        })
    }
}

#[cfg(test)]
mod tests;
