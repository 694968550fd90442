//! Tests of managed and inline policies and their attachments: each transition's state
//! before and after, and every error code.

use engine::store::{Document, Store, Write};

use super::*;
use crate::crypto::SecretBox;
use crate::groups::{self, CreateGroupRequest, DeleteGroupRequest};
use crate::state_snapshot::{changes, snapshot};
use crate::users::{self, DeleteUserRequest};

const ACCOUNT: &str = "123456789012";
const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
const READ_REPOS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"codecommit:Get*","Resource":"*"}]}"#;
const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

/// An identity over a private in-memory store, with the user `alice` and the group `devs`.
async fn identity() -> (Identity, Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let secrets = SecretBox::load_or_create(&dir.path().join("master.key"), true).unwrap();
    let identity = Identity::new(store.clone(), secrets, ACCOUNT);
    identity.create_user("alice", 0).await.unwrap();
    let group = CreateGroupRequest { path: None, group_name: "devs".into() };
    groups::create_group(&identity, group, 0).await.unwrap();
    (identity, store, dir)
}

fn create(name: &str, document: &str) -> CreatePolicyRequest {
    CreatePolicyRequest {
        policy_name: name.into(),
        path: None,
        policy_document: document.into(),
        description: None,
        tags: Vec::new(),
    }
}

fn arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:policy/{name}")
}

fn attach_user(arn: &str) -> AttachUserPolicyRequest {
    AttachUserPolicyRequest { user_name: "alice".into(), policy_arn: arn.into() }
}

#[tokio::test]
async fn a_created_policy_is_one_document_with_its_first_version() {
    let (identity, store, _dir) = identity().await;
    let before = snapshot(&store).await;
    let created = create_policy(&identity, create("read", READ_REPOS), 1_000).await.unwrap();
    let after = snapshot(&store).await;
    assert_eq!(changes(&before, &after), ["document policy read added"]);
    let policy = created.policy;
    assert_eq!(policy.arn, arn("read"));
    assert!(policy.policy_id.starts_with("ANPA") && policy.policy_id.len() == 21);
    assert_eq!((policy.default_version_id.as_str(), policy.attachment_count), ("v1", 0));
    let body = &after["document policy read"]["body"];
    assert_eq!(body["versions"][0]["document"], READ_REPOS);
    assert_eq!(body["attachmentCount"], 0);

    let got = get_policy(&identity, PolicyArnRequest { policy_arn: arn("read") }).await.unwrap();
    assert_eq!(got.policy, policy);
}

#[tokio::test]
async fn create_policy_refuses_what_iam_refuses() {
    let (identity, store, _dir) = identity().await;
    create_policy(&identity, create("read", READ_REPOS), 0).await.unwrap();
    let before = snapshot(&store).await;
    let broken = create_policy(&identity, create("bad", "{not json"), 0).await.unwrap_err();
    assert_eq!(
        (broken.code.as_str(), broken.message.as_str()),
        ("MalformedPolicyDocument", "Syntax errors in policy.")
    );
    let no_resource =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*"}]}"#;
    let err = create_policy(&identity, create("bad", no_resource), 0).await.unwrap_err();
    assert_eq!(err.message, "Policy statement must contain resources.");
    let twice = create_policy(&identity, create("read", READ_REPOS), 0).await.unwrap_err();
    assert_eq!(twice.code, "EntityAlreadyExists");
    assert_eq!(
        twice.message,
        "A policy called read already exists. Duplicate names are not allowed."
    );
    let bad_name = create_policy(&identity, create("a b", READ_REPOS), 0).await.unwrap_err();
    assert_eq!(bad_name.code, "ValidationError");
    let huge = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::{}"}}]}}"#,
        "a".repeat(7_000)
    );
    assert_eq!(
        create_policy(&identity, create("huge", &huge), 0).await.unwrap_err().code,
        "LimitExceeded"
    );
    assert_eq!(snapshot(&store).await, before);
}

