//! Offset paging tokens: parsing and the last page.

use super::{next_offset, offset};

#[test]
fn tokens_are_offsets_and_the_last_page_has_none() {
    assert_eq!(offset(None), Ok(0));
    assert_eq!(offset(Some("200")), Ok(200));
    assert!(offset(Some("x")).is_err());
    assert_eq!(next_offset(0, 100, 250).as_deref(), Some("100"));
    assert_eq!(next_offset(200, 100, 250), None);
    assert_eq!(next_offset(0, 100, 100), None);
}
