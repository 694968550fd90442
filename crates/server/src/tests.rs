//! The router's edge: a handler that panics answers 500 on a connection that stays usable.

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