#[tokio::test]
async fn versions_are_created_made_default_and_deleted_within_the_limit() {
    let (identity, store, _dir) = identity().await;
    create_policy(&identity, create("read", READ_REPOS), 0).await.unwrap();
    let new_version = |default: bool| CreatePolicyVersionRequest {
        policy_arn: arn("read"),
        policy_document: ALLOW_ALL.into(),
        set_as_default: default,
    };
    let before = snapshot(&store).await;
    let v2 = create_policy_version(&identity, new_version(true), 5).await.unwrap();
    assert_eq!(
        (v2.policy_version.version_id.as_str(), v2.policy_version.is_default_version),
        ("v2", true)
    );
    let after = snapshot(&store).await;
    assert_eq!(changes(&before, &after), ["document policy read changed"]);
    assert_eq!(after["document policy read"]["body"]["defaultVersionId"], "v2");
    for _ in 3..=5 {
        create_policy_version(&identity, new_version(false), 6).await.unwrap();
    }
    let full = create_policy_version(&identity, new_version(false), 7).await.unwrap_err();
    assert_eq!(full.code, "LimitExceeded");

    let version =
        |id: &str| PolicyVersionRequest { policy_arn: arn("read"), version_id: id.into() };
    let got = get_policy_version(&identity, version("v1")).await.unwrap().policy_version;
    assert_eq!(got.document.as_deref(), Some(api::url_encode(READ_REPOS).as_str()));
    assert!(got.document.unwrap().starts_with("%7B%22Version%22%3A%222012-10-17%22"));
    let list = ListPolicyVersionsRequest { policy_arn: arn("read"), marker: None, max_items: None };
    let listed = list_policy_versions(&identity, list).await.unwrap().versions;
    let ids: Vec<&str> = listed.iter().map(|it| it.version_id.as_str()).collect();
    assert_eq!(ids, ["v5", "v4", "v3", "v2", "v1"]);
    assert!(listed.iter().all(|it| it.document.is_none()));

    let default = delete_policy_version(&identity, version("v2")).await.unwrap_err();
    assert_eq!(
        (default.code.as_str(), default.message.as_str()),
        ("DeleteConflict", "Cannot delete the default version of a policy.")
    );
    let missing = delete_policy_version(&identity, version("v9")).await.unwrap_err();
    assert_eq!(missing.code, "NoSuchEntity");
    set_default_policy_version(&identity, version("v1"), 8).await.unwrap();
    assert_eq!(
        set_default_policy_version(&identity, version("v9"), 8).await.unwrap_err().code,
        "NoSuchEntity"
    );
    // With versions besides the default, the policy stays.
    let delete = || PolicyArnRequest { policy_arn: arn("read") };
    assert_eq!(delete_policy(&identity, delete()).await.unwrap_err().code, "DeleteConflict");
    for id in ["v2", "v3", "v4", "v5"] {
        delete_policy_version(&identity, version(id)).await.unwrap();
    }
    let before = snapshot(&store).await;
    delete_policy(&identity, delete()).await.unwrap();
    assert_eq!(changes(&before, &snapshot(&store).await), ["document policy read removed"]);
    assert_eq!(delete_policy(&identity, delete()).await.unwrap_err().code, "NoSuchEntity");
}

