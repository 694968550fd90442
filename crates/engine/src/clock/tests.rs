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
