//! `LookupEvents`: the events that match one lookup attribute and a time range, newest
//! first, in pages of at most 50; and [`find`], the same search with several attributes at
//! once, for the console's audit page.
//!
//! Events are kept in chunks (`crate::chunk`) numbered in the order they were written, which
//! is the order of their times to within a flush interval across replicas; a search walks
//! them from the newest down, skips a chunk unread when its summary says none of its events
//! can match (its times are outside the range, or the user name or access key id searched for
//! is not among its events'), and stops a minute ([`ORDER_SLACK_MS`]) past the range's start.
//! One call reads at most [`SCAN_LIMIT`] events and [`CHUNK_LIMIT`] chunks: a rare attribute
//! over a long history answers a short page with a `NextToken`, as CloudTrail does, rather
//! than one slow answer.

use awsapi::ApiError;
use engine::kinds;
use engine::store::{ListQuery, Store, cursor_after};
use serde::{Deserialize, Serialize};

use crate::chunk::{Chunk, LastUsed};
use crate::event::Event;

/// The most events one page holds, and the default.
pub const MAX_RESULTS: i64 = 50;

/// The most stored events one call reads.
pub const SCAN_LIMIT: usize = 10_000;

/// How far past the start of the range a search keeps looking, for events recorded out of
/// their time order (different replicas flush at different moments).
pub const ORDER_SLACK_MS: i64 = 60_000;

/// The most chunks one call reads.
pub const CHUNK_LIMIT: usize = 100;

/// How many chunks one read of the store brings (each up to ~100 KB).
const STORE_PAGE: i64 = 4;

/// The attribute keys `LookupAttributes` takes (the model's `LookupAttributeKey`).
pub const ATTRIBUTE_KEYS: &[&str] = &[
    "EventId",
    "EventName",
    "ReadOnly",
    "Username",
    "ResourceType",
    "ResourceName",
    "EventSource",
    "AccessKeyId",
];

/// The longest `AttributeValue` the model allows.
const MAX_ATTRIBUTE_VALUE: usize = 2000;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LookupEventsInput {
    pub lookup_attributes: Option<Vec<LookupAttribute>>,
    /// Seconds since the epoch (JSON 1.1's timestamps).
    pub start_time: Option<f64>,
    pub end_time: Option<f64>,
    pub event_category: Option<String>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LookupAttribute {
    pub attribute_key: Option<String>,
    pub attribute_value: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LookupEventsOutput {
    pub events: Vec<EventSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// One item of `Events` (the model's `Event`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventSummary {
    pub event_id: String,
    pub event_name: String,
    /// `"true"` or `"false"`.
    pub read_only: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// Seconds since the epoch.
    pub event_time: f64,
    pub event_source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    pub resources: Vec<ResourceSummary>,
    /// The whole record, as JSON text.
    pub cloud_trail_event: String,
}

/// One item of an event's `Resources`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceSummary {
    pub resource_type: String,
    pub resource_name: String,
}

/// A search: every attribute must match; times in milliseconds, both ends included.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Search {
    /// `(key, value)` pairs, keys among [`ATTRIBUTE_KEYS`].
    pub attributes: Vec<(String, String)>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
}

/// A page of a [`Search`].
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Newest first.
    pub events: Vec<Event>,
    /// Where the next page starts, when the search may have more.
    pub next: Option<String>,
}

pub async fn lookup_events(
    store: &Store,
    input: LookupEventsInput,
) -> Result<LookupEventsOutput, ApiError> {
    let attributes = input.lookup_attributes.unwrap_or_default();
    if attributes.len() > 1 {
        return Err(invalid_attributes("You can specify at most one lookup attribute."));
    }
    let mut search = Search::default();
    for attribute in attributes {
        let key = attribute.attribute_key.unwrap_or_default();
        if !ATTRIBUTE_KEYS.contains(&key.as_str()) {
            return Err(invalid_attributes(&format!(
                "The attribute key {key:?} is not valid: use one of {}.",
                ATTRIBUTE_KEYS.join(", ")
            )));
        }
        let value = attribute.attribute_value.unwrap_or_default();
        if value.is_empty() || value.chars().count() > MAX_ATTRIBUTE_VALUE {
            return Err(invalid_attributes(&format!(
                "The value of the attribute {key} must be 1 to {MAX_ATTRIBUTE_VALUE} characters long."
            )));
        }
        search.attributes.push((key, value));
    }
    if let Some(category) = input.event_category.as_deref()
        && category != "insight"
    {
        return Err(ApiError::client(
            "InvalidEventCategoryException",
            format!("The event category {category:?} is not valid: use insight."),
        ));
    }
    let max_results = input.max_results.unwrap_or(MAX_RESULTS);
    if !(1..=MAX_RESULTS).contains(&max_results) {
        return Err(ApiError::client(
            "InvalidMaxResultsException",
            format!("MaxResults must be between 1 and {MAX_RESULTS}; it is {max_results}."),
        ));
    }
    search.start_ms = input.start_time.map(seconds_to_ms).transpose()?;
    search.end_ms = input.end_time.map(seconds_to_ms).transpose()?;
    if let (Some(start), Some(end)) = (search.start_ms, search.end_ms)
        && start > end
    {
        return Err(ApiError::client(
            "InvalidTimeRangeException",
            "The start time must not be after the end time.",
        ));
    }
    if input.event_category.is_some() {
        // Slipway records no Insights events.
        return Ok(LookupEventsOutput { events: Vec::new(), next_token: None });
    }
    let limit = usize::try_from(max_results).unwrap_or(1);
    let found = find(store, &search, input.next_token.as_deref(), limit).await?;
    Ok(LookupEventsOutput {
        events: found.events.iter().map(summary).collect(),
        next_token: found.next,
    })
}

