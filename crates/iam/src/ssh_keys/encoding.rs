//! SSH public keys in their two encodings: OpenSSH's one line (`ssh-rsa AAAA… comment`,
//! `ssh-ed25519`, `ecdsa-sha2-nistp256/384/521`) and PEM (`PUBLIC KEY`, a DER
//! SubjectPublicKeyInfo, or `RSA PUBLIC KEY`, PKCS #1), read into the key's SSH wire blob and
//! written back in either; and IAM's fingerprint (the MD5 of the blob, hex with colons).

use md5::{Digest, Md5};

/// What is wrong with a key body, as IAM's errors tell it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// Neither an OpenSSH key line nor PEM (`UnrecognizedPublicKeyEncoding`).
    Unrecognized,
    /// The encoding is known but the key in it is not valid (`InvalidPublicKey`).
    Invalid(&'static str),
}

/// A public key: its SSH algorithm name and wire blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub algorithm: String,
    pub blob: Vec<u8>,
}

/// The shortest RSA modulus IAM accepts, in bits.
const MIN_RSA_BITS: usize = 2048;

const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// The ECDSA curves: SSH's name and the curve's OID.
const CURVES: &[(&str, &[u8])] = &[
    ("nistp256", &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]),
    ("nistp384", &[0x2b, 0x81, 0x04, 0x00, 0x22]),
    ("nistp521", &[0x2b, 0x81, 0x04, 0x00, 0x23]),
];

impl PublicKey {
    /// Reads a key body in either encoding and checks the key.
    pub fn parse(body: &str) -> Result<PublicKey, KeyError> {
        let body = body.trim();
        let key = if body.starts_with("-----BEGIN") {
            from_pem(body)?
        } else {
            let mut parts = body.split_whitespace();
            let algorithm = parts.next().unwrap_or_default();
            if !is_known(algorithm) {
                return Err(KeyError::Unrecognized);
            }
            let blob = parts
                .next()
                .and_then(awsapi::base64::decode)
                .ok_or(KeyError::Invalid("the key is not base64"))?;
            PublicKey { algorithm: algorithm.to_owned(), blob }
        };
        key.check()?;
        Ok(key)
    }

    /// Checks that the blob is a well-formed key of its algorithm (RSA: 2048 bits at least).
    fn check(&self) -> Result<(), KeyError> {
        let mut reader = Reader(&self.blob);
        if reader.string()? != self.algorithm.as_bytes() {
            return Err(KeyError::Invalid("the key's algorithm differs from its label"));
        }
        match self.algorithm.as_str() {
            "ssh-rsa" => {
                let _exponent = reader.string()?;
                let modulus = reader.string()?;
                let significant = modulus.iter().skip_while(|b| **b == 0).count();
                if significant * 8 < MIN_RSA_BITS {
                    return Err(KeyError::Invalid("RSA keys must have at least 2048 bits"));
                }
            }
            "ssh-ed25519" => {
                if reader.string()?.len() != 32 {
                    return Err(KeyError::Invalid("an Ed25519 key is 32 bytes"));
                }
            }
            ecdsa => {
                let curve = reader.string()?;
                if Some(curve) != ecdsa.strip_prefix("ecdsa-sha2-").map(str::as_bytes) {
                    return Err(KeyError::Invalid("the key's curve differs from its label"));
                }
                let point = reader.string()?;
                if point.first() != Some(&4) {
                    return Err(KeyError::Invalid("the ECDSA point is not uncompressed"));
                }
            }
        }
        if !reader.0.is_empty() {
            return Err(KeyError::Invalid("the key has trailing bytes"));
        }
        Ok(())
    }

    /// `ssh-rsa AAAA…`: OpenSSH's line, without a comment.
    pub fn to_ssh(&self) -> String {
        format!("{} {}", self.algorithm, awsapi::base64::encode(&self.blob))
    }

    /// `-----BEGIN PUBLIC KEY-----`: the DER SubjectPublicKeyInfo in PEM.
    pub fn to_pem(&self) -> String {
        let der = self.spki();
        let text = awsapi::base64::encode(&der);
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in text.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----");
        pem
    }

    /// IAM's fingerprint: the MD5 of the blob, as `xx:xx:…`.
    pub fn fingerprint(&self) -> String {
        let digest = Md5::digest(&self.blob);
        digest.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
    }

    fn spki(&self) -> Vec<u8> {
        // `check` passed, so the blob reads; an unreadable part writes as empty.
        let mut reader = Reader(&self.blob);
        let _ = reader.string();
        let (algorithm, key) = match self.algorithm.as_str() {
            "ssh-rsa" => {
                let exponent = reader.string().unwrap_or_default();
                let modulus = reader.string().unwrap_or_default();
                let rsa = der(0x30, &[der(0x02, modulus), der(0x02, exponent)].concat());
                (der(0x30, &[der(0x06, OID_RSA), der(0x05, &[])].concat()), rsa)
            }
            "ssh-ed25519" => {
                let key = reader.string().unwrap_or_default().to_vec();
                (der(0x30, &der(0x06, OID_ED25519)), key)
            }
            _ => {
                let curve = reader.string().unwrap_or_default();
                let point = reader.string().unwrap_or_default().to_vec();
                let oid = CURVES.iter().find(|(name, _)| name.as_bytes() == curve);
                let oid = oid.map(|(_, oid)| *oid).unwrap_or_default();
                (der(0x30, &[der(0x06, OID_EC), der(0x06, oid)].concat()), point)
            }
        };
        let bits = der(0x03, &[&[0u8][..], &key].concat());
        der(0x30, &[algorithm, bits].concat())
    }
}