#[tokio::test]
async fn attaching_writes_the_user_and_the_policys_count_in_one_transaction() {
    let (identity, store, _dir) = identity().await;
    create_policy(&identity, create("read", READ_REPOS), 0).await.unwrap();
    let before = snapshot(&store).await;
    attach_user_policy(&identity, attach_user(&arn("read"))).await.unwrap();
    let after = snapshot(&store).await;
    assert_eq!(
        changes(&before, &after),
        ["document policy read changed", "document user alice changed"]
    );
    assert_eq!(after["document user alice"]["body"]["attachedPolicies"][0], arn("read"));
    assert_eq!(after["document policy read"]["body"]["attachmentCount"], 1);
    // Twice is once.
    attach_user_policy(&identity, attach_user(&arn("read"))).await.unwrap();
    assert_eq!(snapshot(&store).await, after);
    // An AWS-managed policy has no document: the user alone changes.
    attach_user_policy(&identity, attach_user(ADMIN)).await.unwrap();
    let with_admin = snapshot(&store).await;
    assert_eq!(changes(&after, &with_admin), ["document user alice changed"]);

    let listed = list_attached_user_policies(
        &identity,
        ListAttachedUserPoliciesRequest {
            user_name: "alice".into(),
            path_prefix: None,
            marker: None,
            max_items: None,
        },
    )
    .await
    .unwrap();
    let names: Vec<&str> =
        listed.attached_policies.iter().map(|it| it.policy_name.as_str()).collect();
    assert_eq!(names, ["read", "AdministratorAccess"]);
    let admin = get_policy(&identity, PolicyArnRequest { policy_arn: ADMIN.into() }).await.unwrap();
    assert_eq!(admin.policy.attachment_count, 1);

    let delete = delete_policy(&identity, PolicyArnRequest { policy_arn: arn("read") }).await;
    assert_eq!(delete.unwrap_err().message, "Cannot delete a policy attached to entities.");
    let entities = list_entities_for_policy(
        &identity,
        ListEntitiesForPolicyRequest {
            policy_arn: arn("read"),
            entity_filter: None,
            path_prefix: None,
            marker: None,
            max_items: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(entities.policy_users.len(), 1);
    assert_eq!(entities.policy_users[0].user_name, "alice");
    // Paged as one list of entities.
    identity.create_user("zed", 0).await.unwrap();
    let zed = AttachUserPolicyRequest { user_name: "zed".into(), policy_arn: arn("read") };
    attach_user_policy(&identity, zed).await.unwrap();
    let paged = |marker: Option<String>| ListEntitiesForPolicyRequest {
        policy_arn: arn("read"),
        entity_filter: None,
        path_prefix: None,
        marker,
        max_items: Some(1),
    };
    let first = list_entities_for_policy(&identity, paged(None)).await.unwrap();
    assert_eq!(first.policy_users.len(), 1);
    assert!(first.is_truncated && first.marker.is_some());
    let second = list_entities_for_policy(&identity, paged(first.marker.clone())).await.unwrap();
    assert_eq!(second.policy_users.len(), 1);
    assert_ne!(second.policy_users[0].user_name, first.policy_users[0].user_name);
    assert!(!second.is_truncated && second.marker.is_none());
    let detach = AttachUserPolicyRequest { user_name: "zed".into(), policy_arn: arn("read") };
    detach_user_policy(&identity, detach).await.unwrap();
    users::delete_user(&identity, DeleteUserRequest { user_name: "zed".into() }).await.unwrap();

    detach_user_policy(&identity, attach_user(&arn("read"))).await.unwrap();
    let detached = snapshot(&store).await;
    assert_eq!(
        changes(&with_admin, &detached),
        ["document policy read changed", "document user alice changed"]
    );
    assert_eq!(detached["document policy read"]["body"]["attachmentCount"], 0);
    let again = detach_user_policy(&identity, attach_user(&arn("read"))).await.unwrap_err();
    assert_eq!(again.code, "NoSuchEntity");
}

#[tokio::test]
async fn attachments_refuse_unknown_policies_and_entities() {
    let (identity, store, _dir) = identity().await;
    let before = snapshot(&store).await;
    let unknown = attach_user_policy(&identity, attach_user(&arn("nope"))).await.unwrap_err();
    assert_eq!(unknown.code, "NoSuchEntity");
    assert_eq!(
        unknown.message,
        format!("Policy {} does not exist or is not attachable.", arn("nope"))
    );
    let aws = attach_user_policy(&identity, attach_user("arn:aws:iam::aws:policy/Nope")).await;
    assert_eq!(aws.unwrap_err().code, "NoSuchEntity");
    let nobody = AttachUserPolicyRequest { user_name: "bob".into(), policy_arn: ADMIN.into() };
    let err = attach_user_policy(&identity, nobody).await.unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.message.as_str()),
        ("NoSuchEntity", "The user with name bob cannot be found.")
    );
    let group = AttachGroupPolicyRequest { group_name: "ops".into(), policy_arn: ADMIN.into() };
    assert_eq!(attach_group_policy(&identity, group).await.unwrap_err().code, "NoSuchEntity");
    assert_eq!(snapshot(&store).await, before);
    // Ten at most.
    for index in 0..10 {
        let name = format!("p{index}");
        create_policy(&identity, create(&name, READ_REPOS), 0).await.unwrap();
        attach_user_policy(&identity, attach_user(&arn(&name))).await.unwrap();
    }
    let full = attach_user_policy(&identity, attach_user(ADMIN)).await.unwrap_err();
    assert_eq!(
        (full.code.as_str(), full.message.as_str()),
        ("LimitExceeded", "Cannot exceed quota for PoliciesPerUser: 10")
    );
}

