//! Tests of roles: created with a trust policy checked as one, read, listed, tagged, their
//! trust policy replaced, and deleted only once their policies are gone.

use engine::store::Store;

use super::*;
use crate::crypto::SecretBox;
use crate::policies::{self, AttachRolePolicyRequest, PutRolePolicyRequest, RolePolicyRequest};
use crate::state_snapshot::{changes, snapshot};

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"codebuild.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

async fn identity() -> (Identity, Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let secrets = SecretBox::load_or_create(&dir.path().join("master.key"), true).unwrap();
    (Identity::new(store.clone(), secrets, "123456789012"), store, dir)
}

fn create(name: &str, trust: &str) -> CreateRoleRequest {
    CreateRoleRequest {
        path: Some("/service-role/".into()),
        role_name: name.into(),
        assume_role_policy_document: trust.into(),
        description: None,
        max_session_duration: None,
        permissions_boundary: None,
        tags: Vec::new(),
    }
}

fn name(role: &str) -> RoleNameRequest {
    RoleNameRequest { role_name: role.into() }
}

#[tokio::test]
async fn a_role_is_created_read_and_listed() {
    let (identity, store, _dir) = identity().await;
    let before = snapshot(&store).await;
    let role = create_role(&identity, create("build", TRUST), 1_000).await.unwrap().role;
    let after = snapshot(&store).await;
    assert_eq!(changes(&before, &after), ["document role build added"]);
    assert!(role.role_id.starts_with("AROA") && role.role_id.len() == 21, "{}", role.role_id);
    assert_eq!(role.arn, "arn:aws:iam::123456789012:role/service-role/build");
    assert_eq!(role.assume_role_policy_document, api::url_encode(TRUST));
    assert_eq!(role.max_session_duration, 3_600);
    assert_eq!(after["document role build"]["body"]["assumeRolePolicyDocument"], TRUST);
    assert_eq!(get_role(&identity, name("build")).await.unwrap().role, role);
    let listed = list_roles(&identity, ListRolesRequest::default()).await.unwrap().roles;
    assert_eq!(listed, [role]);
}

#[tokio::test]
async fn create_role_refuses_what_iam_refuses() {
    let (identity, store, _dir) = identity().await;
    create_role(&identity, create("build", TRUST), 0).await.unwrap();
    let before = snapshot(&store).await;
    let twice = create_role(&identity, create("build", TRUST), 0).await.unwrap_err();
    assert_eq!(
        (twice.code.as_str(), twice.message.as_str()),
        ("EntityAlreadyExists", "Role with name build already exists.")
    );
    let identity_policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
    let err = create_role(&identity, create("other", identity_policy), 0).await.unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.message.as_str()),
        ("MalformedPolicyDocument", "Missing required field Principal")
    );
    let long = CreateRoleRequest { max_session_duration: Some(60), ..create("other", TRUST) };
    assert_eq!(create_role(&identity, long, 0).await.unwrap_err().code, "ValidationError");
    assert_eq!(get_role(&identity, name("nope")).await.unwrap_err().code, "NoSuchEntity");
    assert_eq!(snapshot(&store).await, before);
}

#[tokio::test]
async fn the_trust_policy_and_tags_change_in_place() {
    let (identity, store, _dir) = identity().await;
    create_role(&identity, create("build", TRUST), 0).await.unwrap();
    let trust = TRUST.replace("codebuild", "codepipeline");
    let before = snapshot(&store).await;
    let update =
        UpdateAssumeRolePolicyRequest { role_name: "build".into(), policy_document: trust.clone() };
    update_assume_role_policy(&identity, update).await.unwrap();
    let after = snapshot(&store).await;
    assert_eq!(changes(&before, &after), ["document role build changed"]);
    assert_eq!(after["document role build"]["body"]["assumeRolePolicyDocument"], trust);
    let broken =
        UpdateAssumeRolePolicyRequest { role_name: "build".into(), policy_document: "{".into() };
    assert_eq!(
        update_assume_role_policy(&identity, broken).await.unwrap_err().code,
        "MalformedPolicyDocument"
    );

    let tag = Tag { key: "team".into(), value: "ci".into() };
    tag_role(&identity, TagRoleRequest { role_name: "build".into(), tags: vec![tag.clone()] })
        .await
        .unwrap();
    let list = || ListRoleTagsRequest { role_name: "build".into(), marker: None, max_items: None };
    assert_eq!(list_role_tags(&identity, list()).await.unwrap().tags, [tag]);
    untag_role(
        &identity,
        UntagRoleRequest { role_name: "build".into(), tag_keys: vec!["team".into()] },
    )
    .await
    .unwrap();
    assert!(list_role_tags(&identity, list()).await.unwrap().tags.is_empty());
}

#[tokio::test]
async fn a_role_is_deleted_once_its_policies_are_gone() {
    let (identity, store, _dir) = identity().await;
    create_role(&identity, create("build", TRUST), 0).await.unwrap();
    let admin = "arn:aws:iam::aws:policy/AdministratorAccess";
    let attach = || AttachRolePolicyRequest { role_name: "build".into(), policy_arn: admin.into() };
    policies::attach_role_policy(&identity, attach()).await.unwrap();
    let refused = delete_role(&identity, name("build")).await.unwrap_err();
    assert_eq!(
        (refused.code.as_str(), refused.message.as_str()),
        ("DeleteConflict", "Cannot delete entity, must detach all policies first.")
    );
    policies::detach_role_policy(&identity, attach()).await.unwrap();
    let inline = PutRolePolicyRequest {
        role_name: "build".into(),
        policy_name: "logs".into(),
        policy_document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"logs:*","Resource":"*"}]}"#.into(),
    };
    policies::put_role_policy(&identity, inline).await.unwrap();
    assert_eq!(delete_role(&identity, name("build")).await.unwrap_err().code, "DeleteConflict");
    let inline = RolePolicyRequest { role_name: "build".into(), policy_name: "logs".into() };
    policies::delete_role_policy(&identity, inline).await.unwrap();
    let before = snapshot(&store).await;
    delete_role(&identity, name("build")).await.unwrap();
    assert_eq!(changes(&before, &snapshot(&store).await), ["document role build removed"]);
    assert_eq!(delete_role(&identity, name("build")).await.unwrap_err().code, "NoSuchEntity");
}

#[tokio::test]
async fn a_trust_policy_is_within_iams_quota_white_space_not_counted() {
    let (identity, store, _dir) = identity().await;
    // A trust policy of `size` characters besides white space (`padding` spaces more).
    let trust = |size: usize, padding: usize| {
        let head = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/"#;
        let tail = r#""},"Action":"sts:AssumeRole"}]}"#;
        let name = "a".repeat(size - head.len() - tail.len());
        format!("{head}{name}{tail}{}", " ".repeat(padding))
    };
    create_role(&identity, create("widest", &trust(2_048, 500)), 0).await.unwrap();
    let before = snapshot(&store).await;
    let err = create_role(&identity, create("wider", &trust(2_049, 0)), 0).await.unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.message.as_str()),
        ("LimitExceeded", "Cannot exceed quota for ACLSizePerRole: 2048")
    );
    let update = |document: String| UpdateAssumeRolePolicyRequest {
        role_name: "widest".into(),
        policy_document: document,
    };
    let err = update_assume_role_policy(&identity, update(trust(2_049, 0))).await.unwrap_err();
    assert_eq!(err.code, "LimitExceeded");
    assert_eq!(snapshot(&store).await, before);
    update_assume_role_policy(&identity, update(trust(2_000, 0))).await.unwrap();
}
