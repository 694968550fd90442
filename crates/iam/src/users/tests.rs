//! Tests of users through the API: each transition's whole-state change, the ids of users
//! made before ids were stored, renames carrying everything of the user's, and the conflicts
//! that keep a user from being deleted.

use awsapi::ErrorKind;
use engine::store::{Document, Write};
use serde_json::json;

use super::*;
use crate::access_keys::{self, CreateAccessKeyRequest};
use crate::groups::{self, CreateGroupRequest, GroupMembershipRequest};
use crate::ssh_keys::{self, UploadSSHPublicKeyRequest};
use crate::state_snapshot::{caller, changes, identity, snapshot};

const ED25519: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO9ia7OYsWn9cPiT9qcJwYQWUTcYfSHQ5/eWqWfGA2HC ada";

fn create(name: &str, path: Option<&str>, tags: Vec<Tag>) -> CreateUserRequest {
    CreateUserRequest {
        user_name: name.to_owned(),
        path: path.map(str::to_owned),
        permissions_boundary: None,
        tags,
    }
}

fn tag(key: &str, value: &str) -> Tag {
    Tag { key: key.to_owned(), value: value.to_owned() }
}

#[tokio::test]
async fn create_user_writes_one_document_with_its_id_path_and_tags() {
    let (identity, store, _dir) = identity().await;
    let before = snapshot(&store).await;
    let created =
        create_user(&identity, create("ada", Some("/eng/"), vec![tag("team", "core")]), 5_000)
            .await
            .unwrap()
            .user;
    let after = snapshot(&store).await;
    assert_eq!(changes(&before, &after), ["document user ada added"]);
    assert_eq!(created.arn, "arn:aws:iam::000000000000:user/eng/ada");
    assert!(created.user_id.starts_with("AIDA") && created.user_id.len() == 21, "{created:?}");
    assert_eq!(created.create_date, Timestamp(5_000));
    assert_eq!(created.tags, Some(vec![tag("team", "core")]));
    let body = &after["document user ada"]["body"];
    assert_eq!(
        *body,
        json!({
            "userName": "ada",
            "arn": "arn:aws:iam::000000000000:user/eng/ada",
            "createDate": 5_000,
            "userId": created.user_id,
            "path": "/eng/",
            "tags": [{"Key": "team", "Value": "core"}],
        })
    );

    // Refusals change nothing.
    let err = create_user(&identity, create("ada", None, vec![]), 6_000).await.unwrap_err();
    assert_eq!((err.kind, err.code.as_str()), (ErrorKind::EntityConflict, "EntityAlreadyExists"));
    assert_eq!(err.message, "User with name ada already exists.");
    for bad in [
        create("a b", None, vec![]),
        create("bob", Some("eng"), vec![]),
        create("bob", None, vec![tag("", "x")]),
    ] {
        let err = create_user(&identity, bad, 6_000).await.unwrap_err();
        assert_eq!(err.code, "ValidationError", "{err:?}");
    }
    assert_eq!(snapshot(&store).await, after);
}

#[tokio::test]
async fn a_user_made_before_ids_were_stored_keeps_a_derived_id_through_changes() {
    let (identity, store, _dir) = identity().await;
    // The body an older server wrote (`slipway user create`, the first admin).
    let old = Document {
        kind: USER.to_owned(),
        key: "carol".to_owned(),
        parent: None,
        sort: 7,
        version: 0,
        body: json!({ "userName": "carol", "arn": "arn:aws:iam::000000000000:user/carol", "createDate": 7 }),
    };
    store.apply(vec![Write::Insert(old)]).await.unwrap();
    let carol = caller("carol");
    let get = || get_user(&identity, &carol, GetUserRequest::default());
    let first = get().await.unwrap().user;
    assert_eq!(first.user_id, get().await.unwrap().user.user_id);
    assert!(first.user_id.starts_with("AIDA") && first.user_id.len() == 21, "{first:?}");
    assert_eq!(
        (first.path.as_str(), first.arn.as_str()),
        ("/", "arn:aws:iam::000000000000:user/carol")
    );

    // The first change stores it; a rename keeps it.
    tag_user(&identity, TagUserRequest { user_name: "carol".into(), tags: vec![tag("a", "1")] })
        .await
        .unwrap();
    let stored = store.get(USER, "carol").await.unwrap().unwrap();
    assert_eq!(stored.body["userId"], first.user_id.as_str());
    let rename = UpdateUserRequest {
        user_name: "carol".into(),
        new_path: None,
        new_user_name: Some("caroline".into()),
    };
    update_user(&identity, rename).await.unwrap();
    let renamed =
        get_user(&identity, &caller("x"), GetUserRequest { user_name: Some("caroline".into()) })
            .await
            .unwrap()
            .user;
    assert_eq!(renamed.user_id, first.user_id);
    assert_eq!(renamed.create_date, Timestamp(7));
}