#[tokio::test]
async fn inline_policies_are_put_read_listed_and_deleted_in_their_entity() {
    let (identity, store, _dir) = identity().await;
    let put = |name: &str, document: &str| PutGroupPolicyRequest {
        group_name: "devs".into(),
        policy_name: name.into(),
        policy_document: document.into(),
    };
    let before = snapshot(&store).await;
    put_group_policy(&identity, put("read", READ_REPOS)).await.unwrap();
    let after = snapshot(&store).await;
    assert_eq!(changes(&before, &after), ["document group devs changed"]);
    assert_eq!(after["document group devs"]["body"]["inlinePolicies"]["read"], READ_REPOS);
    let bad = put_group_policy(&identity, put("bad", "[]")).await.unwrap_err();
    assert_eq!(bad.code, "MalformedPolicyDocument");
    assert_eq!(snapshot(&store).await, after);

    let name =
        |policy: &str| GroupPolicyRequest { group_name: "devs".into(), policy_name: policy.into() };
    let got = get_group_policy(&identity, name("read")).await.unwrap();
    assert_eq!(got.policy_document, api::url_encode(READ_REPOS));
    let missing = get_group_policy(&identity, name("write")).await.unwrap_err();
    assert_eq!(missing.message, "The group policy with name write cannot be found.");
    put_group_policy(&identity, put("all", ALLOW_ALL)).await.unwrap();
    let list =
        ListGroupPoliciesRequest { group_name: "devs".into(), marker: None, max_items: None };
    assert_eq!(list_group_policies(&identity, list).await.unwrap().policy_names, ["all", "read"]);

    // A group with policies is not deleted.
    let delete = || DeleteGroupRequest { group_name: "devs".into() };
    let refused = groups::delete_group(&identity, delete()).await.unwrap_err();
    assert_eq!(
        (refused.code.as_str(), refused.message.as_str()),
        ("DeleteConflict", "Cannot delete entity, must delete policies first.")
    );
    delete_group_policy(&identity, name("read")).await.unwrap();
    delete_group_policy(&identity, name("all")).await.unwrap();
    assert_eq!(delete_group_policy(&identity, name("all")).await.unwrap_err().code, "NoSuchEntity");
    groups::delete_group(&identity, delete()).await.unwrap();
}

#[tokio::test]
async fn a_user_with_policies_is_not_deleted() {
    let (identity, _store, _dir) = identity().await;
    attach_user_policy(&identity, attach_user(ADMIN)).await.unwrap();
    let delete = || DeleteUserRequest { user_name: "alice".into() };
    let refused = users::delete_user(&identity, delete()).await.unwrap_err();
    assert_eq!(refused.message, "Cannot delete entity, must detach all policies first.");
    detach_user_policy(&identity, attach_user(ADMIN)).await.unwrap();
    let put = PutUserPolicyRequest {
        user_name: "alice".into(),
        policy_name: "p".into(),
        policy_document: ALLOW_ALL.into(),
    };
    put_user_policy(&identity, put).await.unwrap();
    assert_eq!(users::delete_user(&identity, delete()).await.unwrap_err().code, "DeleteConflict");
    let name = UserPolicyRequest { user_name: "alice".into(), policy_name: "p".into() };
    delete_user_policy(&identity, name).await.unwrap();
    users::delete_user(&identity, delete()).await.unwrap();
}

