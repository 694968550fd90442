//! The checksums against values S3's documentation and the SDKs give for known inputs.

use super::{Algorithm, Running};

fn of(algorithm: Algorithm, pieces: &[&[u8]]) -> String {
    let mut running = Running::new(algorithm);
    for piece in pieces {
        running.update(piece);
    }
    running.finish().value
}

#[test]
fn checksums_of_hello_world_are_the_sdks_values() {
    // "Hello world" as the AWS SDKs' checksum tests compute it.
    let hello: &[&[u8]] = &[b"Hello ", b"world"];
    assert_eq!(of(Algorithm::Crc32, hello), "i9aeUg==");
    assert_eq!(of(Algorithm::Crc32c, hello), "crUfeA==");
    assert_eq!(of(Algorithm::Sha1, hello), "e1AsOh9IyGCa4hLN+2Od7jlnP14=");
    assert_eq!(of(Algorithm::Sha256, hello), "ZOyIygCyaOW6GjVnihtTFtIS9PNmskdyMlNKiuyjfzw=");
    assert_eq!(of(Algorithm::Crc64nvme, hello), "OOJZ0D8xKts=");
    // The empty body's CRC64NVME is zero.
    assert_eq!(of(Algorithm::Crc64nvme, &[]), "AAAAAAAAAAA=");
}

#[test]
fn names_and_headers_go_both_ways() {
    for algorithm in Algorithm::ALL {
        assert_eq!(Algorithm::parse(&algorithm.name().to_lowercase()).unwrap(), algorithm);
        assert_eq!(Algorithm::of_header(algorithm.header()), Some(algorithm));
    }
    assert_eq!(Algorithm::parse("MD5").unwrap_err().code, "InvalidRequest");
}
