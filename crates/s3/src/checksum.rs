//! The `x-amz-checksum-*` checksums S3 computes and checks: CRC32, CRC32C, CRC64NVME, SHA-1 and
//! SHA-256 of a body, base64 of their big-endian bytes, fed as the body streams.

use awsapi::ApiError;
use crc_fast::{CrcAlgorithm, Digest as Crc};
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// A checksum algorithm S3 takes, as `x-amz-sdk-checksum-algorithm` and the
/// `x-amz-checksum-<name>` headers name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Algorithm {
    Crc32,
    Crc32c,
    Crc64nvme,
    Sha1,
    Sha256,
}

impl Algorithm {
    /// Every algorithm, in the order S3's documentation lists them.
    pub const ALL: [Algorithm; 5] = [
        Algorithm::Crc32,
        Algorithm::Crc32c,
        Algorithm::Crc64nvme,
        Algorithm::Sha1,
        Algorithm::Sha256,
    ];

    /// The algorithm's name in `x-amz-sdk-checksum-algorithm` and XML (`CRC32`, …).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "CRC32",
            Algorithm::Crc32c => "CRC32C",
            Algorithm::Crc64nvme => "CRC64NVME",
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
        }
    }

    /// The header that carries it: `x-amz-checksum-crc32`, ….
    pub fn header(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "x-amz-checksum-crc32",
            Algorithm::Crc32c => "x-amz-checksum-crc32c",
            Algorithm::Crc64nvme => "x-amz-checksum-crc64nvme",
            Algorithm::Sha1 => "x-amz-checksum-sha1",
            Algorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The algorithm a name (any case) stands for; S3's `InvalidRequest` otherwise.
    pub fn parse(name: &str) -> Result<Algorithm, ApiError> {
        Algorithm::ALL.into_iter().find(|it| it.name().eq_ignore_ascii_case(name)).ok_or_else(
            || {
                ApiError::client(
                    "InvalidRequest",
                    format!("Value for x-amz-sdk-checksum-algorithm header is invalid: {name}"),
                )
            },
        )
    }

    /// The algorithm whose header `name` (lower-case) is.
    pub fn of_header(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|it| it.header() == name)
    }

    fn hasher(self) -> Hasher {
        match self {
            Algorithm::Crc32 => Hasher::Crc(Crc::new(CrcAlgorithm::Crc32IsoHdlc), 4),
            Algorithm::Crc32c => Hasher::Crc(Crc::new(CrcAlgorithm::Crc32Iscsi), 4),
            Algorithm::Crc64nvme => Hasher::Crc(Crc::new(CrcAlgorithm::Crc64Nvme), 8),
            Algorithm::Sha1 => Hasher::Sha1(Sha1::new()),
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
        }
    }
}

enum Hasher {
    /// A CRC and its width in bytes.
    Crc(Crc, usize),
    Sha1(Sha1),
    Sha256(Sha256),
}

/// A checksum of one algorithm, as S3 stores and answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksum {
    pub algorithm: Algorithm,
    /// Base64 of the checksum's big-endian bytes.
    pub value: String,
}

/// A checksum being computed over a streaming body.
pub struct Running {
    algorithm: Algorithm,
    hasher: Hasher,
}

impl Running {
    pub fn new(algorithm: Algorithm) -> Running {
        Running { algorithm, hasher: algorithm.hasher() }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match &mut self.hasher {
            Hasher::Crc(crc, _) => crc.update(bytes),
            Hasher::Sha1(sha1) => sha1.update(bytes),
            Hasher::Sha256(sha256) => sha256.update(bytes),
        }
    }

    pub fn finish(self) -> Checksum {
        let bytes: Vec<u8> = match self.hasher {
            Hasher::Crc(crc, width) => crc.finalize().to_be_bytes()[8 - width..].to_vec(),
            Hasher::Sha1(sha1) => sha1.finalize().to_vec(),
            Hasher::Sha256(sha256) => sha256.finalize().to_vec(),
        };
        Checksum { algorithm: self.algorithm, value: awsapi::base64::encode(&bytes) }
    }
}

/// S3's answer when a body's checksum is not the one its request sent.
pub fn mismatch(algorithm: Algorithm) -> ApiError {
    ApiError::client(
        "BadDigest",
        format!("The {} you specified did not match the calculated checksum.", algorithm.name()),
    )
}

#[cfg(test)]
mod tests;
