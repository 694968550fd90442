//! aws-chunked bodies, as S3's streaming uploads send them (`Content-Encoding: aws-chunked`):
//! `<hex size>[;chunk-signature=<sig>]\r\n<data>\r\n` chunks up to one of size 0, then, for the
//! `…-TRAILER` modes, trailing headers (`x-amz-checksum-crc32:…`, and for the signed mode
//! `x-amz-trailer-signature:…`) and an empty line.
//!
//! [`Decoder`] takes the body as it streams and hands the payload on as it comes, never
//! holding a chunk whole; each chunk's signature (chained from the request's own, the
//! [`ChunkSigning`] `s3::verify` returned) is checked when its data ends. A caller keeps
//! nothing of an upload whose body does not decode to its end ([`Decoder::finish`]).

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::hmac;
use super::s3::ChunkSigning;

/// The longest chunk header or trailer line taken.
const MAX_LINE: usize = 4096;

/// Why a body is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkedError {
    #[error("The chunk encoding of the body is invalid: {0}")]
    Malformed(String),
    /// A chunk's (or the trailer's) signature does not match: S3's `SignatureDoesNotMatch`.
    #[error(
        "The request signature we calculated does not match the signature you provided. \
         Check your key and signing method."
    )]
    Signature,
    #[error("The body ended before its last chunk.")]
    Incomplete,
}

/// How the chunks are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: signed chunks.
    Signed,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: signed chunks and a signed trailer.
    SignedTrailer,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: plain chunks and a trailer.
    UnsignedTrailer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a chunk's header line.
    Header,
    /// Reading a chunk's data: this many bytes are left.
    Data(u64),
    /// Reading the `\r\n` after a chunk's data (this many of its two bytes are read).
    DataEnd(u8),
    /// Reading trailer lines, after the last chunk.
    Trailer,
    Done,
}

/// The decoder of one aws-chunked body.
pub struct Decoder {
    mode: Mode,
    signing: Option<ChunkSigning>,
    previous: String,
    state: State,
    line: Vec<u8>,
    hasher: Sha256,
    chunk_signature: String,
    decoded: u64,
    trailers: Vec<(String, String)>,
    trailer_signature: Option<String>,
}

impl Decoder {
    /// A decoder for the `x-amz-content-sha256` mode `mode`; `signing` is what `s3::verify`
    /// handed back for it (the signed modes need it).
    pub fn new(mode: &str, signing: Option<ChunkSigning>) -> Result<Decoder, ChunkedError> {
        let mode = match mode {
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" => Mode::Signed,
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" => Mode::SignedTrailer,
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER" => Mode::UnsignedTrailer,
            other => return Err(ChunkedError::Malformed(format!("unknown mode {other}"))),
        };
        if mode != Mode::UnsignedTrailer && signing.is_none() {
            return Err(ChunkedError::Malformed(
                "a signed mode needs the request's signing".into(),
            ));
        }
        let previous = signing.as_ref().map(|it| it.seed_signature.clone()).unwrap_or_default();
        Ok(Decoder {
            mode,
            signing,
            previous,
            state: State::Header,
            line: Vec::new(),
            hasher: Sha256::new(),
            chunk_signature: String::new(),
            decoded: 0,
            trailers: Vec::new(),
            trailer_signature: None,
        })
    }

