//! Tests of service roles: the decision as data (allowed, refused, explicitly denied, the role
//! missing, not trusting the service), and a role read from the store by name and by ARN.

use engine::store::Store;

use super::*;
use crate::crypto::SecretBox;
use crate::policies::{self, PutRolePolicyRequest};
use crate::roles::{self, CreateRoleRequest};

const ACCOUNT: &str = "123456789012";
const TRUST_CODEBUILD: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"codebuild.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const TRUST_PIPELINE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"codepipeline.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const READ_DEV: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ssm:GetParameters","Resource":"arn:aws:ssm:us-east-1:123456789012:parameter/dev/*"},{"Effect":"Deny","Action":"ssm:GetParameters","Resource":"arn:aws:ssm:us-east-1:123456789012:parameter/dev/locked"}]}"#;
const DEV_DB: &str = "arn:aws:ssm:us-east-1:123456789012:parameter/dev/db";
const PROD_DB: &str = "arn:aws:ssm:us-east-1:123456789012:parameter/prod/db";

fn record(name: &str, path: &str, trust: &str) -> RoleRecord {
    RoleRecord {
        role_name: name.to_owned(),
        role_id: "AROAEXAMPLEEXAMPLE001".to_owned(),
        path: path.to_owned(),
        arn: format!("arn:aws:iam::{ACCOUNT}:role{path}{name}"),
        create_date: 0,
        assume_role_policy_document: trust.to_owned(),
        description: None,
        max_session_duration: 3_600,
        tags: Vec::new(),
    }
}

fn policies(role: &RoleRecord, document: &str) -> Arc<EffectivePolicies> {
    let principal = policy::Principal {
        arn: role.arn.clone(),
        account: ACCOUNT.to_owned(),
        user_name: None,
        user_id: role.role_id.clone(),
    };
    let policy = Arc::new(Policy::parse_identity(document).unwrap());
    let named = crate::effective::NamedPolicy {
        id: "read-dev".to_owned(),
        source: crate::effective::SourceType::Inline(crate::policies::EntityKind::Role),
        policy,
    };
    Arc::new(EffectivePolicies { principal, policies: vec![named] })
}

#[test]
fn a_name_or_an_arn_names_the_role() {
    assert_eq!(role_name("ci"), "ci");
    assert_eq!(role_name("arn:aws:iam::123456789012:role/ci"), "ci");
    assert_eq!(role_name("arn:aws:iam::123456789012:role/service-role/ci"), "ci");
    assert_eq!(role_arn("ci", ACCOUNT), "arn:aws:iam::123456789012:role/ci");
    let with_path = "arn:aws:iam::123456789012:role/service-role/ci";
    assert_eq!(role_arn(with_path, ACCOUNT), with_path);
}

#[test]
fn the_decision_as_data() {
    let role = record("ci", "/", TRUST_CODEBUILD);
    let context = Context::new();
    let usable =
        ServiceRole::decide("ci", ACCOUNT, Some(&role), Some(policies(&role, READ_DEV)), CODEBUILD);
    assert_eq!(usable.arn(), "arn:aws:iam::123456789012:role/ci");
    assert_eq!(usable.check("ssm:GetParameters", DEV_DB, &context), Ok(()));
    assert_eq!(
        usable.check("ssm:GetParameters", PROD_DB, &context),
        Err(Refusal::Denied(Decision::ImplicitDeny))
    );
    let locked = "arn:aws:ssm:us-east-1:123456789012:parameter/dev/locked";
    assert_eq!(
        usable.check("ssm:GetParameters", locked, &context),
        Err(Refusal::Denied(Decision::ExplicitDeny))
    );

    // No role (or no policies: the role went away between the two reads).
    let missing = ServiceRole::decide("gone", ACCOUNT, None, None, CODEBUILD);
    assert_eq!(missing.arn(), "arn:aws:iam::123456789012:role/gone");
    assert_eq!(missing.check("ssm:GetParameters", DEV_DB, &context), Err(Refusal::Missing));
    let no_policies = ServiceRole::decide("ci", ACCOUNT, Some(&role), None, CODEBUILD);
    assert_eq!(no_policies.check("ssm:GetParameters", DEV_DB, &context), Err(Refusal::Missing));
    // An ARN with another path names another role.
    let other_path = "arn:aws:iam::123456789012:role/team/ci";
    let elsewhere = ServiceRole::decide(
        other_path,
        ACCOUNT,
        Some(&role),
        Some(policies(&role, READ_DEV)),
        CODEBUILD,
    );
    assert_eq!(elsewhere.arn(), other_path);
    assert_eq!(elsewhere.check("ssm:GetParameters", DEV_DB, &context), Err(Refusal::Missing));

    // A role that trusts another service only.
    let pipeline = record("ci", "/", TRUST_PIPELINE);
    let untrusted = ServiceRole::decide(
        "ci",
        ACCOUNT,
        Some(&pipeline),
        Some(policies(&pipeline, READ_DEV)),
        CODEBUILD,
    );
    assert!(matches!(&untrusted, ServiceRole::NotTrusted { service, .. } if service == CODEBUILD));
    assert_eq!(untrusted.check("ssm:GetParameters", DEV_DB, &context), Err(Refusal::NotTrusted));
    let trusted = ServiceRole::decide(
        "ci",
        ACCOUNT,
        Some(&pipeline),
        Some(policies(&pipeline, READ_DEV)),
        "codepipeline.amazonaws.com",
    );
    assert_eq!(trusted.check("ssm:GetParameters", DEV_DB, &context), Ok(()));
}

#[tokio::test]
async fn a_role_is_read_from_the_store_by_name_or_arn() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let secrets = SecretBox::load_or_create(&dir.path().join("master.key"), true).unwrap();
    let identity = Identity::new(store, secrets, ACCOUNT);
    let create = CreateRoleRequest {
        path: Some("/service-role/".into()),
        role_name: "ci".into(),
        assume_role_policy_document: TRUST_CODEBUILD.into(),
        description: None,
        max_session_duration: None,
        permissions_boundary: None,
        tags: Vec::new(),
    };
    roles::create_role(&identity, create, 0).await.unwrap();
    let put = PutRolePolicyRequest {
        role_name: "ci".into(),
        policy_name: "read-dev".into(),
        policy_document: READ_DEV.into(),
    };
    policies::put_role_policy(&identity, put).await.unwrap();
    let context = Context::new();
    let arn = "arn:aws:iam::123456789012:role/service-role/ci";
    for setting in ["ci", arn] {
        let role = identity.service_role(setting, CODEBUILD, 1).await.unwrap();
        assert_eq!(role.arn(), arn);
        assert_eq!(role.check("ssm:GetParameters", DEV_DB, &context), Ok(()));
        assert_eq!(
            role.check("ssm:GetParameters", PROD_DB, &context),
            Err(Refusal::Denied(Decision::ImplicitDeny))
        );
    }
    let missing = identity.service_role("other", CODEBUILD, 1).await.unwrap();
    assert_eq!(missing.check("ssm:GetParameters", DEV_DB, &context), Err(Refusal::Missing));
    let untrusted = identity.service_role("ci", "codedeploy.amazonaws.com", 1).await.unwrap();
    assert_eq!(untrusted.check("ssm:GetParameters", DEV_DB, &context), Err(Refusal::NotTrusted));
}
