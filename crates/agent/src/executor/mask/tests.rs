//! Masking: whole values, parts of lines, values split across reads, multi-line values.

use super::Masker;

#[test]
fn masks_secrets_inside_lines_and_across_reads() {
    let mut masker = Masker::new(["hunter22".to_owned(), "ab".to_owned()]);
    assert_eq!(masker.push(b"pw=hunter22;\n").as_deref(), Some("pw=***;\n"));
    // Half of the secret in one read, half in the next: nothing leaks in between.
    assert_eq!(masker.push(b"x hun"), None);
    assert_eq!(masker.push(b"ter22 y\nrest"), Some("x *** y\n".to_owned()));
    assert_eq!(masker.flush().as_deref(), Some("rest\n"));
    // Values too short to mask on their own are left alone.
    assert_eq!(masker.mask("abc"), "abc");
}

#[test]
fn multi_line_secrets_are_masked_line_by_line() {
    let masker = Masker::new(["-----BEGIN KEY-----\nMIIEvQIBADANBg\n-----END KEY-----".to_owned()]);
    assert_eq!(masker.mask("MIIEvQIBADANBg\n"), "***\n");
    assert_eq!(masker.mask("key: -----BEGIN KEY-----"), "key: ***");
}

#[test]
fn a_longer_secret_wins_over_one_it_contains() {
    let masker = Masker::new(["token".to_owned(), "token-extended".to_owned()]);
    assert_eq!(masker.mask("a token-extended b token"), "a *** b ***");
}

#[test]
fn an_endless_line_is_released_in_bounded_pieces() {
    let mut masker = Masker::new(Vec::new());
    let chunk = vec![b'x'; 600 * 1024];
    assert_eq!(masker.push(&chunk), None);
    let released = masker.push(&chunk).unwrap();
    assert_eq!(released.len(), 1200 * 1024);
}