#[tokio::test]
async fn list_policies_shows_aws_then_local_by_scope_and_attachment() {
    let (identity, _store, _dir) = identity().await;
    create_policy(&identity, create("read", READ_REPOS), 0).await.unwrap();
    let list = |scope: &str, only_attached: bool| ListPoliciesRequest {
        scope: Some(scope.into()),
        only_attached,
        ..ListPoliciesRequest::default()
    };
    let local = list_policies(&identity, list("Local", false)).await.unwrap().policies;
    assert_eq!(local.len(), 1);
    let aws = list_policies(&identity, list("AWS", false)).await.unwrap().policies;
    assert!(aws.iter().any(|it| it.arn == ADMIN));
    assert!(aws.iter().all(|it| it.arn.starts_with(AWS_POLICY_PREFIX)));
    assert!(list_policies(&identity, list("AWS", true)).await.unwrap().policies.is_empty());
    attach_user_policy(&identity, attach_user(ADMIN)).await.unwrap();
    let attached = list_policies(&identity, list("All", true)).await.unwrap().policies;
    assert_eq!(attached.len(), 1);
    assert_eq!(
        (attached[0].policy_name.as_str(), attached[0].attachment_count),
        ("AdministratorAccess", 1)
    );
    let all = list_policies(&identity, list("All", false)).await.unwrap().policies;
    assert_eq!(all.len(), aws.len() + 1);
    assert_eq!(all.last().unwrap().policy_name, "read");
    assert_eq!(
        list_policies(&identity, list("Mine", false)).await.unwrap_err().code,
        "ValidationError"
    );
    // AWS's own policies are not changed here.
    let version = CreatePolicyVersionRequest {
        policy_arn: ADMIN.into(),
        policy_document: ALLOW_ALL.into(),
        set_as_default: true,
    };
    assert_eq!(
        create_policy_version(&identity, version, 0).await.unwrap_err().code,
        "InvalidInput"
    );
    let got = get_policy_version(
        &identity,
        PolicyVersionRequest {
            policy_arn: ADMIN.into(),
            version_id: aws[0].default_version_id.clone(),
        },
    )
    .await;
    assert!(got.is_ok() || aws[0].arn != ADMIN);
}

#[tokio::test]
async fn a_renamed_user_keeps_its_policies() {
    let (identity, store, _dir) = identity().await;
    attach_user_policy(&identity, attach_user(ADMIN)).await.unwrap();
    let rename = users::UpdateUserRequest {
        user_name: "alice".into(),
        new_path: None,
        new_user_name: Some("carol".into()),
    };
    users::update_user(&identity, rename).await.unwrap();
    let after = snapshot(&store).await;
    assert_eq!(after["document user carol"]["body"]["attachedPolicies"][0], ADMIN);
}

#[tokio::test]
async fn the_first_admin_has_administrator_access() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let secrets = SecretBox::load_or_create(&dir.path().join("master.key"), true).unwrap();
    let identity = Identity::new(store.clone(), secrets, ACCOUNT);
    identity.bootstrap(0).await.unwrap().unwrap();
    let admin = store.get(USER, "admin").await.unwrap().unwrap();
    assert_eq!(EntityPolicies::from_body(&admin.body).attached, [ADMINISTRATOR_ACCESS]);
}

