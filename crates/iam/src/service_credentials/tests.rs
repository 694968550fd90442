//! Tests of CodeCommit's git credentials as service-specific credentials: the same documents
//! `slipway git-credentials` makes, ids of credentials made before ids were stored, reset,
//! status and deletion, and the services refused.

use awsapi::ErrorKind;
use engine::store::{Document, Write};

use super::*;
use crate::state_snapshot::{caller, changes, identity, snapshot};

fn create(user: &str, service: &str) -> CreateServiceSpecificCredentialRequest {
    CreateServiceSpecificCredentialRequest {
        user_name: user.to_owned(),
        service_name: service.to_owned(),
        credential_age_days: None,
    }
}

#[tokio::test]
async fn credentials_are_git_credentials_that_reset_deactivate_and_delete() {
    let (identity, store, _dir) = identity().await;
    identity.create_user("ada", 0).await.unwrap();
    let before = snapshot(&store).await;
    let created = create_service_specific_credential(&identity, create("ada", CODECOMMIT), 5)
        .await
        .unwrap()
        .service_specific_credential;
    let name = created.service_user_name.clone();
    assert_eq!(
        changes(&before, &snapshot(&store).await),
        [format!("document git-credential {name} added")]
    );
    assert!(name.starts_with("ada-at-"), "{name}");
    assert!(created.service_specific_credential_id.starts_with("ACCA"));
    assert_eq!(created.service_specific_credential_id.len(), 21);
    assert_eq!((created.status.as_str(), created.create_date), ("Active", Timestamp(5)));
    let check = |password: String| {
        let (identity, name) = (identity.clone(), name.clone());
        async move { identity.check_git_credentials(&name, &password).await.unwrap() }
    };
    assert_eq!(check(created.service_password.clone()).await.as_deref(), Some("ada"));

    // Other services, a second credential past the quota: refused, nothing changes.
    let before = snapshot(&store).await;
    let err = create_service_specific_credential(&identity, create("ada", "s3.amazonaws.com"), 6)
        .await
        .unwrap_err();
    assert_eq!((err.kind, err.code.as_str()), (ErrorKind::EntityNotFound, "NotSupportedService"));
    assert_eq!(snapshot(&store).await, before);
    identity.create_git_credentials("ada", 6).await.unwrap();
    let before = snapshot(&store).await;
    let err = create_service_specific_credential(&identity, create("ada", CODECOMMIT), 7)
        .await
        .unwrap_err();
    assert_eq!(err.code, "LimitExceeded");
    assert_eq!(snapshot(&store).await, before);
    let id = created.service_specific_credential_id.clone();
    let reset = ResetServiceSpecificCredentialRequest {
        user_name: None,
        service_specific_credential_id: id.clone(),
    };
    let ada = caller("ada");

    let before_reset = snapshot(&store).await;
    let new = reset_service_specific_credential(&identity, &ada, reset)
        .await
        .unwrap()
        .service_specific_credential;
    assert_eq!(
        changes(&before_reset, &snapshot(&store).await),
        [format!("document git-credential {name} changed")]
    );
    assert_eq!(
        (new.service_user_name.as_str(), new.service_specific_credential_id.as_str()),
        (name.as_str(), id.as_str())
    );
    assert_eq!(check(created.service_password.clone()).await, None);
    assert_eq!(check(new.service_password.clone()).await.as_deref(), Some("ada"));

    let update = UpdateServiceSpecificCredentialRequest {
        user_name: None,
        service_specific_credential_id: id.clone(),
        status: Status::Inactive,
    };
    update_service_specific_credential(&identity, &ada, update).await.unwrap();
    assert_eq!(check(new.service_password.clone()).await, None);

    let listed =
        list_service_specific_credentials(&identity, &ada, Default::default()).await.unwrap();
    let statuses: Vec<&str> =
        listed.service_specific_credentials.iter().map(|it| it.status.as_str()).collect();
    assert_eq!(statuses, ["Inactive", "Active"]);
    let delete = DeleteServiceSpecificCredentialRequest {
        user_name: Some("ada".into()),
        service_specific_credential_id: id.clone(),
    };
    let before = snapshot(&store).await;
    delete_service_specific_credential(&identity, &ada, delete.clone()).await.unwrap();
    assert_eq!(
        changes(&before, &snapshot(&store).await),
        [format!("document git-credential {name} removed")]
    );
    assert_eq!(
        delete_service_specific_credential(&identity, &ada, delete).await.unwrap_err().code,
        "NoSuchEntity"
    );
}

#[tokio::test]
async fn a_credential_made_before_ids_were_stored_has_a_stable_derived_id() {
    let (identity, store, _dir) = identity().await;
    identity.create_user("alice", 0).await.unwrap();
    // The format existing installations hold (password "secret", salt 00…).
    let old = Document {
        kind: GIT_CREDENTIAL.to_owned(),
        key: "alice-at-123456".to_owned(),
        parent: Some("alice".to_owned()),
        sort: 5,
        version: 0,
        body: serde_json::json!({
            "userName": "alice",
            "passwordHash": "45696a7b84e9eb106109744e5fbfb29e78e426967c48f3b00e9e90ea602e5e3d",
            "salt": "00000000000000000000000000000000",
            "status": "Active",
            "createdMs": 5,
        }),
    };
    store.apply(vec![Write::Insert(old)]).await.unwrap();
    let alice = caller("alice");
    let list = || list_service_specific_credentials(&identity, &alice, Default::default());
    let first = list().await.unwrap().service_specific_credentials;
    assert_eq!(first.len(), 1);
    let id = first[0].service_specific_credential_id.clone();
    assert!(id.starts_with("ACCA") && id.len() == 21, "{id}");
    assert_eq!(
        list().await.unwrap().service_specific_credentials[0].service_specific_credential_id,
        id
    );
    assert_eq!(first[0].service_user_name, "alice-at-123456");

    // Deactivating it by that id stores the id, which stays.
    let update = UpdateServiceSpecificCredentialRequest {
        user_name: None,
        service_specific_credential_id: id.clone(),
        status: Status::Inactive,
    };
    update_service_specific_credential(&identity, &caller("alice"), update).await.unwrap();
    let stored = store.get(GIT_CREDENTIAL, "alice-at-123456").await.unwrap().unwrap();
    assert_eq!(
        (stored.body["credentialId"].as_str(), stored.body["status"].as_str()),
        (Some(id.as_str()), Some("Inactive"))
    );
}
