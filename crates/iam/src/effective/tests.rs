//! Tests of the effective policies (a user's, their groups', a role's) and their cache.

use engine::store::Store;

use super::*;
use crate::crypto::SecretBox;
use crate::groups::{self, CreateGroupRequest, GroupMembershipRequest};
use crate::policies::{
    self, AttachGroupPolicyRequest, AttachUserPolicyRequest, PutUserPolicyRequest,
};
use crate::policy::Decision;

const DENY_DELETE: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"NoDelete","Effect":"Deny","Action":"codecommit:Delete*","Resource":"*"}]}"#;
const POWER_USER: &str = "arn:aws:iam::aws:policy/AWSCodeCommitPowerUser";
const REPO: &str = "arn:aws:codecommit:us-east-1:123456789012:repo";

async fn two_replicas() -> (tempfile::TempDir, Identity, Identity) {
    let dir = tempfile::tempdir().unwrap();
    let secrets = SecretBox::load_or_create(&dir.path().join("key"), true).unwrap();
    let url = format!("sqlite:{}", dir.path().join("slipway.db").display());
    let one = Store::connect(&url).await.unwrap();
    let two = Store::connect(&url).await.unwrap();
    let account = "123456789012";
    (dir, Identity::new(one, secrets.clone(), account), Identity::new(two, secrets, account))
}

fn decision(policies: &EffectivePolicies, action: &str) -> Decision {
    policies.evaluate(action, REPO, &Context::new()).decision
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_has_their_own_and_their_groups_policies() {
    let (_dir, identity, _) = two_replicas().await;
    identity.create_user("bob", 0).await.unwrap();
    assert!(identity.user_policies("carol", 0).await.unwrap().is_none());
    let none = identity.user_policies("bob", 0).await.unwrap().unwrap();
    assert!(none.policies.is_empty());
    assert_eq!(none.principal.arn, "arn:aws:iam::123456789012:user/bob");
    assert_eq!(none.principal.user_name.as_deref(), Some("bob"));
    assert!(none.principal.user_id.starts_with("AIDA"));
    assert_eq!(decision(&none, "codecommit:GitPull"), Decision::ImplicitDeny);

    groups::create_group(
        &identity,
        CreateGroupRequest { path: None, group_name: "devs".into() },
        0,
    )
    .await
    .unwrap();
    let member = GroupMembershipRequest { group_name: "devs".into(), user_name: "bob".into() };
    groups::add_user_to_group(&identity, member).await.unwrap();
    let attach =
        AttachGroupPolicyRequest { group_name: "devs".into(), policy_arn: POWER_USER.into() };
    policies::attach_group_policy(&identity, attach).await.unwrap();
    // This process wrote: the very next reading sees it, within the same millisecond.
    let grouped = identity.user_policies("bob", 1).await.unwrap().unwrap();
    assert_eq!(grouped.policies.len(), 1);
    assert_eq!(grouped.policies[0].source, SourceType::AwsManaged);
    assert_eq!(decision(&grouped, "codecommit:GitPull"), Decision::Allowed);
    assert_eq!(decision(&grouped, "codebuild:StartBuild"), Decision::ImplicitDeny);

    let deny = PutUserPolicyRequest {
        user_name: "bob".into(),
        policy_name: "no-delete".into(),
        policy_document: DENY_DELETE.into(),
    };
    policies::put_user_policy(&identity, deny).await.unwrap();
    let denied = identity.user_policies("bob", 2).await.unwrap().unwrap();
    assert_eq!(denied.source_of("no-delete"), SourceType::Inline(EntityKind::User));
    assert_eq!(decision(&denied, "codecommit:DeleteBranch"), Decision::ExplicitDeny);
    let evaluation = denied.evaluate("codecommit:DeleteBranch", REPO, &Context::new());
    assert_eq!(evaluation.matched_statements[0].sid, Some("NoDelete"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_read_once_are_answered_from_the_cache_until_old() {
    let (_dir, here, there) = two_replicas().await;
    here.create_user("bob", 0).await.unwrap();
    let read_at = 5_000;
    let first = here.user_policies("bob", read_at).await.unwrap().unwrap();
    assert!(first.policies.is_empty());
    // Another replica's change: the entry stands until it is POLICY_CACHE_MS old.
    let attach = AttachUserPolicyRequest { user_name: "bob".into(), policy_arn: POWER_USER.into() };
    policies::attach_user_policy(&there, attach).await.unwrap();
    let cached = here.user_policies("bob", read_at + POLICY_CACHE_MS - 1).await.unwrap().unwrap();
    assert!(Arc::ptr_eq(&first, &cached));
    let fresh = here.user_policies("bob", read_at + POLICY_CACHE_MS).await.unwrap().unwrap();
    assert_eq!(fresh.policies.len(), 1);
    // A clock that went back does not make an entry young.
    let detach = AttachUserPolicyRequest { user_name: "bob".into(), policy_arn: POWER_USER.into() };
    policies::detach_user_policy(&there, detach).await.unwrap();
    assert!(here.user_policies("bob", read_at - 1).await.unwrap().unwrap().policies.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_policy_counts_by_its_default_version() {
    let (_dir, identity, _) = two_replicas().await;
    identity.create_user("bob", 0).await.unwrap();
    let allow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"codecommit:GitPull","Resource":"*"}]}"#;
    let create = policies::CreatePolicyRequest {
        policy_name: "pull".into(),
        path: None,
        policy_document: allow.into(),
        description: None,
        tags: Vec::new(),
    };
    let arn = policies::create_policy(&identity, create, 0).await.unwrap().policy.arn;
    let attach = AttachUserPolicyRequest { user_name: "bob".into(), policy_arn: arn.clone() };
    policies::attach_user_policy(&identity, attach).await.unwrap();
    let policies_now = identity.user_policies("bob", 0).await.unwrap().unwrap();
    assert_eq!(policies_now.policies[0].source, SourceType::UserManaged);
    assert_eq!(decision(&policies_now, "codecommit:GitPull"), Decision::Allowed);
    let version = policies::CreatePolicyVersionRequest {
        policy_arn: arn,
        policy_document: allow.replace("GitPull", "GitPush"),
        set_as_default: true,
    };
    policies::create_policy_version(&identity, version, 1).await.unwrap();
    let changed = identity.user_policies("bob", 1).await.unwrap().unwrap();
    assert_eq!(decision(&changed, "codecommit:GitPull"), Decision::ImplicitDeny);
    assert_eq!(decision(&changed, "codecommit:GitPush"), Decision::Allowed);
}