#[tokio::test]
async fn existing_users_are_given_administrator_access_once_with_the_marker() {
    let (identity, store, _dir) = identity().await;
    identity.create_user("bob", 0).await.unwrap();
    attach_user_policy(&identity, attach_user(ADMIN)).await.unwrap();
    // No installation document: nothing to do.
    assert_eq!(
        identity.grant_existing_users_administrator_access("master-key", 5).await.unwrap(),
        None
    );
    let installation = Document {
        kind: engine::kinds::INSTALLATION.to_owned(),
        key: "master-key".into(),
        parent: None,
        sort: 0,
        version: 0,
        body: json!({"fingerprint": "f"}),
    };
    store.apply(vec![Write::Insert(installation)]).await.unwrap();
    let before = snapshot(&store).await;
    let granted =
        identity.grant_existing_users_administrator_access("master-key", 5).await.unwrap();
    // alice had it already.
    assert_eq!(granted, Some(vec!["bob".to_owned()]));
    assert_eq!(changes(&before, &snapshot(&store).await), ["document user bob changed"]);
    let marker = store.get(engine::kinds::INSTALLATION, "master-key").await.unwrap().unwrap();
    assert_eq!(
        (marker.body["fingerprint"].as_str(), marker.body[GRANTED_MARKER].as_i64()),
        (Some("f"), Some(5))
    );
    // Once: a user made afterwards has no permissions.
    identity.create_user("carol", 6).await.unwrap();
    assert_eq!(
        identity.grant_existing_users_administrator_access("master-key", 7).await.unwrap(),
        None
    );
    let carol = store.get(USER, "carol").await.unwrap().unwrap();
    assert!(EntityPolicies::from_body(&carol.body).attached.is_empty());
}

#[tokio::test]
async fn slipway_user_attach_policy_takes_a_name_or_an_arn() {
    let (identity, _store, _dir) = identity().await;
    create_policy(&identity, create("read", READ_REPOS), 0).await.unwrap();
    assert_eq!(
        identity.attach_policy_to_user("alice", "AWSCodeCommitReadOnly").await.unwrap(),
        "arn:aws:iam::aws:policy/AWSCodeCommitReadOnly"
    );
    assert_eq!(identity.attach_policy_to_user("alice", "read").await.unwrap(), arn("read"));
    assert_eq!(identity.attach_policy_to_user("alice", ADMIN).await.unwrap(), ADMIN);
    assert_eq!(
        identity.attach_policy_to_user("alice", "nope").await.unwrap_err().code,
        "NoSuchEntity"
    );
}

#[tokio::test]
async fn the_branch_protection_policy_is_read_but_never_changed_through_iam() {
    let (identity, store, _dir) = identity().await;
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"codecommit:GitPush","Resource":"*"}]}"#;
    let write = account_policy_write(ACCOUNT, None, Some(deny), 1).unwrap().unwrap();
    store.apply(vec![write]).await.unwrap();
    let protection = branch_protection_policy_arn(ACCOUNT);
    create_policy(&identity, create("read", READ_REPOS), 0).await.unwrap();
    let before = snapshot(&store).await;
    let message = format!(
        "Cannot perform the operation on the protected policy {protection}: Slipway writes it \
         from the branch protection rules. Change them with `slipway branch-protection`."
    );
    let refused = |result: Result<(), ApiError>| {
        let err = result.unwrap_err();
        assert_eq!((err.code.as_str(), err.message.as_str()), ("UnmodifiableEntity", &*message));
        assert_eq!(err.kind, awsapi::ErrorKind::Client);
    };
    let version = CreatePolicyVersionRequest {
        policy_arn: protection.clone(),
        policy_document: ALLOW_ALL.into(),
        set_as_default: true,
    };
    refused(create_policy_version(&identity, version, 2).await.map(drop));
    let v1 = || PolicyVersionRequest { policy_arn: protection.clone(), version_id: "v1".into() };
    refused(set_default_policy_version(&identity, v1(), 2).await);
    refused(delete_policy_version(&identity, v1()).await);
    refused(delete_policy(&identity, PolicyArnRequest { policy_arn: protection.clone() }).await);
    refused(attach_user_policy(&identity, attach_user(&protection)).await);
    refused(detach_user_policy(&identity, attach_user(&protection)).await);
    let group =
        || AttachGroupPolicyRequest { group_name: "devs".into(), policy_arn: protection.clone() };
    refused(attach_group_policy(&identity, group()).await);
    refused(detach_group_policy(&identity, group()).await);
    let role = AttachRolePolicyRequest { role_name: "ci".into(), policy_arn: protection.clone() };
    refused(detach_role_policy(&identity, role).await);
    refused(identity.attach_policy_to_user("alice", &protection).await.map(drop));
    // Nor is another policy of its name made, at its path or another.
    let mut same = create(BRANCH_PROTECTION_POLICY, ALLOW_ALL);
    same.path = Some(SLIPWAY_POLICY_PATH.into());
    refused(create_policy(&identity, same, 2).await.map(drop));
    refused(
        create_policy(&identity, create(BRANCH_PROTECTION_POLICY, ALLOW_ALL), 2).await.map(drop),
    );
    assert_eq!(snapshot(&store).await, before);

    // It is read as any policy is.
    let got = get_policy(&identity, PolicyArnRequest { policy_arn: protection.clone() });
    assert_eq!(got.await.unwrap().policy.path, SLIPWAY_POLICY_PATH);
    let document = get_policy_version(&identity, v1()).await.unwrap().policy_version.document;
    assert_eq!(document.as_deref(), Some(api::url_encode(deny).as_str()));
    let list =
        ListPolicyVersionsRequest { policy_arn: protection.clone(), marker: None, max_items: None };
    assert_eq!(list_policy_versions(&identity, list).await.unwrap().versions.len(), 1);
    let entities = ListEntitiesForPolicyRequest {
        policy_arn: protection.clone(),
        entity_filter: None,
        path_prefix: None,
        marker: None,
        max_items: None,
    };
    assert!(list_entities_for_policy(&identity, entities).await.unwrap().policy_users.is_empty());
    // Other policies change as before.
    let read = CreatePolicyVersionRequest {
        policy_arn: arn("read"),
        policy_document: ALLOW_ALL.into(),
        set_as_default: true,
    };
    create_policy_version(&identity, read, 3).await.unwrap();
    attach_user_policy(&identity, attach_user(&arn("read"))).await.unwrap();
}

