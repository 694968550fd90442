//! Tests of aws-chunked bodies: AWS's published example (66,560 bytes in chunks of 64 KiB,
//! "Example: PUT Object" of the S3 API reference's "Signature Calculations for the
//! Authorization Header: Transferring Payload in Multiple Chunks") decodes however it is cut,
//! a changed byte or a cut body is refused; the trailer modes (the signed trailer's signatures
//! computed with the same formula outside this code).

use crate::sigv4::chunked::{ChunkedError, Decoded, Decoder};
use crate::sigv4::s3::ChunkSigning;
use crate::sigv4::signing_key;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";

fn signing() -> ChunkSigning {
    ChunkSigning {
        key: signing_key(SECRET, "20130524", "us-east-1", "s3"),
        amz_date: "20130524T000000Z".to_owned(),
        scope: "20130524/us-east-1/s3/aws4_request".to_owned(),
        seed_signature: SEED.to_owned(),
    }
}

/// AWS's example body: 65,536 then 1,024 bytes of `a`, then the last chunk.
fn docs_body() -> Vec<u8> {
    let mut body = Vec::new();
    for (size, signature) in [
        (65_536, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"),
        (1024, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"),
        (0, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"),
    ] {
        body.extend_from_slice(format!("{size:x};chunk-signature={signature}\r\n").as_bytes());
        body.extend(std::iter::repeat_n(b'a', size));
        body.extend_from_slice(b"\r\n");
    }
    body
}

fn decode(mode: &str, body: &[u8], piece: usize) -> Result<(Vec<u8>, Decoded), ChunkedError> {
    let signed = mode.starts_with("STREAMING-AWS4");
    let mut decoder = Decoder::new(mode, signed.then(signing))?;
    let mut out = Vec::new();
    for part in body.chunks(piece) {
        decoder.feed(part, &mut out)?;
    }
    Ok((out, decoder.finish()?))
}

#[test]
fn aws_s_chunked_example_decodes_however_it_is_cut() {
    let body = docs_body();
    assert_eq!(body.len(), 66_824, "the example's Content-Length");
    for piece in [1, 7, 4096, body.len()] {
        let (payload, decoded) =
            decode("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", &body, piece).unwrap();
        assert_eq!(decoded.length, 66_560);
        assert!(decoded.trailers.is_empty());
        assert!(payload.len() == 66_560 && payload.iter().all(|b| *b == b'a'));
    }
}

#[test]
fn a_changed_byte_a_cut_body_or_trailing_bytes_are_refused() {
    let mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
    let mut changed = docs_body();
    changed[100] = b'b';
    assert_eq!(decode(mode, &changed, 4096).unwrap_err(), ChunkedError::Signature);
    let body = docs_body();
    assert_eq!(decode(mode, &body[..body.len() - 2], 4096).unwrap_err(), ChunkedError::Incomplete);
    let mut longer = body.clone();
    longer.extend_from_slice(b"more");
    assert!(matches!(decode(mode, &longer, 4096), Err(ChunkedError::Malformed(_))));
    // A chunk whose data runs past its size.
    let wrong_size = String::from_utf8(body).unwrap().replacen("400;", "3ff;", 1);
    assert!(decode(mode, wrong_size.as_bytes(), 4096).is_err());
    // Without the request's signing, a signed mode is not taken.
    assert!(Decoder::new(mode, None).is_err());
}

#[test]
fn trailers_unsigned_and_signed() {
    let unsigned = b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n";
    let (payload, decoded) = decode("STREAMING-UNSIGNED-PAYLOAD-TRAILER", unsigned, 3).unwrap();
    assert_eq!(payload, b"hello");
    let trailer = vec![("x-amz-checksum-crc32".to_owned(), "NhCmhg==".to_owned())];
    assert_eq!(decoded, Decoded { length: 5, trailers: trailer.clone() });
    let signed = "5;chunk-signature=7ca2bb6b96869a322ee00fa7347cadb82c8801d9e36e87e71086051b27939767\r\n\
                  hello\r\n\
                  0;chunk-signature=65ef73b8210158bc1059af76e2c4768ca752fadcda0eac914e4b951213af61f7\r\n\
                  x-amz-checksum-crc32:NhCmhg==\r\n\
                  x-amz-trailer-signature:caacfa3eeef4177f9dfd2bc2b60f0f39da9c402a820a4864f8bd732898f0fc72\r\n\
                  \r\n";
    let mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
    let (payload, decoded) = decode(mode, signed.as_bytes(), 5).unwrap();
    assert_eq!((payload.as_slice(), decoded.trailers), (&b"hello"[..], trailer));
    // Another checksum under the same trailer signature: refused.
    let forged = signed.replace("NhCmhg==", "AAAAAA==");
    assert_eq!(decode(mode, forged.as_bytes(), 5).unwrap_err(), ChunkedError::Signature);
}

/// A header line without end, or a size past 64 bits, is refused, never buffered or wrapped.
#[test]
fn an_endless_header_or_an_impossible_size_is_refused() {
    let mode = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
    let endless = vec![b'f'; 5000];
    assert!(matches!(decode(mode, &endless, 100), Err(ChunkedError::Malformed(_))));
    let huge = b"ffffffffffffffffff\r\n";
    assert!(matches!(decode(mode, huge, 100), Err(ChunkedError::Malformed(_))));
}