    /// Decodes the next bytes of the body, appending the payload they hold to `out`.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), ChunkedError> {
        while !input.is_empty() {
            match self.state {
                State::Header | State::Trailer => {
                    let Some(end) = input.iter().position(|b| *b == b'\n') else {
                        self.push_line(input)?;
                        return Ok(());
                    };
                    self.push_line(&input[..end])?;
                    input = &input[end + 1..];
                    let line = std::mem::take(&mut self.line);
                    let line = line.strip_suffix(b"\r").unwrap_or(&line);
                    let line = std::str::from_utf8(line)
                        .map_err(|_| ChunkedError::Malformed("a line is not UTF-8".into()))?;
                    if self.state == State::Header {
                        self.header(line)?;
                    } else {
                        self.trailer(line)?;
                    }
                }
                State::Data(left) => {
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(input.len());
                    let (data, rest) = input.split_at(take);
                    self.hasher.update(data);
                    out.extend_from_slice(data);
                    self.decoded += data.len() as u64;
                    input = rest;
                    let left = left - take as u64;
                    self.state = if left == 0 { State::DataEnd(0) } else { State::Data(left) };
                }
                State::DataEnd(read) => {
                    let expected = if read == 0 { b'\r' } else { b'\n' };
                    if input[0] != expected {
                        return Err(ChunkedError::Malformed(
                            "a chunk's data is longer than its size".into(),
                        ));
                    }
                    input = &input[1..];
                    if read == 0 {
                        self.state = State::DataEnd(1);
                    } else {
                        self.end_chunk()?;
                        self.state = State::Header;
                    }
                }
                State::Done => {
                    return Err(ChunkedError::Malformed("bytes after the last chunk".into()));
                }
            }
        }
        Ok(())
    }

    /// The end of the body: the payload's length and its trailing headers, or why it is not
    /// whole.
    pub fn finish(self) -> Result<Decoded, ChunkedError> {
        if self.state != State::Done {
            return Err(ChunkedError::Incomplete);
        }
        Ok(Decoded { length: self.decoded, trailers: self.trailers })
    }

    fn push_line(&mut self, bytes: &[u8]) -> Result<(), ChunkedError> {
        if self.line.len() + bytes.len() > MAX_LINE {
            return Err(ChunkedError::Malformed("a chunk header or trailer is too long".into()));
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn header(&mut self, line: &str) -> Result<(), ChunkedError> {
        let (size, extension) = line.split_once(';').unwrap_or((line, ""));
        let size = u64::from_str_radix(size.trim(), 16)
            .map_err(|_| ChunkedError::Malformed(format!("not a chunk size: {size:?}")))?;
        self.chunk_signature = match self.mode {
            Mode::UnsignedTrailer => String::new(),
            Mode::Signed | Mode::SignedTrailer => extension
                .strip_prefix("chunk-signature=")
                .ok_or_else(|| ChunkedError::Malformed("a chunk without its signature".into()))?
                .to_owned(),
        };
        self.hasher = Sha256::new();
        if size > 0 {
            self.state = State::Data(size);
            return Ok(());
        }
        // The last chunk (its signature covers no data); then the trailer, or for a body
        // without one, the empty line that ends it.
        if self.mode != Mode::UnsignedTrailer {
            self.check_chunk()?;
        }
        self.state = State::Trailer;
        Ok(())
    }

    fn end_chunk(&mut self) -> Result<(), ChunkedError> {
        if self.mode == Mode::UnsignedTrailer {
            return Ok(());
        }
        self.check_chunk()
    }

    /// Checks the chunk just read against its signature, which the next one chains from.
    fn check_chunk(&mut self) -> Result<(), ChunkedError> {
        let Some(signing) = &self.signing else { return Err(ChunkedError::Signature) };
        let data_hash = hex::encode(std::mem::take(&mut self.hasher).finalize());
        let empty_hash = hex::encode(Sha256::digest(b""));
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{empty_hash}\n{data_hash}",
            signing.amz_date, signing.scope, self.previous
        );
        let expected = hex::encode(hmac(&signing.key, string_to_sign.as_bytes()));
        if !bool::from(expected.as_bytes().ct_eq(self.chunk_signature.as_bytes())) {
            return Err(ChunkedError::Signature);
        }
        self.previous = expected;
        Ok(())
    }

    fn trailer(&mut self, line: &str) -> Result<(), ChunkedError> {
        if !line.is_empty() {
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| ChunkedError::Malformed(format!("not a trailer: {line:?}")))?;
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_owned());
            if name == "x-amz-trailer-signature" {
                self.trailer_signature = Some(value);
            } else if self.mode == Mode::Signed {
                return Err(ChunkedError::Malformed("a trailer in a body without one".into()));
            } else {
                self.trailers.push((name, value));
            }
            return Ok(());
        }
        if self.mode == Mode::SignedTrailer {
            self.check_trailer()?;
        }
        self.state = State::Done;
        Ok(())
    }

    /// The signed trailer's signature, over its headers as `name:value\n` lines.
    fn check_trailer(&self) -> Result<(), ChunkedError> {
        let (Some(signing), Some(claimed)) = (&self.signing, &self.trailer_signature) else {
            return Err(ChunkedError::Signature);
        };
        let lines: String =
            self.trailers.iter().map(|(name, value)| format!("{name}:{value}\n")).collect();
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{}\n{}",
            signing.amz_date,
            signing.scope,
            self.previous,
            hex::encode(Sha256::digest(lines.as_bytes()))
        );
        let expected = hex::encode(hmac(&signing.key, string_to_sign.as_bytes()));
        if !bool::from(expected.as_bytes().ct_eq(claimed.as_bytes())) {
            return Err(ChunkedError::Signature);
        }
        Ok(())
    }
}

/// A body decoded to its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The payload's length (what `x-amz-decoded-content-length` says it must be).
    pub length: u64,
    /// The trailing headers (`x-amz-checksum-crc32`, …), names lower-cased, without the
    /// trailer's signature.
    pub trailers: Vec<(String, String)>,
}

#[cfg(test)]
mod tests;