#[tokio::test]
async fn a_rename_carries_keys_credentials_ssh_keys_groups_and_password_in_one_transaction() {
    let (identity, store, _dir) = identity().await;
    create_user(&identity, create("ada", None, vec![]), 1).await.unwrap();
    create_user(&identity, create("bob", None, vec![]), 1).await.unwrap();
    identity.set_password("ada", "correct horse battery").await.unwrap();
    let key = access_keys::create_access_key(
        &identity,
        &caller("admin"),
        CreateAccessKeyRequest { user_name: Some("ada".into()) },
        2,
    )
    .await
    .unwrap()
    .access_key;
    let (git_user, git_password) = identity.create_git_credentials("ada", 3).await.unwrap();
    let ssh =
        UploadSSHPublicKeyRequest { user_name: "ada".into(), ssh_public_key_body: ED25519.into() };
    let ssh_id = ssh_keys::upload_ssh_public_key(&identity, ssh, 4)
        .await
        .unwrap()
        .ssh_public_key
        .ssh_public_key_id;
    groups::create_group(
        &identity,
        CreateGroupRequest { path: None, group_name: "devs".into() },
        5,
    )
    .await
    .unwrap();
    let membership = GroupMembershipRequest { group_name: "devs".into(), user_name: "ada".into() };
    groups::add_user_to_group(&identity, membership).await.unwrap();
    sign_in(&store, "ada").await;

    // Onto an existing name: refused, nothing changes.
    let before = snapshot(&store).await;
    let onto_bob = UpdateUserRequest {
        user_name: "ada".into(),
        new_path: None,
        new_user_name: Some("bob".into()),
    };
    let err = update_user(&identity, onto_bob).await.unwrap_err();
    assert_eq!(err.code, "EntityAlreadyExists");
    assert_eq!(snapshot(&store).await, before);

    let rename = UpdateUserRequest {
        user_name: "ada".into(),
        new_path: Some("/eng/".into()),
        new_user_name: Some("ada.l".into()),
    };
    update_user(&identity, rename).await.unwrap();
    let after = snapshot(&store).await;
    assert_eq!(
        changes(&before, &after),
        [
            format!("document access-key {} changed", key.access_key_id),
            "document console-session session-of-ada removed".to_owned(),
            format!("document git-credential {git_user} changed"),
            "document group devs changed".to_owned(),
            format!("document ssh-public-key {ssh_id} changed"),
            "document user ada removed".to_owned(),
            "document user ada.l added".to_owned(),
        ]
    );
    let user = &after["document user ada.l"]["body"];
    assert_eq!(user["arn"], "arn:aws:iam::000000000000:user/eng/ada.l");
    assert_eq!(user["userId"], before["document user ada"]["body"]["userId"]);
    assert_eq!(after["document group devs"]["body"]["members"], json!(["ada.l"]));
    for name in [
        format!("document access-key {}", key.access_key_id),
        format!("document git-credential {git_user}"),
        format!("document ssh-public-key {ssh_id}"),
    ] {
        assert_eq!(after[&name]["parent"], "ada.l", "{name}");
        assert_eq!(after[&name]["body"]["userName"], "ada.l", "{name}");
    }
    // The key signs, the git credentials and the console password check, as the new name.
    assert_eq!(&*identity.secret(&key.access_key_id, 1_000).await.unwrap().unwrap().user, "ada.l");
    assert_eq!(
        identity.check_git_credentials(&git_user, &git_password).await.unwrap().as_deref(),
        Some("ada.l")
    );
    assert!(identity.check_password("ada.l", "correct horse battery").await.unwrap());
}