/// A page of at most `limit` events of `search`, newest first, from `token` (a previous
/// page's `next`, given with the same search) on.
pub async fn find(
    store: &Store,
    search: &Search,
    token: Option<&str>,
    limit: usize,
) -> Result<Found, ApiError> {
    let fingerprint = fingerprint(search);
    // Where the search goes on: the chunks older than `after`, and first, when the token points
    // inside a chunk, that chunk's events older than its index.
    let mut after: Option<(i64, String)> = None;
    let mut inside: Option<(String, usize)> = None;
    if let Some(token) = token {
        let (sort, key, index) = read_token(token, fingerprint)?;
        if index > 0 {
            inside = Some((key.clone(), index));
        }
        after = Some((sort, key));
    }
    let stop_below = search.start_ms.map(|start| start.saturating_sub(ORDER_SLACK_MS));
    let attribute = |name: &str| {
        search.attributes.iter().find(|(key, _)| key == name).map(|(_, it)| it.as_str())
    };
    let (user, access_key) = (attribute("Username"), attribute("AccessKeyId"));
    let mut events = Vec::new();
    let (mut scanned, mut chunks_read) = (0, 0);
    loop {
        let (page, exhausted, mut top) = match inside.take() {
            Some((key, index)) => {
                let chunk = store.get(kinds::CLOUDTRAIL_CHUNK, &key).await?;
                (chunk.into_iter().collect(), false, Some(index))
            }
            None => {
                let query = ListQuery {
                    kind: kinds::CLOUDTRAIL_CHUNK.to_owned(),
                    parent: None,
                    descending: true,
                    after: after.as_ref().map(|(sort, key)| cursor_after(*sort, key)),
                    limit: STORE_PAGE,
                };
                let page = store.list(&query).await?;
                let exhausted = page.next.is_none();
                (page.documents, exhausted, None)
            }
        };
        for document in page {
            let (sort, key) = (document.sort, document.key);
            after = Some((sort, key.clone()));
            chunks_read += 1;
            let at = top.take();
            let chunk = match Chunk::from_body(document.body) {
                Ok(chunk) => chunk,
                Err(err) => {
                    tracing::warn!(%key, %err, "an unreadable CloudTrail chunk");
                    continue;
                }
            };
            if stop_below.is_some_and(|stop| chunk.last_time < stop) {
                return Ok(Found { events, next: None });
            }
            let wanted = search.end_ms.is_none_or(|end| chunk.first_time <= end)
                && search.start_ms.is_none_or(|start| chunk.last_time >= start)
                && user.is_none_or(|it| chunk.may_have_user(it))
                && access_key.is_none_or(|it| chunk.may_have_access_key(it));
            let texts = if wanted {
                chunk.texts().unwrap_or_else(|err| {
                    tracing::warn!(%key, %err, "an unreadable CloudTrail chunk");
                    Vec::new()
                })
            } else {
                Vec::new()
            };
            let top = at.unwrap_or(texts.len()).min(texts.len());
            for index in (0..top).rev() {
                scanned += 1;
                let event: Event = match serde_json::from_str(&texts[index]) {
                    Ok(event) => event,
                    Err(err) => {
                        tracing::warn!(%key, index, %err, "an unreadable CloudTrail event");
                        continue;
                    }
                };
                let time = event.time_ms();
                if stop_below.is_some_and(|stop| time < stop) {
                    return Ok(Found { events, next: None });
                }
                if matches(search, &event, time) {
                    events.push(event);
                }
                if events.len() >= limit || scanned >= SCAN_LIMIT {
                    let next = write_token(sort, &key, index, fingerprint);
                    return Ok(Found { events, next: Some(next) });
                }
            }
            if chunks_read >= CHUNK_LIMIT {
                let next = write_token(sort, &key, 0, fingerprint);
                return Ok(Found { events, next: Some(next) });
            }
        }
        if exhausted {
            return Ok(Found { events, next: None });
        }
    }
}

