//! Tests of login profiles: the console password through the API, checked as the console
//! checks it, and its deletion ending the user's sessions.

use awsapi::ErrorKind;

use super::*;
use crate::state_snapshot::{caller, changes, identity, snapshot};

#[tokio::test]
async fn a_login_profile_is_the_console_password() {
    let (identity, store, _dir) = identity().await;
    identity.create_user("ada", 0).await.unwrap();
    let admin = caller("admin");
    let named = |password: Option<&str>| CreateLoginProfileRequest {
        user_name: Some("ada".into()),
        password: password.map(str::to_owned),
        password_reset_required: None,
    };
    let get = || {
        get_login_profile(
            &identity,
            &admin,
            GetLoginProfileRequest { user_name: Some("ada".into()) },
        )
    };
    assert_eq!(get().await.unwrap_err().message, "Login Profile for User ada cannot be found.");

    let before = snapshot(&store).await;
    for short in [None, Some("short")] {
        let err = create_login_profile(&identity, &admin, named(short), 5).await.unwrap_err();
        assert_eq!((err.kind, err.code.as_str()), (ErrorKind::Client, "PasswordPolicyViolation"));
    }
    assert_eq!(snapshot(&store).await, before);
    let created =
        create_login_profile(&identity, &admin, named(Some("correct horse")), 5).await.unwrap();
    assert_eq!(changes(&before, &snapshot(&store).await), ["document user ada changed"]);
    assert_eq!(
        created.login_profile,
        LoginProfile {
            user_name: "ada".into(),
            create_date: Timestamp(5),
            password_reset_required: false
        }
    );
    assert!(identity.check_password("ada", "correct horse").await.unwrap());
    assert_eq!(get().await.unwrap().login_profile, created.login_profile);
    let err =
        create_login_profile(&identity, &admin, named(Some("another one")), 6).await.unwrap_err();
    assert_eq!((err.kind, err.code.as_str()), (ErrorKind::EntityConflict, "EntityAlreadyExists"));

    let update = UpdateLoginProfileRequest {
        user_name: "ada".into(),
        password: Some("battery staple".into()),
        password_reset_required: None,
    };
    update_login_profile(&identity, update, 7).await.unwrap();
    assert!(identity.check_password("ada", "battery staple").await.unwrap());
    assert!(!identity.check_password("ada", "correct horse").await.unwrap());

    let session = Document {
        kind: CONSOLE_SESSION.to_owned(),
        key: "s".to_owned(),
        parent: Some("ada".to_owned()),
        sort: 0,
        version: 0,
        body: json!({ "userName": "ada" }),
    };
    store.apply(vec![Write::Insert(session)]).await.unwrap();
    let before = snapshot(&store).await;
    let delete = || {
        delete_login_profile(
            &identity,
            &admin,
            DeleteLoginProfileRequest { user_name: Some("ada".into()) },
        )
    };
    delete().await.unwrap();
    assert_eq!(
        changes(&before, &snapshot(&store).await),
        ["document console-session s removed", "document user ada changed"]
    );
    assert!(!identity.check_password("ada", "battery staple").await.unwrap());
    assert_eq!(delete().await.unwrap_err().code, "NoSuchEntity");
}