/// An identity policy of `size` characters besides white space, `padding` spaces more.
fn sized_policy(size: usize, padding: usize) -> String {
    let head = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::"#;
    let tail = r#""}]}"#;
    let bucket = "b".repeat(size - head.len() - tail.len());
    format!("{head}{bucket}{tail}{}", " ".repeat(padding))
}

#[tokio::test]
async fn policy_sizes_are_within_iams_quotas_white_space_not_counted() {
    let (identity, store, _dir) = identity().await;
    crate::roles::create_role(
        &identity,
        crate::roles::CreateRoleRequest {
            path: None,
            role_name: "ci".into(),
            assume_role_policy_document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"codebuild.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#.into(),
            description: None,
            max_session_duration: None,
            permissions_boundary: None,
            tags: Vec::new(),
        },
        0,
    )
    .await
    .unwrap();
    assert_eq!(policy_size(&sized_policy(300, 40)), 300);

    // A managed policy: 6,144, each version so.
    create_policy(&identity, create("widest", &sized_policy(6_144, 1_000)), 0).await.unwrap();
    let before = snapshot(&store).await;
    let err = create_policy(&identity, create("wider", &sized_policy(6_145, 0)), 0).await;
    let err = err.unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.message.as_str()),
        ("LimitExceeded", "Cannot exceed quota for PolicySize: 6144")
    );
    let version = CreatePolicyVersionRequest {
        policy_arn: arn("widest"),
        policy_document: sized_policy(6_145, 0),
        set_as_default: false,
    };
    let err = create_policy_version(&identity, version, 1).await.unwrap_err();
    assert_eq!(err.message, "Cannot exceed quota for PolicySize: 6144");
    assert_eq!(snapshot(&store).await, before);

    // Inline policies: all of an entity's together, 2,048 for a user, 5,120 for a group,
    // 10,240 for a role.
    let user = |name: &str, document: String| PutUserPolicyRequest {
        user_name: "alice".into(),
        policy_name: name.into(),
        policy_document: document,
    };
    put_user_policy(&identity, user("one", sized_policy(800, 300))).await.unwrap();
    put_user_policy(&identity, user("two", sized_policy(1_048, 300))).await.unwrap();
    let before = snapshot(&store).await;
    let err = put_user_policy(&identity, user("three", sized_policy(201, 0))).await.unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.message.as_str()),
        ("LimitExceeded", "Maximum policy size of 2048 bytes exceeded for user alice")
    );
    // Replacing one counts the new document instead of the old.
    let err = put_user_policy(&identity, user("two", sized_policy(1_249, 0))).await.unwrap_err();
    assert_eq!(err.code, "LimitExceeded");
    assert_eq!(snapshot(&store).await, before);
    put_user_policy(&identity, user("two", sized_policy(1_248, 0))).await.unwrap();
    put_user_policy(&identity, user("two", sized_policy(500, 0))).await.unwrap();
    put_user_policy(&identity, user("three", sized_policy(748, 0))).await.unwrap();

    let group = |name: &str, size: usize| PutGroupPolicyRequest {
        group_name: "devs".into(),
        policy_name: name.into(),
        policy_document: sized_policy(size, 100),
    };
    put_group_policy(&identity, group("one", 4_900)).await.unwrap();
    let err = put_group_policy(&identity, group("two", 221)).await.unwrap_err();
    assert_eq!(err.message, "Maximum policy size of 5120 bytes exceeded for group devs");
    put_group_policy(&identity, group("two", 220)).await.unwrap();

    let role = |name: &str, size: usize| PutRolePolicyRequest {
        role_name: "ci".into(),
        policy_name: name.into(),
        policy_document: sized_policy(size, 100),
    };
    put_role_policy(&identity, role("one", 10_000)).await.unwrap();
    let err = put_role_policy(&identity, role("two", 241)).await.unwrap_err();
    assert_eq!(err.message, "Maximum policy size of 10240 bytes exceeded for role ci");
    put_role_policy(&identity, role("two", 240)).await.unwrap();
}

