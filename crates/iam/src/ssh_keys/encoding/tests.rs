//! Tests of the key encodings against keys `ssh-keygen` made: the fingerprints
//! `ssh-keygen -l -E md5` prints, the PEM `ssh-keygen -e -m PKCS8` writes (and PKCS #1's
//! `-m PEM`), and the keys refused.

use super::*;

/// `ssh-keygen -t rsa -b 2048`.
const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCwqsT8vGcVD+glNt+vsJok8shL7+MWWqWXHwveaeSUJFJAzV/Jy85jhh01Hr70lm5CpYDzA9OwZhpU92FJjFMvYqh44c9f1ItsklgzhRdxXNGgkh45squTUvL6r3hKnoUMLmuc47omh2D5KPI8OWjzOWrJ6sBkaf5cf4Sp4swOLWAhwHhvX/fROp+O3RiNcFqt/+oczqJUefk/eeEz5vAVo+pfhhXs/1UxswCbr8eLYHcoQ/LTr9G34gbOqqvx+NDXprRkOCtlpSZjNoQ06Md0zfp3KejLiNHJ8x9keCKmhMK7U2c+/fdEjriGlN7Y2hSBNTDZDngEN3f5D+yoiLft root@vm";
/// `ssh-keygen -e -m PKCS8 -f` of [`RSA`].
const RSA_PKCS8: &str = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAsKrE/LxnFQ/oJTbfr7Ca\nJPLIS+/jFlqllx8L3mnklCRSQM1fycvOY4YdNR6+9JZuQqWA8wPTsGYaVPdhSYxT\nL2KoeOHPX9SLbJJYM4UXcVzRoJIeObKrk1Ly+q94Sp6FDC5rnOO6Jodg+SjyPDlo\n8zlqyerAZGn+XH+EqeLMDi1gIcB4b1/30Tqfjt0YjXBarf/qHM6iVHn5P3nhM+bw\nFaPqX4YV7P9VMbMAm6/Hi2B3KEPy06/Rt+IGzqqr8fjQ16a0ZDgrZaUmYzaENOjH\ndM36dynoy4jRyfMfZHgipoTCu1NnPv33RI64hpTe2NoUgTUw2Q54BDd3+Q/sqIi3\n7QIDAQAB\n-----END PUBLIC KEY-----";
/// `ssh-keygen -e -m PEM -f` of [`RSA`].
const RSA_PKCS1: &str = "-----BEGIN RSA PUBLIC KEY-----\nMIIBCgKCAQEAsKrE/LxnFQ/oJTbfr7CaJPLIS+/jFlqllx8L3mnklCRSQM1fycvO\nY4YdNR6+9JZuQqWA8wPTsGYaVPdhSYxTL2KoeOHPX9SLbJJYM4UXcVzRoJIeObKr\nk1Ly+q94Sp6FDC5rnOO6Jodg+SjyPDlo8zlqyerAZGn+XH+EqeLMDi1gIcB4b1/3\n0Tqfjt0YjXBarf/qHM6iVHn5P3nhM+bwFaPqX4YV7P9VMbMAm6/Hi2B3KEPy06/R\nt+IGzqqr8fjQ16a0ZDgrZaUmYzaENOjHdM36dynoy4jRyfMfZHgipoTCu1NnPv33\nRI64hpTe2NoUgTUw2Q54BDd3+Q/sqIi37QIDAQAB\n-----END RSA PUBLIC KEY-----";
/// `ssh-keygen -t ed25519`.
const ED25519: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO9ia7OYsWn9cPiT9qcJwYQWUTcYfSHQ5/eWqWfGA2HC root@vm";
/// `ssh-keygen -t ecdsa -b 384`.
const ECDSA_384: &str = "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBGosthJBSzqHq3Dc800IEkeN+874Qzf5kuZt7OdXV40iOEqyERvCTgzyhSx/wBiIqyCa60d8ClKe5Oq/ETqW4H2Fueyy2tYOc8l4JIXiL/s409cETTJJvwR6wtomzXsF2g== root@vm";
/// `ssh-keygen -t ecdsa -b 256`.
const ECDSA_256: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBI9lL6WO3addxIfDDtY6u8Dl4L2YxY6ltrUqv70q1H6PweI+lhJRIw2hORAJT0tL/esBRg1W7sPvayy9COuGw9c= p";
/// `ssh-keygen -t rsa -b 1024`: too short for IAM.
const RSA_1024: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQCzZxQVNaoK1XubCG+xoB2RgkLYgXFEw+468M4noZJpHcork9hPoe5JMBZvyKYCQ7cfR2joRyHEDWhOLjwosiFoVE42n2IMgkzcqZ7Wf0bybzaqLfHI8tJ9ynbEiO/ubCwAvwh44WVCuFu5Ir/KypJtqqgLORxZa4v6Ofu0KHgRfQ== small";