#[tokio::test]
async fn delete_user_says_what_must_go_first_and_then_deletes_only_the_user() {
    let (identity, store, _dir) = identity().await;
    create_user(&identity, create("ada", None, vec![]), 1).await.unwrap();
    identity.set_password("ada", "correct horse battery").await.unwrap();
    let key = identity.create_access_key("ada", 2).await.unwrap();
    let (git_user, _) = identity.create_git_credentials("ada", 3).await.unwrap();
    let ssh =
        UploadSSHPublicKeyRequest { user_name: "ada".into(), ssh_public_key_body: ED25519.into() };
    let ssh_id = ssh_keys::upload_ssh_public_key(&identity, ssh, 4)
        .await
        .unwrap()
        .ssh_public_key
        .ssh_public_key_id;
    groups::create_group(
        &identity,
        CreateGroupRequest { path: None, group_name: "devs".into() },
        5,
    )
    .await
    .unwrap();
    let membership =
        || GroupMembershipRequest { group_name: "devs".into(), user_name: "ada".into() };
    groups::add_user_to_group(&identity, membership()).await.unwrap();

    let delete = || delete_user(&identity, DeleteUserRequest { user_name: "ada".into() });
    refused(&identity, &store, "delete login profile").await;
    let mut user = store.get(USER, "ada").await.unwrap().unwrap();
    let version = user.version;
    user.body.as_object_mut().unwrap().remove("consolePasswordHash");
    store.apply(vec![Write::Update { document: user, expected_version: version }]).await.unwrap();
    refused(&identity, &store, "delete access keys").await;
    store
        .apply(vec![Write::Delete { kind: ACCESS_KEY.into(), key: key.access_key_id }])
        .await
        .unwrap();
    refused(&identity, &store, "delete SSH public keys").await;
    store.apply(vec![Write::Delete { kind: SSH_PUBLIC_KEY.into(), key: ssh_id }]).await.unwrap();
    refused(&identity, &store, "delete service specific credentials").await;
    store.apply(vec![Write::Delete { kind: GIT_CREDENTIAL.into(), key: git_user }]).await.unwrap();
    refused(&identity, &store, "remove user from all groups").await;
    groups::remove_user_from_group(&identity, membership()).await.unwrap();

    sign_in(&store, "ada").await;
    let before = snapshot(&store).await;
    delete().await.unwrap();
    assert_eq!(
        changes(&before, &snapshot(&store).await),
        ["document console-session session-of-ada removed", "document user ada removed"]
    );
    let err = delete().await.unwrap_err();
    assert_eq!((err.kind, err.code.as_str()), (ErrorKind::EntityNotFound, "NoSuchEntity"));
    assert_eq!(err.message, "The user with name ada cannot be found.");
}

/// A console session of `user`, as the server's console keeps it.
async fn sign_in(store: &engine::store::Store, user: &str) {
    let session = Document {
        kind: engine::kinds::CONSOLE_SESSION.to_owned(),
        key: format!("session-of-{user}"),
        parent: Some(user.to_owned()),
        sort: 0,
        version: 0,
        body: json!({ "userName": user, "csrf": "x" }),
    };
    store.apply(vec![Write::Insert(session)]).await.unwrap();
}

/// DeleteUser of `ada` is refused, saying it must `expected` first, and changes nothing.
async fn refused(identity: &Identity, store: &engine::store::Store, expected: &str) {
    let before = snapshot(store).await;
    let err =
        delete_user(identity, DeleteUserRequest { user_name: "ada".into() }).await.unwrap_err();
    assert_eq!((err.kind, err.code.as_str()), (ErrorKind::EntityConflict, "DeleteConflict"));
    assert_eq!(err.message, format!("Cannot delete entity, must {expected} first."));
    assert_eq!(snapshot(store).await, before);
}

