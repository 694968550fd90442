//! The server's clock: the one place the engine and the server read the time.
//!
//! Everything else takes time as an argument, so that state transitions can be tested with
//! any time they like. The formats the engine and the server write times in live here too,
//! over the `time` crate's calendar: [`format_utc`] with [`LOG_TIME`], [`AMZ_DATE`],
//! [`EVENT_TIME`], [`CLOUDTRAIL_TIME`] or [`DISPLAY_TIME`], and [`parse_utc`] for reading one back.

use std::time::{SystemTime, UNIX_EPOCH};

use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

/// `2026/11/22 16:21:40.123`: the time of a build log's `[Container]` lines.
pub const LOG_TIME: &[BorrowedFormatItem<'static>] =
    format_description!("[year]/[month]/[day] [hour]:[minute]:[second].[subsecond digits:3]");

/// `20261122T162140Z`: SigV4's `X-Amz-Date` (ISO 8601 basic format), described once in
/// `awsapi::sigv4`.
pub use awsapi::sigv4::AMZ_DATE;

/// `2016-02-09T00:08:11.743+0000`, as CodeCommit writes a trigger event's `eventTime`.
pub const EVENT_TIME: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]+0000");

/// `2026-11-22T16:21:40Z`, as CloudTrail writes a record's `eventTime`.
pub const CLOUDTRAIL_TIME: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// `2026-11-22 19:30 UTC`: a time shown to a person (the console).
pub const DISPLAY_TIME: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute] UTC");

/// Milliseconds since the Unix epoch.
#[allow(clippy::disallowed_methods)]
pub fn now_ms() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// Milliseconds as AWS timestamps are written: seconds since the epoch, as a float.
pub fn aws_timestamp(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// Milliseconds since the epoch as a UTC date and time in `format` (one of this module's
/// constants). Times beyond the years 9999 BC and AD 9999 are written as those limits.
pub fn format_utc(ms: i64, format: &[BorrowedFormatItem<'_>]) -> String {
    let time = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map(|time| PrimitiveDateTime::new(time.date(), time.time()))
        .unwrap_or(if ms < 0 { PrimitiveDateTime::MIN } else { PrimitiveDateTime::MAX });
    // Formatting fails only for a description that asks for what a UTC date and time
    // lacks (an offset), which none of this module's constants does.
    time.format(format).unwrap_or_default()
}

/// A UTC date and time written in `format` as milliseconds since the epoch; `None` when
/// `text` is not in that format or names no real date and time (`20260231T000000Z`).
pub fn parse_utc(text: &str, format: &[BorrowedFormatItem<'_>]) -> Option<i64> {
    let time = PrimitiveDateTime::parse(text, format).ok()?.assume_utc();
    i64::try_from(time.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests;
