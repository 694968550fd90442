//! `BuildArtifacts` in CodeBuild's shape: `overrideArtifactName` is a boolean.

use serde_json::json;

use super::BuildArtifacts;

#[test]
fn override_artifact_name_is_a_boolean_and_old_records_still_read() {
    let artifacts = BuildArtifacts {
        location: "builds/app/1/artifacts.zip".to_owned(),
        sha256sum: "00".to_owned(),
        artifact_identifier: None,
        override_artifact_name: Some(true),
    };
    let value = serde_json::to_value(&artifacts).unwrap();
    assert_eq!(value["overrideArtifactName"], json!(true));
    let old = json!({ "location": "l", "sha256sum": "s", "overrideArtifactName": "release-7" });
    let read: BuildArtifacts = serde_json::from_value(old).unwrap();
    assert_eq!(read.override_artifact_name, Some(true));
    let none: BuildArtifacts =
        serde_json::from_value(json!({ "location": "l", "sha256sum": "s" })).unwrap();
    assert_eq!(none.override_artifact_name, None);
}