#[tokio::test]
async fn list_users_pages_by_name_and_filters_by_path() {
    let (identity, _store, _dir) = identity().await;
    for (name, path) in [("c", "/eng/"), ("a", "/"), ("b", "/eng/web/")] {
        create_user(&identity, create(name, Some(path), vec![tag("k", "v")]), 1).await.unwrap();
    }
    let list = |prefix: Option<&str>, marker: Option<String>, max: Option<u32>| {
        let input =
            ListUsersRequest { path_prefix: prefix.map(str::to_owned), marker, max_items: max };
        list_users(&identity, input)
    };
    let names = |page: &ListUsersResponse| {
        page.users.iter().map(|u| u.user_name.clone()).collect::<Vec<_>>()
    };
    let all = list(None, None, None).await.unwrap();
    assert_eq!(
        (names(&all), all.is_truncated, all.marker.clone()),
        (vec!["a".into(), "b".into(), "c".into()], false, None)
    );
    // ListUsers shows no tags (as IAM), GetUser does.
    assert!(all.users.iter().all(|it| it.tags.is_none()));
    let first = list(None, None, Some(2)).await.unwrap();
    assert_eq!((names(&first), first.is_truncated), (vec!["a".into(), "b".into()], true));
    let rest = list(None, first.marker, Some(2)).await.unwrap();
    assert_eq!((names(&rest), rest.is_truncated, rest.marker), (vec!["c".into()], false, None));
    assert_eq!(names(&list(Some("/eng/"), None, None).await.unwrap()), ["b", "c"]);
    assert_eq!(list(None, None, Some(0)).await.unwrap_err().code, "ValidationError");
    assert_eq!(list(None, Some("x".into()), None).await.unwrap_err().code, "InvalidInput");
}

#[tokio::test]
async fn tags_merge_untag_and_list() {
    let (identity, _store, _dir) = identity().await;
    create_user(&identity, create("ada", None, vec![tag("a", "1"), tag("b", "2")]), 1)
        .await
        .unwrap();
    let tags = || {
        list_user_tags(
            &identity,
            ListUserTagsRequest { user_name: "ada".into(), marker: None, max_items: None },
        )
    };
    tag_user(
        &identity,
        TagUserRequest { user_name: "ada".into(), tags: vec![tag("b", "3"), tag("c", "4")] },
    )
    .await
    .unwrap();
    assert_eq!(tags().await.unwrap().tags, [tag("a", "1"), tag("b", "3"), tag("c", "4")]);
    untag_user(
        &identity,
        UntagUserRequest { user_name: "ada".into(), tag_keys: vec!["a".into(), "z".into()] },
    )
    .await
    .unwrap();
    assert_eq!(tags().await.unwrap().tags, [tag("b", "3"), tag("c", "4")]);
    let many: Vec<Tag> = (0..49).map(|i| tag(&format!("k{i}"), "v")).collect();
    let err = tag_user(&identity, TagUserRequest { user_name: "ada".into(), tags: many })
        .await
        .unwrap_err();
    assert_eq!(err.code, "LimitExceeded");
    assert_eq!(tags().await.unwrap().tags.len(), 2);
}

#[test]
fn an_operation_defaults_to_the_calling_user_but_not_to_a_role_session() {
    assert_eq!(user_or_caller(None, &caller("alice")).unwrap(), "alice");
    assert_eq!(user_or_caller(Some(String::new()), &caller("alice")).unwrap(), "alice");
    assert_eq!(user_or_caller(Some("bob".into()), &caller("alice")).unwrap(), "bob");
    // A role's session (`<role>/<session>`) is no user.
    assert_eq!(user_or_caller(Some("bob".into()), &caller("deployer/ci")).unwrap(), "bob");
    let err = user_or_caller(None, &caller("deployer/ci")).unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.message.as_str()),
        ("ValidationError", "Must specify userName when calling with non-User credentials")
    );
    assert_eq!(err.kind, ErrorKind::Client);
}