fn is_known(algorithm: &str) -> bool {
    matches!(
        algorithm,
        "ssh-rsa"
            | "ssh-ed25519"
            | "ecdsa-sha2-nistp256"
            | "ecdsa-sha2-nistp384"
            | "ecdsa-sha2-nistp521"
    )
}

/// A PEM body's key: `PUBLIC KEY` (SubjectPublicKeyInfo) or `RSA PUBLIC KEY` (PKCS #1).
fn from_pem(body: &str) -> Result<PublicKey, KeyError> {
    let mut lines = body.lines().map(str::trim).filter(|it| !it.is_empty());
    let label = lines
        .next()
        .and_then(|it| it.strip_prefix("-----BEGIN "))
        .and_then(|it| it.strip_suffix("-----"))
        .ok_or(KeyError::Unrecognized)?;
    let text: String = lines.take_while(|it| !it.starts_with("-----END")).collect();
    let der =
        awsapi::base64::decode(&text).ok_or(KeyError::Invalid("the PEM body is not base64"))?;
    match label {
        "RSA PUBLIC KEY" => rsa_from_pkcs1(&der),
        "PUBLIC KEY" => from_spki(&der),
        _ => Err(KeyError::Unrecognized),
    }
}

fn from_spki(der: &[u8]) -> Result<PublicKey, KeyError> {
    let bad = KeyError::Invalid("the PEM key is not a valid SubjectPublicKeyInfo");
    let mut outer = Der(der);
    let mut info = Der(outer.take(0x30)?);
    let mut algorithm = Der(info.take(0x30)?);
    let bits = info.take(0x03)?;
    let key = bits.strip_prefix(&[0u8][..]).ok_or(bad.clone())?;
    let oid = algorithm.take(0x06)?;
    if oid == OID_RSA {
        return rsa_from_pkcs1(key);
    }
    if oid == OID_ED25519 {
        let mut blob = ssh_string(b"ssh-ed25519");
        blob.extend(ssh_string(key));
        return Ok(PublicKey { algorithm: "ssh-ed25519".to_owned(), blob });
    }
    if oid == OID_EC {
        let curve_oid = algorithm.take(0x06)?;
        let (curve, _) = CURVES.iter().find(|(_, oid)| *oid == curve_oid).ok_or(bad)?;
        let name = format!("ecdsa-sha2-{curve}");
        let mut blob = ssh_string(name.as_bytes());
        blob.extend(ssh_string(curve.as_bytes()));
        blob.extend(ssh_string(key));
        return Ok(PublicKey { algorithm: name, blob });
    }
    Err(KeyError::Unrecognized)
}

fn rsa_from_pkcs1(der: &[u8]) -> Result<PublicKey, KeyError> {
    let mut outer = Der(der);
    let mut rsa = Der(outer.take(0x30)?);
    let modulus = rsa.take(0x02)?;
    let exponent = rsa.take(0x02)?;
    let mut blob = ssh_string(b"ssh-rsa");
    blob.extend(ssh_string(exponent));
    blob.extend(ssh_string(modulus));
    Ok(PublicKey { algorithm: "ssh-rsa".to_owned(), blob })
}

/// SSH's `string`: a 32-bit big-endian length, then the bytes.
fn ssh_string(bytes: &[u8]) -> Vec<u8> {
    let length = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    [&length.to_be_bytes()[..], bytes].concat()
}

/// Reads SSH `string`s from a blob.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn string(&mut self) -> Result<&'a [u8], KeyError> {
        let bad = KeyError::Invalid("the key blob is cut short");
        let (length, rest) = self.0.split_first_chunk::<4>().ok_or(bad.clone())?;
        let length = u32::from_be_bytes(*length) as usize;
        if rest.len() < length {
            return Err(bad);
        }
        let (value, rest) = rest.split_at(length);
        self.0 = rest;
        Ok(value)
    }
}

/// A DER element: its tag, its length (short or long form), its contents.
fn der(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let length = contents.len();
    if length < 0x80 {
        out.push(length as u8);
    } else {
        let bytes: Vec<u8> = length.to_be_bytes().iter().copied().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(contents);
    out
}

/// Reads DER elements in order.
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    /// The contents of the next element, which must have `tag`.
    fn take(&mut self, tag: u8) -> Result<&'a [u8], KeyError> {
        let bad = KeyError::Invalid("the PEM key's DER is not valid");
        let [found, first, rest @ ..] = self.0 else { return Err(bad) };
        if *found != tag {
            return Err(bad);
        }
        let (length, rest) = if first & 0x80 == 0 {
            (usize::from(*first), rest)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 || rest.len() < count {
                return Err(bad);
            }
            let length = rest[..count].iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (length, &rest[count..])
        };
        if rest.len() < length {
            return Err(bad);
        }
        let (contents, rest) = rest.split_at(length);
        self.0 = rest;
        Ok(contents)
    }
}

#[cfg(test)]
mod tests;
