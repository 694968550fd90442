//! Tests of GetAccountAuthorizationDetails.

use engine::store::Store;

use super::*;
use crate::crypto::SecretBox;
use crate::policies::{AttachUserPolicyRequest, PutUserPolicyRequest};

#[tokio::test]
async fn every_entity_with_its_policies_and_the_policies_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let secrets = SecretBox::load_or_create(&dir.path().join("master.key"), true).unwrap();
    let identity = Identity::new(store, secrets, "123456789012");
    identity.create_user("bob", 0).await.unwrap();
    let admin = "arn:aws:iam::aws:policy/AdministratorAccess";
    let attach = AttachUserPolicyRequest { user_name: "bob".into(), policy_arn: admin.into() };
    policies::attach_user_policy(&identity, attach).await.unwrap();
    let document =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#;
    let put = PutUserPolicyRequest {
        user_name: "bob".into(),
        policy_name: "none".into(),
        policy_document: document.into(),
    };
    policies::put_user_policy(&identity, put).await.unwrap();

    let all = get_account_authorization_details(&identity, Default::default()).await.unwrap();
    let bob = &all.user_detail_list[0];
    assert_eq!(bob.user_name, "bob");
    assert_eq!(
        bob.attached_managed_policies,
        [AttachedPolicy { policy_name: "AdministratorAccess".into(), policy_arn: admin.into() }]
    );
    assert_eq!(
        bob.user_policy_list,
        [PolicyDetail { policy_name: "none".into(), policy_document: api::url_encode(document) }]
    );
    // AWS's policies only when in use.
    assert_eq!(all.policies.len(), 1);
    assert_eq!((all.policies[0].arn.as_str(), all.policies[0].attachment_count), (admin, 1));
    assert_eq!(all.policies[0].policy_version_list.len(), 1);

    let request =
        GetAccountAuthorizationDetailsRequest { filter: vec!["Role".into()], ..Default::default() };
    let roles = get_account_authorization_details(&identity, request).await.unwrap();
    assert!(roles.user_detail_list.is_empty() && roles.policies.is_empty());
    let request = GetAccountAuthorizationDetailsRequest {
        filter: vec!["Users".into()],
        ..Default::default()
    };
    assert_eq!(
        get_account_authorization_details(&identity, request).await.unwrap_err().code,
        "ValidationError"
    );
}

#[tokio::test]
async fn the_details_are_paged_as_one_list() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let secrets = SecretBox::load_or_create(&dir.path().join("master.key"), true).unwrap();
    let identity = Identity::new(store, secrets, "123456789012");
    for user in ["ann", "bob", "cy"] {
        identity.create_user(user, 0).await.unwrap();
    }
    let admin = "arn:aws:iam::aws:policy/AdministratorAccess";
    let attach = AttachUserPolicyRequest { user_name: "bob".into(), policy_arn: admin.into() };
    policies::attach_user_policy(&identity, attach).await.unwrap();
    let page = |marker: Option<String>| GetAccountAuthorizationDetailsRequest {
        max_items: Some(2),
        marker,
        ..Default::default()
    };
    let first = get_account_authorization_details(&identity, page(None)).await.unwrap();
    let names: Vec<&str> = first.user_detail_list.iter().map(|it| it.user_name.as_str()).collect();
    assert_eq!(names, ["ann", "bob"]);
    assert!(first.is_truncated && first.policies.is_empty());
    // The rest: the last user, then the policy in use.
    let second = get_account_authorization_details(&identity, page(first.marker)).await.unwrap();
    assert_eq!(second.user_detail_list.len(), 1);
    assert_eq!(second.user_detail_list[0].user_name, "cy");
    assert_eq!(second.policies.len(), 1);
    assert_eq!(second.policies[0].arn, admin);
    assert!(!second.is_truncated && second.marker.is_none());
    let bad = GetAccountAuthorizationDetailsRequest { max_items: Some(0), ..Default::default() };
    assert_eq!(
        get_account_authorization_details(&identity, bad).await.unwrap_err().code,
        "ValidationError"
    );
}
