//! The router's edge: a handler that panics answers 500 on a connection that stays usable;
//! `/healthz` says which background loops are down; an older installation's users are given
//! AdministratorAccess once.

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
    let config = super::ServerConfig {
        data_dir: dir.path().join("data"),
        database_url: None,
        blob_url: None,
        region: "us-east-1".to_owned(),
        master_key_file: None,
        create: true,
        audit_retention_days: 90,
    };
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
