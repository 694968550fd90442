//! Tests of the live log tail's line splitting: complete lines go out, an endless line goes out
//! in bounded pieces.

use super::*;

#[test]
fn complete_lines_go_out_and_the_rest_waits() {
    let mut pending = b"one\ntwo\nthr".to_vec();
    assert_eq!(take_lines(&mut pending).as_deref(), Some("one\ntwo\n"));
    assert_eq!(pending, b"thr");
    assert_eq!(take_lines(&mut pending), None);
    assert_eq!(pending, b"thr");
}

#[test]
fn a_line_without_a_newline_is_sent_in_pieces_so_nothing_accumulates() {
    // A build printing megabytes without a newline: what is held back stays under the limit.
    let mut pending = Vec::new();
    let mut sent = 0;
    for _ in 0..100 {
        pending.extend(std::iter::repeat_n(b'x', 100 * 1024));
        if let Some(piece) = take_lines(&mut pending) {
            sent += piece.len();
        }
        assert!(pending.len() < LINE_LIMIT, "{} bytes held back", pending.len());
    }
    assert_eq!(sent + pending.len(), 100 * 100 * 1024);
}

#[test]
fn a_piece_never_splits_a_character() {
    let mut pending = vec![b'x'; LINE_LIMIT - 1];
    pending.extend("é".as_bytes()[..1].iter());
    // One byte of a two-byte character ends the text: it waits for its second byte.
    let piece = take_lines(&mut pending).unwrap();
    assert_eq!(piece.len(), LINE_LIMIT - 1);
    assert_eq!(pending, "é".as_bytes()[..1]);
    pending.extend("é".as_bytes()[1..].iter());
    pending.push(b'\n');
    assert_eq!(take_lines(&mut pending).as_deref(), Some("é\n"));
}