#[test]
fn openssh_keys_read_with_the_fingerprints_ssh_keygen_prints() {
    for (body, algorithm, fingerprint) in [
        (RSA, "ssh-rsa", "2d:2e:f0:35:c7:df:e4:0f:4d:17:b0:2d:d3:7c:08:b0"),
        (ED25519, "ssh-ed25519", "12:d9:2c:49:59:0e:47:4a:9f:27:a3:6a:cb:0f:57:6f"),
        (ECDSA_384, "ecdsa-sha2-nistp384", "fb:eb:b6:cb:0a:b9:c6:02:52:26:10:12:55:1b:a8:d2"),
        (ECDSA_256, "ecdsa-sha2-nistp256", "a9:46:ce:a3:96:f7:5b:3a:0d:a5:c6:eb:9b:bc:e4:a2"),
    ] {
        let key = PublicKey::parse(body).unwrap();
        assert_eq!(key.algorithm, algorithm);
        assert_eq!(key.fingerprint(), fingerprint, "{body}");
        // SSH out is the line without its comment; PEM out reads back as the same key.
        assert!(body.starts_with(&format!("{} ", key.to_ssh())), "{body}");
        assert_eq!(PublicKey::parse(&key.to_pem()).unwrap(), key, "{body}");
    }
}

#[test]
fn pem_keys_read_as_the_same_key_and_are_written_as_openssl_does() {
    let key = PublicKey::parse(RSA).unwrap();
    assert_eq!(PublicKey::parse(RSA_PKCS8).unwrap(), key);
    assert_eq!(PublicKey::parse(&format!("\n{RSA_PKCS8}\n\n")).unwrap(), key);
    assert_eq!(PublicKey::parse(RSA_PKCS1).unwrap(), key);
    assert_eq!(key.to_pem(), RSA_PKCS8);
}

#[test]
fn other_encodings_and_bad_keys_are_refused_with_their_error() {
    for unrecognized in [
        "",
        "hello",
        "ssh-dss AAAAB3NzaC1kc3M=",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
    ] {
        assert_eq!(PublicKey::parse(unrecognized), Err(KeyError::Unrecognized), "{unrecognized}");
    }
    assert_eq!(
        PublicKey::parse(RSA_1024),
        Err(KeyError::Invalid("RSA keys must have at least 2048 bits"))
    );
    let wrong_label = ED25519.replacen("ssh-ed25519", "ssh-rsa", 1);
    assert!(matches!(PublicKey::parse(&wrong_label), Err(KeyError::Invalid(_))));
    let cut = &ED25519[..60];
    assert!(matches!(PublicKey::parse(cut), Err(KeyError::Invalid(_))), "{cut}");
    assert!(matches!(PublicKey::parse("ssh-rsa !!!"), Err(KeyError::Invalid(_))));
    let broken_pem = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkq\n-----END PUBLIC KEY-----";
    assert!(matches!(PublicKey::parse(broken_pem), Err(KeyError::Invalid(_))));
}
