//! Tests of groups: creation, membership as one write of the group, GetGroup's users,
//! ListGroupsForUser, and DeleteGroup's conflict.

use awsapi::ErrorKind;

use super::*;
use crate::state_snapshot::{changes, identity, snapshot};

fn member(group: &str, user: &str) -> GroupMembershipRequest {
    GroupMembershipRequest { group_name: group.to_owned(), user_name: user.to_owned() }
}

#[tokio::test]
async fn groups_hold_members_until_they_are_removed() {
    let (identity, store, _dir) = identity().await;
    identity.create_user("ada", 0).await.unwrap();
    identity.create_user("bob", 0).await.unwrap();
    let before = snapshot(&store).await;
    let create = |name: &str, path: Option<&str>| CreateGroupRequest {
        path: path.map(str::to_owned),
        group_name: name.to_owned(),
    };
    let group = create_group(&identity, create("devs", Some("/eng/")), 9).await.unwrap().group;
    assert_eq!(changes(&before, &snapshot(&store).await), ["document group devs added"]);
    assert_eq!(group.arn, "arn:aws:iam::000000000000:group/eng/devs");
    assert!(group.group_id.starts_with("AGPA") && group.group_id.len() == 21, "{group:?}");
    let err = create_group(&identity, create("devs", None), 9).await.unwrap_err();
    assert_eq!((err.kind, err.code.as_str()), (ErrorKind::EntityConflict, "EntityAlreadyExists"));
    create_group(&identity, create("ops", None), 9).await.unwrap();

    let before = snapshot(&store).await;
    add_user_to_group(&identity, member("devs", "bob")).await.unwrap();
    assert_eq!(
        changes(&before, &snapshot(&store).await),
        ["document group devs changed", "document user bob changed"]
    );
    add_user_to_group(&identity, member("devs", "ada")).await.unwrap();
    add_user_to_group(&identity, member("ops", "ada")).await.unwrap();
    // Adding again is no change.
    let before = snapshot(&store).await;
    add_user_to_group(&identity, member("devs", "ada")).await.unwrap();
    assert_eq!(snapshot(&store).await, before);
    for (request, code) in
        [(member("devs", "nobody"), "NoSuchEntity"), (member("none", "ada"), "NoSuchEntity")]
    {
        let err = add_user_to_group(&identity, request).await.unwrap_err();
        assert_eq!((err.kind, err.code.as_str()), (ErrorKind::EntityNotFound, code));
    }
    assert_eq!(snapshot(&store).await, before);

    let got = get_group(
        &identity,
        GetGroupRequest { group_name: "devs".into(), marker: None, max_items: None },
    )
    .await
    .unwrap();
    let users: Vec<&str> = got.users.iter().map(|it| it.user_name.as_str()).collect();
    assert_eq!(users, ["ada", "bob"]);
    assert_eq!(
        store.get(GROUP, "devs").await.unwrap().unwrap().body["members"],
        serde_json::json!(["ada", "bob"])
    );
    let of_ada = list_groups_for_user(
        &identity,
        ListGroupsForUserRequest { user_name: "ada".into(), marker: None, max_items: None },
    )
    .await
    .unwrap();
    let names: Vec<&str> = of_ada.groups.iter().map(|it| it.group_name.as_str()).collect();
    assert_eq!(names, ["devs", "ops"]);
    let eng = list_groups(
        &identity,
        ListGroupsRequest { path_prefix: Some("/eng/".into()), ..Default::default() },
    )
    .await
    .unwrap();
    assert_eq!(eng.groups, [group]);

    let delete = || delete_group(&identity, DeleteGroupRequest { group_name: "devs".into() });
    let before = snapshot(&store).await;
    let err = delete().await.unwrap_err();
    assert_eq!((err.kind, err.code.as_str()), (ErrorKind::EntityConflict, "DeleteConflict"));
    assert_eq!(snapshot(&store).await, before);
    remove_user_from_group(&identity, member("devs", "ada")).await.unwrap();
    remove_user_from_group(&identity, member("devs", "bob")).await.unwrap();
    let err = remove_user_from_group(&identity, member("devs", "bob")).await.unwrap_err();
    assert_eq!(err.code, "NoSuchEntity");
    let before = snapshot(&store).await;
    delete().await.unwrap();
    assert_eq!(changes(&before, &snapshot(&store).await), ["document group devs removed"]);
}
