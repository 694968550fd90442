//! Dates as the Date condition operators read them: ISO 8601 (`2026-12-03`,
//! `2026-12-03T10:15:30Z`, with fractions and `±hh:mm` offsets, or the basic
//! `20261203T101530Z`) or epoch seconds, and the `aws:CurrentTime` text written from a clock
//! reading. Pure arithmetic on the proleptic Gregorian calendar, no clock and no tables.

/// The global key holding the request's time in ISO 8601.
pub(super) const CURRENT_TIME: &str = "aws:CurrentTime";
/// The global key holding the request's time in epoch seconds.
pub(super) const EPOCH_TIME: &str = "aws:EpochTime";

const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// A time read from a policy or a request, in nanoseconds since 1970-01-01T00:00:00Z.
pub(super) fn parse(text: &str) -> Option<i128> {
    let text = text.trim();
    let digits = text.strip_prefix('-').unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return epoch(text);
    }
    iso8601_to_nanos(text)
}

/// `1480550400` or `1480550400.5`.
fn epoch(text: &str) -> Option<i128> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() || whole.len() > 18 {
        return None;
    }
    let seconds: i128 = whole.parse().ok()?;
    let value = seconds * NANOS_PER_SECOND + fraction_nanos(fraction)?;
    Some(if negative { -value } else { value })
}

/// The nanoseconds of a decimal fraction's digits (`5` is half a second).
fn fraction_nanos(fraction: &str) -> Option<i128> {
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut nanos = 0i128;
    let mut scale = NANOS_PER_SECOND / 10;
    for digit in fraction.bytes() {
        nanos += i128::from(digit - b'0') * scale;
        scale /= 10;
    }
    Some(nanos)
}

fn iso8601_to_nanos(text: &str) -> Option<i128> {
    // Every form is ASCII, which also makes the fixed-width slices below safe.
    if !text.is_ascii() {
        return None;
    }
    let (date, time) = match text.split_once(['T', 't']) {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let (year, month, day) = if date.len() == 8 && !date.contains('-') {
        (number(&date[0..4])?, number(&date[4..6])?, number(&date[6..8])?)
    } else {
        let mut parts = date.split('-');
        let year = number(parts.next()?)?;
        let month = number(parts.next()?)?;
        let day = number(parts.next()?)?;
        if parts.next().is_some() {
            return None;
        }
        (year, month, day)
    };
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut nanos = i128::from(days_from_civil(year, month, day)) * 86_400 * NANOS_PER_SECOND;
    if let Some(time) = time {
        nanos += time_of_day(time)?;
    }
    Some(nanos)
}

/// `10:15:30.123Z`, `10:15Z`, `10:15:30+01:00`, `101530Z`: nanoseconds after midnight UTC.
fn time_of_day(text: &str) -> Option<i128> {
    let (clock, offset) = if let Some(clock) = text.strip_suffix(['Z', 'z']) {
        (clock, 0)
    } else if let Some(at) = text.rfind(['+', '-']) {
        let sign = if text.as_bytes()[at] == b'-' { -1 } else { 1 };
        let zone = &text[at + 1..];
        let (hours, minutes) = match zone.split_once(':') {
            Some((hours, minutes)) => (number(hours)?, number(minutes)?),
            None if zone.len() == 4 => (number(&zone[..2])?, number(&zone[2..])?),
            None => (number(zone)?, 0),
        };
        (&text[..at], sign * (hours * 3600 + minutes * 60))
    } else {
        (text, 0)
    };
    let (clock, fraction) = clock.split_once(['.', ',']).unwrap_or((clock, ""));
    let (hours, minutes, seconds) = if clock.contains(':') {
        let mut parts = clock.split(':');
        let hours = number(parts.next()?)?;
        let minutes = number(parts.next()?)?;
        let seconds = parts.next().map_or(Some(0), number)?;
        if parts.next().is_some() {
            return None;
        }
        (hours, minutes, seconds)
    } else if clock.len() == 6 {
        (number(&clock[0..2])?, number(&clock[2..4])?, number(&clock[4..6])?)
    } else if clock.len() == 4 {
        (number(&clock[0..2])?, number(&clock[2..4])?, 0)
    } else {
        return None;
    };
    if hours > 24 || minutes > 59 || seconds > 60 {
        return None;
    }
    let seconds = i128::from(hours * 3600 + minutes * 60 + seconds - offset);
    Some(seconds * NANOS_PER_SECOND + fraction_nanos(fraction)?)
}

/// A run of ASCII digits.
fn number(text: &str) -> Option<i64> {
    if text.is_empty() || text.len() > 9 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `2026-12-03T10:15:30Z`.
pub(super) fn iso8601(unix_seconds: i64) -> String {
    let (year, month, day) = civil_from_days(unix_seconds.div_euclid(86_400));
    let second_of_day = unix_seconds.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}
