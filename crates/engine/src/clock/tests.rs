//! engine::clock: the named formats write what their readers expect, parsing reads back only
//! real times in a format, and the calendar conversions agree with known dates.

use super::*;

#[test]
fn each_format_writes_what_its_readers_expect() {
    assert_eq!(format_utc(1_795_364_500_123, LOG_TIME), "2026/11/22 16:21:40.123");
    assert_eq!(format_utc(1_795_364_500_999, AMZ_DATE), "20261122T162140Z");
    assert_eq!(format_utc(0, EVENT_TIME), "1970-01-01T00:00:00.000+0000");
    assert_eq!(format_utc(951_782_400_001, EVENT_TIME), "2000-02-29T00:00:00.001+0000");
    assert_eq!(format_utc(1_767_225_599_999, EVENT_TIME), "2025-12-31T23:59:59.999+0000");
    assert_eq!(format_utc(0, DISPLAY_TIME), "1970-01-01 00:00 UTC");
    assert_eq!(format_utc(1_795_376_400_000, DISPLAY_TIME), "2026-11-22 19:40 UTC");
    // Before the epoch, and past what the calendar holds.
    assert_eq!(format_utc(-1, LOG_TIME), "1969/12/31 23:59:59.999");
    assert_eq!(format_utc(i64::MAX, AMZ_DATE), "99991231T235959Z");
    assert!(format_utc(i64::MIN, AMZ_DATE).starts_with("-9999"));
}

#[test]
fn parsing_reads_back_what_formatting_wrote_and_nothing_else() {
    for ms in [0, 951_782_400_000, 1_795_364_500_000, 4_102_444_799_000] {
        assert_eq!(parse_utc(&format_utc(ms, AMZ_DATE), AMZ_DATE), Some(ms));
    }
    assert_eq!(parse_utc("20150830T123600Z", AMZ_DATE), Some(1_440_938_160_000));
    for bad in [
        "2026-11-22",
        "20261122T162140",
        "20261122T162140Z ",
        "20261322T162140Z",
        "20260231T000000Z",
        "20261122T246140Z",
        "+0261122T162140Z",
        "",
    ] {
        assert_eq!(parse_utc(bad, AMZ_DATE), None, "{bad}");
    }
}

#[test]
fn calendar_conversions_agree_with_known_dates_and_each_other() {
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(days_from_civil(1969, 12, 31), -1);
    assert_eq!(days_from_civil(2000, 2, 29), 11_016);
    assert_eq!(days_from_civil(2026, 11, 22), 20_779);
    // Past the end of a month or year counts on, as the arithmetic it replaces did.
    assert_eq!(days_from_civil(2026, 2, 31), days_from_civil(2026, 3, 3));
    assert_eq!(days_from_civil(2026, 13, 1), days_from_civil(2027, 1, 1));
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    assert_eq!(civil_from_days(-719_468), (0, 3, 1));
    for days in (-800_000..800_000).step_by(997) {
        let (year, month, day) = civil_from_days(days);
        assert_eq!(days_from_civil(year, month, day), days, "{year}-{month}-{day}");
    }
    // Beyond the calendar's years: its limits, never a panic.
    assert_eq!(civil_from_days(i64::MAX), (9999, 12, 31));
    assert_eq!(civil_from_days(i64::MIN), (-9999, 1, 1));
    assert_eq!(days_from_civil(i64::MAX, i64::MAX, i64::MAX), i64::MAX);
}
