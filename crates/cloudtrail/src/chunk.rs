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

/// A chunk being gathered: its events' JSON texts, a line each, and its summary so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gathering {
    lines: Vec<u8>,
    count: usize,
    first_time: i64,
    last_time: i64,
    user_names: Vec<String>,
    access_key_ids: Vec<String>,
}

impl Gathering {
    /// Adds one event: its JSON text (on one line: serde_json's compact form escapes line
    /// breaks), its time, the name a lookup by `Username` matches
    /// (`UserIdentity::lookup_name`) and its access key id.
    pub fn push(
        &mut self,
        text: &[u8],
        time_ms: i64,
        user_name: Option<&str>,
        access_key_id: Option<&str>,
    ) {
        self.lines.extend_from_slice(text);
        self.lines.push(b'\n');
        if self.count == 0 {
            (self.first_time, self.last_time) = (time_ms, time_ms);
        }
        self.first_time = self.first_time.min(time_ms);
        self.last_time = self.last_time.max(time_ms);
        self.count += 1;
        for (name, names) in
            [(user_name, &mut self.user_names), (access_key_id, &mut self.access_key_ids)]
        {
            if let Some(name) = name
                && let Err(at) = names.binary_search_by(|it| it.as_str().cmp(name))
            {
                names.insert(at, name.to_owned());
            }
        }
    }

    /// Adds `event`.
    pub fn push_event(&mut self, event: &crate::event::Event) -> Result<(), serde_json::Error> {
        let text = serde_json::to_vec(event)?;
        let identity = &event.user_identity;
        let key = identity.access_key_id.as_deref();
        self.push(&text, event.time_ms(), identity.lookup_name(), key);
        Ok(())
    }

    /// How many events it holds.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The chunk of its events (deflated: a few milliseconds for a thousand events).
    pub fn chunk(&self) -> Chunk {
        let mut encoder =
            DeflateEncoder::new(Vec::with_capacity(self.lines.len() / 8), Compression::fast());
        // Writing to a Vec cannot fail.
        let _ = encoder.write_all(&self.lines);
        let deflated = encoder.finish().unwrap_or_default();
        Chunk {
            count: self.count,
            first_time: self.first_time,
            last_time: self.last_time,
            user_names: self.user_names.clone(),
            access_key_ids: self.access_key_ids.clone(),
            events: awsapi::base64::encode(&deflated),
        }
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
