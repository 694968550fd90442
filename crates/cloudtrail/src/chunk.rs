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

/// What a chunk's summary, and the access keys' last use, take of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts<'a> {
    pub time_ms: i64,
    /// The name a lookup by `Username` matches (`UserIdentity::lookup_name`).
    pub user_name: Option<&'a str>,
    pub access_key_id: Option<&'a str>,
    pub event_source: &'a str,
    pub region: &'a str,
}

impl<'a> Facts<'a> {
    pub fn of(event: &'a crate::event::Event) -> Facts<'a> {
        Facts {
            time_ms: event.time_ms(),
            user_name: event.user_identity.lookup_name(),
            access_key_id: event.user_identity.access_key_id.as_deref(),
            event_source: &event.event_source,
            region: &event.aws_region,
        }
    }
}

/// The newest use of an access key among a chunk's events (GetAccessKeyLastUsed's answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastUsed {
    pub time_ms: i64,
    /// `codebuild.amazonaws.com`, …
    pub event_source: String,
    pub region: String,
}

/// A chunk being gathered: its events' JSON texts, a line each, its summary so far, and the
/// newest use of each access key among them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gathering {
    lines: Vec<u8>,
    count: usize,
    first_time: i64,
    last_time: i64,
    user_names: Vec<String>,
    access_key_ids: Vec<String>,
    /// Beside `access_key_ids`, index for index.
    last_used: Vec<LastUsed>,
}

impl Gathering {
    /// Adds one event: its JSON text (on one line: serde_json's compact form escapes line
    /// breaks) and its facts.
    pub fn push(&mut self, text: &[u8], facts: Facts<'_>) {
        self.lines.extend_from_slice(text);
        self.lines.push(b'\n');
        let time_ms = facts.time_ms;
        if self.count == 0 {
            (self.first_time, self.last_time) = (time_ms, time_ms);
        }
        self.first_time = self.first_time.min(time_ms);
        self.last_time = self.last_time.max(time_ms);
        self.count += 1;
        if let Some(name) = facts.user_name
            && let Err(at) = self.user_names.binary_search_by(|it| it.as_str().cmp(name))
        {
            self.user_names.insert(at, name.to_owned());
        }
        let Some(key) = facts.access_key_id else { return };
        let used = LastUsed {
            time_ms,
            event_source: facts.event_source.to_owned(),
            region: facts.region.to_owned(),
        };
        match self.access_key_ids.binary_search_by(|it| it.as_str().cmp(key)) {
            Ok(at) if self.last_used[at].time_ms <= time_ms => self.last_used[at] = used,
            Ok(_) => {}
            Err(at) => {
                self.access_key_ids.insert(at, key.to_owned());
                self.last_used.insert(at, used);
            }
        }
    }

    /// Adds `event`.
    pub fn push_event(&mut self, event: &crate::event::Event) -> Result<(), serde_json::Error> {
        let text = serde_json::to_vec(event)?;
        self.push(&text, Facts::of(event));
        Ok(())
    }

    /// The store writes of the chunk (deflated: a few milliseconds for a thousand events) and
    /// of its access keys' last use, for one transaction.
    pub fn writes(&self) -> Result<Vec<Write>, serde_json::Error> {
        let mut writes = vec![self.chunk().write()?];
        for (key, used) in self.access_key_ids.iter().zip(&self.last_used) {
            writes.push(Write::Put(Document {
                kind: kinds::ACCESS_KEY_LAST_USED.to_owned(),
                key: key.clone(),
                parent: None,
                sort: used.time_ms,
                version: 0,
                body: serde_json::to_value(used)?,
            }));
        }
        Ok(writes)
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
