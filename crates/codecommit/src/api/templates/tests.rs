//! Unit tests of approval rule templates' pure parts: content validation, which pull requests
//! a template applies to, names and association keys.

use serde_json::json;

use super::{applies, association_key, check_content, check_template_name};

fn content(references: Option<&[&str]>) -> String {
    let mut document = json!({
        "Version": "2018-11-08",
        "Statements": [{ "Type": "Approvers", "NumberOfApprovalsNeeded": 1 }],
    });
    if let Some(references) = references {
        document["DestinationReferences"] = json!(references);
    }
    document.to_string()
}

#[test]
fn templates_apply_to_every_destination_or_to_the_ones_they_name() {
    assert!(applies(&content(None), "refs/heads/main"));
    let only_main = content(Some(&["refs/heads/main"]));
    assert!(applies(&only_main, "refs/heads/main"));
    assert!(!applies(&only_main, "refs/heads/develop"));
    let both = content(Some(&["refs/heads/main", "refs/heads/release"]));
    assert!(applies(&both, "refs/heads/release"));
    assert!(!applies("not json", "refs/heads/main"));
}

#[test]
fn content_is_a_rule_document_with_full_branch_references() {
    assert_eq!(check_content(&content(None)), Ok(()));
    assert_eq!(check_content(&content(Some(&["refs/heads/main"]))), Ok(()));
    assert!(check_content(&content(Some(&["main"]))).is_err());
    assert!(check_content(&content(Some(&["refs/heads/"]))).is_err());
    assert!(check_content(&content(Some(&[]))).is_err());
    assert!(check_content(r#"{"Version":"2018-11-08","Statements":[]}"#).is_err());
    assert!(check_content("not json").is_err());
    let long = content(None)
        .replace("Approvers\"", &format!("Approvers\",\"x\":\"{}\"", "y".repeat(3000)));
    assert!(check_content(&long).is_err());
}

#[test]
fn template_names_are_one_to_a_hundred_characters() {
    assert!(check_template_name("require-one").is_ok());
    assert!(check_template_name(&"n".repeat(100)).is_ok());
    assert!(check_template_name(&"n".repeat(101)).is_err());
    assert!(check_template_name(" ").is_err());
}

#[test]
fn association_keys_end_with_the_repository() {
    assert_eq!(association_key("team/rules", "demo"), "team/rules/demo");
    assert_eq!(
        association_key("team/rules", "demo").rsplit_once('/'),
        Some(("team/rules", "demo"))
    );
}
