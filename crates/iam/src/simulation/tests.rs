//! Tests of the policy simulator: decisions, the statements that made them, and the context
//! keys they lacked.

use engine::store::Store;

use super::*;
use crate::crypto::SecretBox;
use crate::policies::{self, AttachUserPolicyRequest, PutUserPolicyRequest};

async fn identity() -> (Identity, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let secrets = SecretBox::load_or_create(&dir.path().join("master.key"), true).unwrap();
    let identity = Identity::new(store, secrets, "123456789012");
    identity.create_user("bob", 0).await.unwrap();
    (identity, dir)
}

fn principal(actions: &[&str]) -> SimulatePrincipalPolicyRequest {
    SimulatePrincipalPolicyRequest {
        policy_source_arn: "arn:aws:iam::123456789012:user/bob".into(),
        policy_input_list: Vec::new(),
        action_names: actions.iter().map(|it| (*it).to_owned()).collect(),
        resource_arns: Vec::new(),
        context_entries: Vec::new(),
        marker: None,
        max_items: None,
    }
}

#[tokio::test]
async fn the_simulator_says_why() {
    let (identity, _dir) = identity().await;
    let read_only = "arn:aws:iam::aws:policy/AWSCodeBuildReadOnlyAccess";
    let attach = AttachUserPolicyRequest { user_name: "bob".into(), policy_arn: read_only.into() };
    policies::attach_user_policy(&identity, attach).await.unwrap();
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"codebuild:BatchGetProjects","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"ci"}}}]}"#;
    let put = PutUserPolicyRequest {
        user_name: "bob".into(),
        policy_name: "no-read".into(),
        policy_document: deny.into(),
    };
    policies::put_user_policy(&identity, put).await.unwrap();
    let actions =
        ["codebuild:ListProjects", "codebuild:CreateProject", "codebuild:BatchGetProjects"];
    let results =
        simulate_principal_policy(&identity, principal(&actions)).await.unwrap().evaluation_results;
    let decisions: Vec<(&str, &str)> = results
        .iter()
        .map(|it| (it.eval_action_name.as_str(), it.eval_decision.as_str()))
        .collect();
    assert_eq!(
        decisions,
        [
            ("codebuild:ListProjects", "allowed"),
            ("codebuild:CreateProject", "implicitDeny"),
            ("codebuild:BatchGetProjects", "allowed")
        ]
    );
    assert_eq!(results[0].eval_resource_name, "*");
    assert_eq!(
        results[0].matched_statements,
        [MatchedStatement {
            source_policy_id: "AWSCodeBuildReadOnlyAccess".into(),
            source_policy_type: "aws-managed".into()
        }]
    );
    assert!(results[1].matched_statements.is_empty());
    // The deny wanted a key the request did not have.
    assert_eq!(results[2].missing_context_values, ["aws:PrincipalTag/team"]);

    let mut with_tag = principal(&["codebuild:BatchGetProjects"]);
    with_tag.context_entries = vec![ContextEntry {
        context_key_name: Some("aws:PrincipalTag/team".into()),
        context_key_values: vec!["ci".into()],
        context_key_type: Some("string".into()),
    }];
    let denied = simulate_principal_policy(&identity, with_tag).await.unwrap().evaluation_results;
    assert_eq!(denied[0].eval_decision, "explicitDeny");
    assert_eq!(denied[0].matched_statements[0].source_policy_id, "no-read");
    assert_eq!(denied[0].matched_statements[0].source_policy_type, "user");
}

#[tokio::test]
async fn the_simulator_refuses_unknown_entities_and_broken_documents() {
    let (identity, _dir) = identity().await;
    let mut unknown = principal(&["s3:GetObject"]);
    unknown.policy_source_arn = "arn:aws:iam::123456789012:user/carol".into();
    assert_eq!(
        simulate_principal_policy(&identity, unknown).await.unwrap_err().code,
        "NoSuchEntity"
    );
    let mut odd = principal(&["s3:GetObject"]);
    odd.policy_source_arn = "arn:aws:s3:::bucket".into();
    assert_eq!(simulate_principal_policy(&identity, odd).await.unwrap_err().code, "InvalidInput");
    let custom = |document: &str| SimulateCustomPolicyRequest {
        policy_input_list: vec![document.into()],
        action_names: vec!["s3:GetObject".into()],
        resource_arns: vec!["arn:aws:s3:::b/k".into(), "arn:aws:s3:::c/k".into()],
        context_entries: Vec::new(),
        caller_arn: None,
        marker: None,
        max_items: None,
    };
    assert_eq!(
        simulate_custom_policy(&identity, custom("{")).await.unwrap_err().code,
        "MalformedPolicyDocument"
    );
    let allow_b = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;
    let results =
        simulate_custom_policy(&identity, custom(allow_b)).await.unwrap().evaluation_results;
    let decisions: Vec<&str> = results.iter().map(|it| it.eval_decision.as_str()).collect();
    assert_eq!(decisions, ["allowed", "implicitDeny"]);
    assert_eq!(results[0].matched_statements[0].source_policy_id, "PolicyInputList.1");
}
