//! Bucket names, as S3 takes them for general purpose buckets: 3 to 63 characters of lower-case
//! letters, digits, dots and hyphens, beginning and ending with a letter or digit, no two dots
//! together, not an IP address, and none of the prefixes and suffixes S3 keeps for itself.

use awsapi::ApiError;

/// Prefixes S3 keeps for itself.
const RESERVED_PREFIXES: &[&str] = &["xn--", "sthree-", "amzn-s3-demo-"];

/// Suffixes S3 keeps for itself.
const RESERVED_SUFFIXES: &[&str] = &["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

/// `name` if S3 would take it as a bucket's name; else S3's `InvalidBucketName`.
pub fn check_name(name: &str) -> Result<&str, ApiError> {
    if is_valid_name(name) {
        return Ok(name);
    }
    Err(ApiError::client("InvalidBucketName", "The specified bucket is not valid."))
}

fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let allowed = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-';
    let letter_or_digit =
        |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    (3..=63).contains(&bytes.len())
        && bytes.iter().all(allowed)
        && letter_or_digit(bytes.first())
        && letter_or_digit(bytes.last())
        && !name.contains("..")
        && name.parse::<std::net::Ipv4Addr>().is_err()
        && !RESERVED_PREFIXES.iter().any(|prefix| name.starts_with(prefix))
        && !RESERVED_SUFFIXES.iter().any(|suffix| name.ends_with(suffix))
}

#[cfg(test)]
mod tests;