#[tokio::test]
async fn the_branch_protection_policy_may_outgrow_the_managed_policy_quota() {
    let (identity, store, _dir) = identity().await;
    let big = sized_policy(20_000, 0);
    let write = account_policy_write(ACCOUNT, None, Some(&big), 1).unwrap().unwrap();
    store.apply(vec![write]).await.unwrap();
    let arn = branch_protection_policy_arn(ACCOUNT);
    let version = PolicyVersionRequest { policy_arn: arn.clone(), version_id: "v1".into() };
    let document = get_policy_version(&identity, version).await.unwrap().policy_version.document;
    assert_eq!(document.as_deref(), Some(api::url_encode(&big).as_str()));
    // It applies as written.
    let policy = identity.branch_protection_policy().await.unwrap().unwrap();
    assert_eq!(policy.id, arn);
    assert_eq!(*policy.policy, PolicyDocument::parse_identity(&big).unwrap());
}

#[tokio::test]
async fn groups_and_roles_have_ten_managed_policies_at_most() {
    let (identity, store, _dir) = identity().await;
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"codebuild.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let role = crate::roles::CreateRoleRequest {
        path: None,
        role_name: "ci".into(),
        assume_role_policy_document: trust.into(),
        description: None,
        max_session_duration: None,
        permissions_boundary: None,
        tags: Vec::new(),
    };
    crate::roles::create_role(&identity, role, 0).await.unwrap();
    let group = |arn: &str| AttachGroupPolicyRequest {
        group_name: "devs".into(),
        policy_arn: arn.to_owned(),
    };
    let role =
        |arn: &str| AttachRolePolicyRequest { role_name: "ci".into(), policy_arn: arn.to_owned() };
    for index in 0..10 {
        let name = format!("p{index}");
        create_policy(&identity, create(&name, READ_REPOS), 0).await.unwrap();
        attach_group_policy(&identity, group(&arn(&name))).await.unwrap();
        attach_role_policy(&identity, role(&arn(&name))).await.unwrap();
    }
    let before = snapshot(&store).await;
    let full = attach_group_policy(&identity, group(ADMIN)).await.unwrap_err();
    assert_eq!(
        (full.code.as_str(), full.message.as_str()),
        ("LimitExceeded", "Cannot exceed quota for PoliciesPerGroup: 10")
    );
    let full = attach_role_policy(&identity, role(ADMIN)).await.unwrap_err();
    assert_eq!(full.message, "Cannot exceed quota for PoliciesPerRole: 10");
    assert_eq!(snapshot(&store).await, before);
}
