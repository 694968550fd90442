//! The router's edge: a handler that panics answers 500 on a connection that stays usable;
//! `/healthz` says which background loops are down; an older installation's users are given
//! AdministratorAccess once; branch protection is the policy every user (and build token) is
//! under, and an older installation's rules become it once.

use axum::Router;
use axum::routing::get;

#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_connection_survives() {
    let router = Router::new().route("/boom", get(boom)).route("/fine", get(|| async { "fine" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let serving = tokio::spawn(async move {
        axum::serve(listener, super::edge_layers(router)).await.unwrap();
    });
    // One client, one pooled connection: the request after the panic uses it again.
    let client = reqwest::Client::builder().pool_max_idle_per_host(1).build().unwrap();
    let boom = client.get(format!("{endpoint}/boom")).send().await.unwrap();
    assert_eq!(boom.status(), 500);
    boom.text().await.unwrap();
    let fine = client.get(format!("{endpoint}/fine")).send().await.unwrap();
    assert_eq!(fine.text().await.unwrap(), "fine");
    serving.abort();
}

async fn boom() -> &'static str {
    panic!("a handler bug")
}

#[tokio::test]
async fn healthz_names_a_background_loop_that_is_down() {
    let (state, _dir) = crate::test_state("us-east-1").await;
    let (endpoint, serving) = crate::serve_for_test(state.clone()).await;
    let healthy = reqwest::get(format!("{endpoint}/healthz")).await.unwrap();
    assert_eq!(healthy.status(), 200);
    assert_eq!(healthy.text().await.unwrap(), "ok\n");
    // A loop that panicked waits (an hour, here) before it starts again: it is down.
    let mut loops =
        crate::loops::Loops::new(state.loops.clone(), std::time::Duration::from_secs(3_600));
    loops.start("mirrors", || async { panic!("a loop bug") });
    let mut answer = (0, String::new());
    for _ in 0..6_000 {
        let response = reqwest::get(format!("{endpoint}/healthz")).await.unwrap();
        answer = (response.status().as_u16(), response.text().await.unwrap());
        if answer.0 != 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        answer,
        (503, "down: mirrors (failed once; last: panicked: a loop bug)\n".to_owned())
    );
    loops.stop();
    serving.abort();
}

/// An installation made before policies were enforced (no marker in its installation
/// document): the first start of this server gives its users AdministratorAccess, once.
#[tokio::test]
async fn the_users_of_an_older_installation_keep_what_they_could_do() {
    let dir = tempfile::tempdir().unwrap();
    let config = super::test_config(dir.path(), "us-east-1");
    let server = super::Server::open(&config).await.unwrap();
    let store = server.state.store.clone();
    // As an older server left it: a user without policies, no marker.
    server.create_user("old").await.unwrap();
    let mut installation =
        store.get(engine::kinds::INSTALLATION, super::KEY_FINGERPRINT).await.unwrap().unwrap();
    installation.body.as_object_mut().unwrap().remove(iam::policies::GRANTED_MARKER);
    let version = installation.version;
    let update = engine::store::Write::Update { document: installation, expected_version: version };
    store.apply(vec![update]).await.unwrap();
    drop(server);

    let server = super::Server::open(&config).await.unwrap();
    let attached = |user: &str| {
        let store = server.state.store.clone();
        let user = user.to_owned();
        async move {
            let document = store.get(engine::kinds::USER, &user).await.unwrap().unwrap();
            iam::policies::EntityPolicies::from_body(&document.body).attached
        }
    };
    assert_eq!(attached("old").await, [iam::policies::ADMINISTRATOR_ACCESS]);
    // A user made now starts with nothing, and a later start gives it nothing.
    server.create_user("new").await.unwrap();
    drop(server);
    let server = super::Server::open(&config).await.unwrap();
    let document = server.state.store.get(engine::kinds::USER, "new").await.unwrap().unwrap();
    assert!(iam::policies::EntityPolicies::from_body(&document.body).attached.is_empty());
}

/// How the branch protection test's requests arrive: from nowhere known, over plain HTTP.
const ARRIVAL: crate::auth::facts::Arrival<'static> =
    crate::auth::facts::Arrival { source_ip: "", secure_transport: false };

/// Branch protection through the server's one authorization path: the rules written as the
/// account-level policy refuse every operation that moves a protected branch (with the
/// facts the server builds for each), for users with AdministratorAccess and for a build
/// token acting for one, and an older installation's rules become that policy on its first
/// start.
#[tokio::test]
async fn branch_protection_is_the_policy_every_user_and_build_token_is_under() {
    use crate::auth::{Principal, SignIn};
    use serde_json::json;
    let dir = tempfile::tempdir().unwrap();
    let config = super::test_config(dir.path(), "us-east-1");
    let server = super::Server::open(&config).await.unwrap();
    let state = server.state.clone();
    let admin = crate::aws::Caller {
        user: "admin".to_owned(),
        access_key_id: String::new(),
        host: String::new(),
    };
    let input = json!({ "repositoryName": "web" });
    crate::aws::codecommit::call(&state, &admin, "CreateRepository", input).await.unwrap();
    for user in ["alice", "bob"] {
        server.create_user(user).await.unwrap();
        server.attach_user_policy(user, "AdministratorAccess").await.unwrap();
    }
    let user = |name: &str| Principal::User {
        name: name.to_owned(),
        user_id: "".into(),
        via: SignIn::SigV4 { access_key_id: "AKIA".to_owned() },
    };
    let push = crate::git::Service::ReceivePack;
    let git = |principal: Principal| {
        let state = state.clone();
        async move {
            crate::git::authorize_git(
                &state,
                &principal,
                push,
                "web",
                &["refs/heads/main"],
                ARRIVAL,
            )
            .await
            .unwrap()
        }
    };
    // Bob may push main; his policies are cached now.
    assert!(git(user("bob")).await.is_none());
    // The rule, set by another process (`slipway branch-protection set`: another connection
    // to the store, whose writes this server's cache does not see), holds at once.
    let url = format!("sqlite:{}", config.data_dir.join("slipway.db").display());
    let other = codecommit::Context {
        store: engine::store::Store::connect(&url).await.unwrap(),
        ..state.codecommit().clone()
    };
    let rule = codecommit::protection::BranchRule {
        branch: "main".to_owned(),
        push: Some(vec!["alice".to_owned()]),
        force_push: None,
        delete: Some(Vec::new()),
    };
    codecommit::protection::set_rule(&other, "web", rule).await.unwrap();
    assert!(git(user("bob")).await.unwrap().message.contains("explicit deny"));
    let main = |extra: serde_json::Value| {
        let mut input = json!({ "repositoryName": "web", "branchName": "main" });
        input.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        input
    };
    let moves = [
        ("PutFile", main(json!({ "filePath": "a", "fileContent": "YQ==" }))),
        ("CreateCommit", main(json!({}))),
        ("DeleteFile", main(json!({ "filePath": "a", "parentCommitId": "0" }))),
        ("CreateBranch", main(json!({ "commitId": "0" }))),
        (
            "MergeBranchesByFastForward",
            json!({ "repositoryName": "web", "sourceCommitSpecifier": "x", "destinationCommitSpecifier": "y", "targetBranch": "main" }),
        ),
    ];
    let arrival = crate::auth::facts::Arrival { source_ip: "", secure_transport: false };
    for (operation, input) in &moves {
        let refused =
            crate::aws::authorize(&state, &user("bob"), "codecommit", operation, input, arrival)
                .await
                .unwrap_err();
        assert!(
            refused.message.ends_with("with an explicit deny in an identity-based policy"),
            "{operation}: {}",
            refused.message
        );
        crate::aws::authorize(&state, &user("alice"), "codecommit", operation, input, arrival)
            .await
            .unwrap_or_else(|err| panic!("{operation}: {}", err.message));
        // Another branch is anyone's.
        let mut elsewhere = input.clone();
        for field in ["branchName", "targetBranch"] {
            if elsewhere.get(field).is_some() {
                elsewhere[field] = json!("topic");
            }
        }
        crate::aws::authorize(&state, &user("bob"), "codecommit", operation, &elsewhere, arrival)
            .await
            .unwrap_or_else(|err| panic!("{operation} elsewhere: {}", err.message));
    }
    // Nobody may delete main through the API.
    let delete = main(json!({}));
    assert!(
        crate::aws::authorize(
            &state,
            &user("alice"),
            "codecommit",
            "DeleteBranch",
            &delete,
            arrival
        )
        .await
        .is_err()
    );
    // A push: bob's, or a build token's acting for him, is refused before git starts.
    assert!(git(user("bob")).await.unwrap().message.contains("explicit deny"));
    assert!(git(user("alice")).await.is_none());
    // The build's service role may push anywhere: branch protection is what refuses bob's.
    let may_push = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"codecommit:Git*","Resource":"*"}]}"#;
    crate::auth::tests::role(&state, "ci", crate::auth::tests::TRUST_CODEBUILD, may_push).await;
    let token = |initiator: &str| Principal::Build {
        build_id: "p:1".to_owned(),
        initiator: initiator.to_owned(),
        service_role: "ci".to_owned(),
    };
    assert!(git(token("bob")).await.unwrap().message.contains("explicit deny"));
    assert!(git(token("alice")).await.is_none());

    // As an older server left it: the rules, no policy, no marker. The next start writes it.
    let store = state.store.clone();
    let policy = iam::policies::BRANCH_PROTECTION_POLICY;
    let remove = engine::store::Write::Delete {
        kind: engine::kinds::POLICY.to_owned(),
        key: policy.to_owned(),
    };
    let mut installation =
        store.get(engine::kinds::INSTALLATION, super::KEY_FINGERPRINT).await.unwrap().unwrap();
    let marker = codecommit::protection::CONVERTED_MARKER;
    installation.body.as_object_mut().unwrap().remove(marker);
    let version = installation.version;
    let update = engine::store::Write::Update { document: installation, expected_version: version };
    store.apply(vec![remove, update]).await.unwrap();
    drop((server, state, other));
    let server = super::Server::open(&config).await.unwrap();
    let shown = server.branch_protection_statements("web").await.unwrap();
    assert_eq!(shown["statements"].as_array().unwrap().len(), 2, "{shown}");
    let bob = user("bob");
    let refused =
        crate::git::authorize_git(&server.state, &bob, push, "web", &["refs/heads/main"], ARRIVAL);
    assert!(refused.await.unwrap().is_some());
}
