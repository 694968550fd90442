//! Tests of SSH public keys through the API: upload (one document, found by its id),
//! duplicates and the quota, encodings out, status, deletion.

use awsapi::ErrorKind;

use super::*;
use crate::state_snapshot::{caller, changes, identity, snapshot};

const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO9ia7OYsWn9cPiT9qcJwYQWUTcYfSHQ5/eWqWfGA2HC ada@example.com";

fn upload(user: &str, body: &str) -> UploadSSHPublicKeyRequest {
    UploadSSHPublicKeyRequest { user_name: user.to_owned(), ssh_public_key_body: body.to_owned() }
}

#[tokio::test]
async fn an_uploaded_key_is_found_by_its_id_until_deleted() {
    let (identity, store, _dir) = identity().await;
    identity.create_user("ada", 0).await.unwrap();
    let before = snapshot(&store).await;
    let uploaded =
        upload_ssh_public_key(&identity, upload("ada", ED25519), 3).await.unwrap().ssh_public_key;
    let id = uploaded.ssh_public_key_id.clone();
    let after = snapshot(&store).await;
    assert_eq!(
        changes(&before, &after),
        [format!("document ssh-public-key {id} added"), "document user ada changed".into()]
    );
    assert_eq!(after["document user ada"]["body"], before["document user ada"]["body"]);
    assert!(id.starts_with("APKA") && id.len() == 20, "{id}");
    assert_eq!(uploaded.fingerprint, "12:d9:2c:49:59:0e:47:4a:9f:27:a3:6a:cb:0f:57:6f");
    assert_eq!(uploaded.status, "Active");
    assert_eq!(uploaded.upload_date, Timestamp(3));
    let found = identity.ssh_key(&id).await.unwrap().unwrap();
    assert_eq!((found.user.as_str(), found.active), ("ada", true));
    assert_eq!(found.key, PublicKey::parse(ED25519).unwrap());

    // The same key again, a second time as PEM, is a duplicate; nothing changes.
    let before = snapshot(&store).await;
    let pem = found.key.to_pem();
    for body in [ED25519, pem.as_str()] {
        let err = upload_ssh_public_key(&identity, upload("ada", body), 4).await.unwrap_err();
        assert_eq!((err.kind, err.code.as_str()), (ErrorKind::Client, "DuplicateSSHPublicKey"));
    }
    let err = upload_ssh_public_key(&identity, upload("ada", "ssh-rsa AAAA"), 4).await.unwrap_err();
    assert_eq!(err.code, "InvalidPublicKey");
    let err = upload_ssh_public_key(&identity, upload("ada", "nope"), 4).await.unwrap_err();
    assert_eq!(err.code, "UnrecognizedPublicKeyEncoding");
    let err = upload_ssh_public_key(&identity, upload("bob", ED25519), 4).await.unwrap_err();
    assert_eq!(err.code, "NoSuchEntity");
    assert_eq!(snapshot(&store).await, before);

    let get = |encoding| GetSSHPublicKeyRequest {
        user_name: "ada".into(),
        ssh_public_key_id: id.clone(),
        encoding,
    };
    let ssh = get_ssh_public_key(&identity, get(Encoding::Ssh)).await.unwrap().ssh_public_key;
    assert_eq!(
        ssh.ssh_public_key_body,
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO9ia7OYsWn9cPiT9qcJwYQWUTcYfSHQ5/eWqWfGA2HC"
    );
    let pem = get_ssh_public_key(&identity, get(Encoding::Pem)).await.unwrap().ssh_public_key;
    assert_eq!(pem.ssh_public_key_body, found.key.to_pem());

    let update = UpdateSSHPublicKeyRequest {
        user_name: "ada".into(),
        ssh_public_key_id: id.clone(),
        status: Status::Inactive,
    };
    update_ssh_public_key(&identity, update).await.unwrap();
    assert!(!identity.ssh_key(&id).await.unwrap().unwrap().active);
    let listed =
        list_ssh_public_keys(&identity, &caller("ada"), ListSSHPublicKeysRequest::default())
            .await
            .unwrap();
    assert_eq!(listed.ssh_public_keys.len(), 1);
    assert_eq!(listed.ssh_public_keys[0].status, "Inactive");

    let before = snapshot(&store).await;
    let delete =
        DeleteSSHPublicKeyRequest { user_name: "ada".into(), ssh_public_key_id: id.clone() };
    delete_ssh_public_key(&identity, delete.clone()).await.unwrap();
    assert_eq!(
        changes(&before, &snapshot(&store).await),
        [format!("document ssh-public-key {id} removed")]
    );
    assert_eq!(delete_ssh_public_key(&identity, delete).await.unwrap_err().code, "NoSuchEntity");
    assert_eq!(identity.ssh_key(&id).await.unwrap(), None);
}
