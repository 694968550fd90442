//! Secret references and the map-backed secret source.

use std::collections::BTreeMap;

use super::{MapSecrets, SecretParts, SecretSource};

#[test]
fn references_split_into_their_parts() {
    let parts = |it| SecretParts::parse(it);
    assert_eq!(
        parts("ci/tokens:github"),
        SecretParts {
            secret_id: "ci/tokens",
            json_key: Some("github"),
            version_stage: None,
            version_id: None
        }
    );
    assert_eq!(
        parts("arn:aws:secretsmanager:us-east-1:123456789012:secret:ci/all-AbCdEf::AWSPREVIOUS"),
        SecretParts {
            secret_id: "arn:aws:secretsmanager:us-east-1:123456789012:secret:ci/all-AbCdEf",
            json_key: None,
            version_stage: Some("AWSPREVIOUS"),
            version_id: None,
        }
    );
    assert_eq!(parts("plain").secret_id, "plain");
    assert_eq!(parts("id:key:AWSCURRENT:v1").version_id, Some("v1"));
}

#[test]
fn values_come_whole_or_by_json_key() {
    let secrets = MapSecrets::new(BTreeMap::from([
        ("/db/password".to_owned(), "pw".to_owned()),
        ("app".to_owned(), r#"{"token": "t0k", "port": 5432}"#.to_owned()),
        ("text".to_owned(), "not json".to_owned()),
    ]));
    assert_eq!(secrets.parameter("/db/password"), Ok("pw".to_owned()));
    assert_eq!(secrets.parameter("/nope"), Err("parameter `/nope` not found".to_owned()));
    assert_eq!(secrets.secret("app:token"), Ok("t0k".to_owned()));
    assert_eq!(secrets.secret("app:port"), Ok("5432".to_owned()));
    assert_eq!(secrets.secret("app"), Ok(r#"{"token": "t0k", "port": 5432}"#.to_owned()));
    assert_eq!(
        secrets.secret("app:missing"),
        Err("secret `app` has no JSON key `missing`".to_owned())
    );
    assert!(secrets.secret("text:key").unwrap_err().contains("is not a JSON document"));
    assert!(secrets.secret("app::AWSPREVIOUS").unwrap_err().contains("only the current version"));
}
