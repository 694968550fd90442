//! Encryption at rest for secrets (access-key secrets, parameter and secret values).
//!
//! One key per installation, kept in `<data-dir>/master.key` (mode 0600) and created on the
//! installation's first start; every other replica is given the same file
//! (`--master-key-file`). The store records the key's [`SecretBox::fingerprint`] (never the
//! key), so that a replica started with another key refuses to start instead of failing every
//! signature. Values are sealed with ChaCha20-Poly1305 under a random nonce and stored as hex.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

/// Seals and opens secrets with the installation's key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
    fingerprint: String,
}

/// What [`SecretBox::fingerprint`] signs.
const FINGERPRINT_LABEL: &[u8] = b"slipway installation key fingerprint v1";

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the key file {path}: {message}")]
    KeyFile { path: String, message: String },
    #[error("a sealed value cannot be opened: it is damaged or sealed under another key")]
    Open,
}

impl SecretBox {
    /// Loads the key from `path`, or creates it (mode 0600) when the file does not exist and
    /// `create` says so.
    pub fn load_or_create(path: &Path, create: bool) -> Result<SecretBox, CryptoError> {
        let fail =
            |message: String| CryptoError::KeyFile { path: path.display().to_string(), message };
        let key = match std::fs::read_to_string(path) {
            Ok(text) => hex::decode(text.trim())
                .ok()
                .filter(|it| it.len() == 32)
                .ok_or_else(|| fail("not 64 hex digits".to_owned()))?,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound && !create => {
                return Err(fail("does not exist".to_owned()));
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let key = random_bytes(32);
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(|err| fail(err.to_string()))?;
                file.write_all(format!("{}\n", hex::encode(&key)).as_bytes())
                    .map_err(|err| fail(err.to_string()))?;
                file.sync_all().map_err(|err| fail(err.to_string()))?;
                key
            }
            Err(err) => return Err(fail(err.to_string())),
        };
        let mode =
            std::fs::metadata(path).map_err(|err| fail(err.to_string()))?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(fail(format!(
                "is readable by others (mode {:o}); make it 0600",
                mode & 0o777
            )));
        }
        let key =
            Key::try_from(key.as_slice()).map_err(|_| fail("not a 32-byte key".to_owned()))?;
        let fingerprint = hex::encode(awsapi::sigv4::hmac(&key, FINGERPRINT_LABEL));
        Ok(SecretBox { cipher: ChaCha20Poly1305::new(&key), fingerprint })
    }

    /// HMAC-SHA256 of a fixed label under the key, in hex: names the key without revealing it.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// `nonce || ciphertext`, in hex.
    pub fn seal(&self, plaintext: &str) -> String {
        let nonce = random_bytes(12);
        let sealed = self
            .cipher
            .encrypt(
                &Nonce::try_from(nonce.as_slice()).expect("12-byte nonce"),
                plaintext.as_bytes(),
            )
            .expect("encryption of an in-memory value cannot fail");
        format!("{}{}", hex::encode(&nonce), hex::encode(&sealed))
    }

    pub fn open(&self, sealed: &str) -> Result<String, CryptoError> {
        let bytes = hex::decode(sealed).ok().filter(|it| it.len() > 12).ok_or(CryptoError::Open)?;
        let (nonce, ciphertext) = bytes.split_at(12);
        let nonce = Nonce::try_from(nonce).map_err(|_| CryptoError::Open)?;
        let plain = self.cipher.decrypt(&nonce, ciphertext).map_err(|_| CryptoError::Open)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Open)
    }
}

/// Bytes from the operating system's random source.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    bytes
}

/// A random string of `n` characters from `alphabet`.
pub fn random_string(n: usize, alphabet: &[u8]) -> String {
    // Rejection sampling keeps every character equally likely.
    let limit = 256 - 256 % alphabet.len();
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for b in random_bytes(n * 2) {
            if (b as usize) < limit && out.len() < n {
                out.push(alphabet[b as usize % alphabet.len()] as char);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