/// The newest use the trail recorded of the access key `access_key_id`
/// (GetAccessKeyLastUsed), written with the chunk that held it: none if the trail has none.
pub async fn access_key_last_used(
    store: &Store,
    access_key_id: &str,
) -> Result<Option<LastUsed>, ApiError> {
    let Some(document) = store.get(kinds::ACCESS_KEY_LAST_USED, access_key_id).await? else {
        return Ok(None);
    };
    Ok(serde_json::from_value(document.body).ok())
}

/// Whether `event` (of time `time`) is one `search` asks for.
fn matches(search: &Search, event: &Event, time: i64) -> bool {
    if search.start_ms.is_some_and(|start| time < start)
        || search.end_ms.is_some_and(|end| time > end)
    {
        return false;
    }
    search.attributes.iter().all(|(key, value)| attribute_matches(event, key, value))
}

fn attribute_matches(event: &Event, key: &str, value: &str) -> bool {
    let identity = &event.user_identity;
    match key {
        "EventId" => event.event_id == value,
        "EventName" => event.event_name == value,
        "ReadOnly" => event.read_only.to_string() == value,
        "Username" => identity.lookup_name() == Some(value),
        "AccessKeyId" => identity.access_key_id.as_deref() == Some(value),
        "EventSource" => event.event_source == value,
        "ResourceType" => event.resources.iter().any(|it| it.resource_type == value),
        "ResourceName" => event.resources.iter().any(|it| it.name() == value),
        _ => false,
    }
}

/// An event as `LookupEvents` lists it.
pub fn summary(event: &Event) -> EventSummary {
    EventSummary {
        event_id: event.event_id.clone(),
        event_name: event.event_name.clone(),
        read_only: event.read_only.to_string(),
        access_key_id: event.user_identity.access_key_id.clone(),
        event_time: engine::clock::aws_timestamp(event.time_ms()),
        event_source: event.event_source.clone(),
        username: event.user_identity.lookup_name().map(str::to_owned),
        resources: event
            .resources
            .iter()
            .map(|it| ResourceSummary {
                resource_type: it.resource_type.clone(),
                resource_name: it.name().to_owned(),
            })
            .collect(),
        // An event is plain data: serializing it cannot fail.
        cloud_trail_event: serde_json::to_string(event).unwrap_or_default(),
    }
}

fn invalid_attributes(message: &str) -> ApiError {
    ApiError::client("InvalidLookupAttributesException", message)
}

fn seconds_to_ms(seconds: f64) -> Result<i64, ApiError> {
    let ms = (seconds * 1000.0).round();
    // Years 0 to 9999, what CloudTrail's dates can be.
    if !ms.is_finite() || !(-62_167_219_200_000.0..=253_402_300_799_000.0).contains(&ms) {
        return Err(ApiError::client(
            "InvalidTimeRangeException",
            "The time is outside the range of possible values.",
        ));
    }
    // In range, so the conversion is exact.
    Ok(ms as i64)
}

/// A short hash of a search, so that a token given with another search is refused (FNV-1a).
fn fingerprint(search: &Search) -> u64 {
    let text = format!("{:?}", (&search.attributes, search.start_ms, search.end_ms));
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A token that goes on with the chunk `(sort, key)`'s events older than `index` (or, when
/// `index` is 0, with the chunks older than it).
fn write_token(sort: i64, key: &str, index: usize, fingerprint: u64) -> String {
    hex::encode(format!("{fingerprint:016x}:{sort}:{index}:{key}"))
}

fn read_token(token: &str, fingerprint: u64) -> Result<(i64, String, usize), ApiError> {
    let invalid = || {
        ApiError::client(
            "InvalidNextTokenException",
            "The NextToken is not valid, or was given with other parameters than it came from.",
        )
    };
    let plain = hex::decode(token).ok().and_then(|bytes| String::from_utf8(bytes).ok());
    let plain = plain.ok_or_else(invalid)?;
    let mut parts = plain.splitn(4, ':');
    let (Some(hash), Some(sort), Some(index), Some(key)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid());
    };
    if hash != format!("{fingerprint:016x}") {
        return Err(invalid());
    }
    let sort = sort.parse().map_err(|_| invalid())?;
    let index = index.parse().map_err(|_| invalid())?;
    Ok((sort, key.to_owned(), index))
}

#[cfg(test)]
mod tests;
