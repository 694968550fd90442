//! Unit tests of repository triggers: selection, validation, the notification's shape, the
//! signature, and put/get/deliver against a real store with a loopback receiver.

use std::sync::Arc;

use engine::store::{Document, ListQuery, Write};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// An operation's JSON output for its JSON input, as the API answers.
fn as_json<T: serde::Serialize>(output: Result<T, ApiError>) -> Result<Value, ApiError> {
    output.map(|it| serde_json::to_value(it).unwrap())
}

async fn put_json(ctx: &Context, input: Value) -> Result<Value, ApiError> {
    as_json(put_repository_triggers(ctx, awsapi::json::typed(input)?).await)
}

async fn get_json(ctx: &Context, input: Value) -> Result<Value, ApiError> {
    as_json(get_repository_triggers(ctx, awsapi::json::typed(input)?).await)
}

async fn test_json(ctx: &Context, input: Value) -> Result<Value, ApiError> {
    let now = engine::clock::now_ms();
    as_json(test_repository_triggers(ctx, awsapi::json::typed(input)?, now).await)
}

/// The checked triggers of a request's JSON input.
fn parse_triggers(input: &Value) -> Result<Vec<Value>, ApiError> {
    check_triggers(input.get("triggers").and_then(Value::as_array).map(Vec::as_slice))
}

fn trigger(events: &[&str], branches: &[&str]) -> Value {
    json!({
        "name": "t",
        "destinationArn": "http://127.0.0.1:1/hook",
        "branches": branches,
        "events": events,
    })
}

#[test]
fn events_select_their_kind_of_change() {
    let cases = [
        (&["all"][..], ["created", "updated", "deleted"].as_slice()),
        (&["createReference"][..], &["created"][..]),
        (&["updateReference"][..], &["updated"][..]),
        (&["deleteReference"][..], &["deleted"][..]),
        (&["createReference", "deleteReference"][..], &["created", "deleted"][..]),
    ];
    for (events, fired) in cases {
        let trigger = trigger(events, &[]);
        for event in ["created", "updated", "deleted"] {
            assert_eq!(
                selects(&trigger, event, "refs/heads/main"),
                fired.contains(&event),
                "{events:?} × {event}"
            );
        }
    }
}

#[test]
fn branches_select_their_references() {
    let all = trigger(&["all"], &[]);
    assert!(selects(&all, "updated", "refs/heads/main"));
    assert!(selects(&all, "updated", "refs/heads/feature/x"));
    assert!(!selects(&all, "updated", "refs/tags/v1"), "a tag is no branch");
    let some = trigger(&["all"], &["main", "feature/x"]);
    assert!(selects(&some, "updated", "refs/heads/main"));
    assert!(selects(&some, "created", "refs/heads/feature/x"));
    assert!(!selects(&some, "updated", "refs/heads/mainline"));
    assert!(!selects(&some, "updated", "refs/heads/other"));
    assert!(!selects(&some, "updated", "main"), "a reference is named in full");
}

fn input(triggers: Value) -> Value {
    json!({ "repositoryName": "demo", "triggers": triggers })
}

fn code(result: Result<Vec<Value>, ApiError>) -> String {
    result.unwrap_err().code
}

#[test]
fn triggers_are_validated_as_the_model_says() {
    let ok = trigger(&["all"], &["main"]);
    assert_eq!(parse_triggers(&input(json!([ok.clone()]))).unwrap(), vec![ok.clone()]);
    assert_eq!(parse_triggers(&input(json!([]))).unwrap(), Vec::<Value>::new());
    let with = |field: &str, value: Value| {
        let mut it = ok.clone();
        if value.is_null() {
            it.as_object_mut().unwrap().remove(field);
        } else {
            it[field] = value;
        }
        input(json!([it]))
    };
    assert_eq!(
        code(parse_triggers(&json!({ "repositoryName": "demo" }))),
        "RepositoryTriggersListRequiredException"
    );
    let eleven: Vec<Value> =
        (0..11).map(|i| with("name", json!(format!("t{i}")))["triggers"][0].clone()).collect();
    assert_eq!(
        code(parse_triggers(&input(json!(eleven)))),
        "MaximumRepositoryTriggersExceededException"
    );
    let cases = [
        (with("name", Value::Null), "RepositoryTriggerNameRequiredException"),
        (with("name", json!("no spaces")), "InvalidRepositoryTriggerNameException"),
        (with("name", json!("x".repeat(101))), "InvalidRepositoryTriggerNameException"),
        (input(json!([ok, ok])), "InvalidRepositoryTriggerNameException"),
        (with("destinationArn", Value::Null), "RepositoryTriggerDestinationArnRequiredException"),
        (
            with("destinationArn", json!("arn:aws:sns:us-east-1:000000000000:topic")),
            "InvalidRepositoryTriggerDestinationArnException",
        ),
        (
            with("destinationArn", json!("ftp://host/x")),
            "InvalidRepositoryTriggerDestinationArnException",
        ),
        (
            with("customData", json!("x".repeat(1001))),
            "InvalidRepositoryTriggerCustomDataException",
        ),
        (with("branches", Value::Null), "RepositoryTriggerBranchNameListRequiredException"),
        (
            with("branches", json!((0..101).map(|i| format!("b{i}")).collect::<Vec<_>>())),
            "MaximumBranchesExceededException",
        ),
        (with("branches", json!([""])), "InvalidRepositoryTriggerBranchNameException"),
        (with("branches", json!(["x".repeat(257)])), "InvalidRepositoryTriggerBranchNameException"),
        (with("events", Value::Null), "RepositoryTriggerEventsListRequiredException"),
        (with("events", json!([])), "RepositoryTriggerEventsListRequiredException"),
        (with("events", json!(["push"])), "InvalidRepositoryTriggerEventsException"),
        (
            with("events", json!(["all", "createReference"])),
            "InvalidRepositoryTriggerEventsException",
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(code(parse_triggers(&input)), expected, "{input}");
    }
    let message =
        parse_triggers(&with("destinationArn", json!("arn:aws:sns:x"))).unwrap_err().message;
    assert!(message.contains("http://"), "{message}");
}

#[test]
fn the_notification_has_codecommits_shape() {
    let mut trigger = trigger(&["all"], &[]);
    trigger["customData"] = json!("data!");
    let change = Change {
        repository: "demo",
        reference: "refs/heads/main",
        commit: "abc",
        event: "created",
        user: "alice",
        time_ms: 1_454_976_491_743,
    };
    let body = notification_in("eu-west-3", "000000000000", &trigger, "cfg", &change);
    let record = &body["Records"][0];
    assert_eq!(body["Records"].as_array().unwrap().len(), 1);
    assert_eq!(record["eventSource"], "aws:codecommit");
    assert_eq!(record["eventName"], "ReferenceChanges");
    assert_eq!(record["eventSourceARN"], "arn:aws:codecommit:eu-west-3:000000000000:demo");
    assert_eq!(record["awsRegion"], "eu-west-3");
    assert_eq!(record["userIdentityARN"], "arn:aws:iam::000000000000:user/alice");
    assert_eq!(record["customData"], "data!");
    assert_eq!(record["eventTime"], "2016-02-09T00:08:11.743+0000");
    assert_eq!(record["eventTriggerName"], "t");
    assert_eq!(record["eventTriggerConfigId"], "cfg");
    assert_eq!(record["eventVersion"], "1.0");
    assert_eq!(
        record["codecommit"]["references"],
        json!([{ "ref": "refs/heads/main", "commit": "abc", "created": true }])
    );
    let deleted = Change { event: "deleted", ..change };
    let body = notification_in("r", "a", &trigger, "cfg", &deleted);
    assert_eq!(body["Records"][0]["codecommit"]["references"][0]["deleted"], true);
    assert!(body["Records"][0]["codecommit"]["references"][0].get("created").is_none());
}

#[test]
fn event_times_are_utc_with_milliseconds() {
    assert_eq!(event_time(0), "1970-01-01T00:00:00.000+0000");
    assert_eq!(event_time(951_782_400_001), "2000-02-29T00:00:00.001+0000");
    assert_eq!(event_time(1_767_225_599_999), "2025-12-31T23:59:59.999+0000");
}

#[test]
fn the_signature_is_the_bodys_hmac_sha256_under_the_secret() {
    let secret = "00ff".repeat(16);
    let body = br#"{"Records":[]}"#;
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(signature(&secret, body), expected);
    assert_ne!(signature("other", body), expected);
    assert_eq!(signature(&secret, body).len(), "sha256=".len() + 64);
}

#[test]
fn backoff_doubles_from_one_second() {
    let waits: Vec<u64> = (1..=MAX_ATTEMPTS).map(|it| backoff(it).as_secs()).collect();
    assert_eq!(waits, [0, 1, 2, 4, 8, 16]);
}

/// A server state on a temporary directory, with repository `demo`.
async fn demo() -> (Context, tempfile::TempDir) {
    let (ctx, dir) = crate::test_context("eu-west-3").await;
    let repository = Document {
        kind: "repository".to_owned(),
        key: "demo".to_owned(),
        parent: None,
        sort: 0,
        version: 0,
        body: json!({ "repositoryName": "demo" }),
    };
    ctx.store.apply(vec![Write::Insert(repository)]).await.unwrap();
    (ctx, dir)
}

async fn record_event(ctx: &Context, seq: i64, reference: &str, event: &str) {
    let document = Document {
        kind: "ref-event".to_owned(),
        key: format!("demo/{seq:012}"),
        parent: Some("demo".to_owned()),
        sort: seq,
        version: 0,
        body: json!({
            "repositoryName": "demo", "ref": reference, "oldCommit": "0".repeat(40),
            "newCommit": "1".repeat(40), "event": event, "user": "admin", "timeMs": 1,
        }),
    };
    ctx.store.apply(vec![Write::Insert(document)]).await.unwrap();
}

/// Answers every request 200 and sends (headers, body) of each to the channel.
async fn receiver() -> (String, tokio::sync::mpsc::UnboundedReceiver<(String, String)>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (send, receive) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut data = Vec::new();
            let mut buffer = [0u8; 4096];
            loop {
                let n = socket.read(&mut buffer).await.unwrap();
                data.extend_from_slice(&buffer[..n]);
                let text = String::from_utf8_lossy(&data).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|it| {
                            it.to_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if body.len() >= length || n == 0 {
                        send.send((head.to_lowercase(), body.to_owned())).unwrap();
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await;
        }
    });
    (url, receive)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_get_and_deliver() {
    let (ctx, _dir) = demo().await;
    // History before the triggers exist is not delivered.
    record_event(&ctx, 1, "refs/heads/main", "created").await;
    let (url, mut received) = receiver().await;
    let triggers = json!([{
        "name": "hook", "destinationArn": url, "customData": "cd",
        "branches": ["main"], "events": ["updateReference", "createReference"],
    }]);
    let put = put_json(&ctx, input(triggers.clone())).await.unwrap();
    let got = get_json(&ctx, json!({ "repositoryName": "demo" })).await.unwrap();
    assert_eq!(got, json!({ "configurationId": put["configurationId"], "triggers": triggers }));
    let key = secret(&ctx, "demo", "hook").await.unwrap().unwrap();
    assert_eq!(key.len(), 64);
    // Putting the same trigger again keeps its secret but makes a new configuration.
    let again = put_json(&ctx, input(triggers.clone())).await.unwrap();
    assert_ne!(again["configurationId"], put["configurationId"]);
    assert_eq!(secret(&ctx, "demo", "hook").await.unwrap().unwrap(), key);
    assert!(secret(&ctx, "demo", "other").await.unwrap().is_none());

    let missing = put_json(&ctx, json!({ "repositoryName": "nope", "triggers": [] }));
    assert_eq!(missing.await.unwrap_err().code, "RepositoryDoesNotExistException");
    let unnamed = get_json(&ctx, json!({}));
    assert_eq!(unnamed.await.unwrap_err().code, "RepositoryNameRequiredException");

    record_event(&ctx, 2, "refs/heads/other", "updated").await;
    record_event(&ctx, 3, "refs/heads/main", "deleted").await;
    record_event(&ctx, 4, "refs/heads/main", "updated").await;
    let limiter = Arc::new(Semaphore::new(CONCURRENCY));
    scan(&ctx, &limiter).await.unwrap();
    // A second scan finds nothing new.
    scan(&ctx, &limiter).await.unwrap();
    let (head, body) =
        tokio::time::timeout(Duration::from_secs(10), received.recv()).await.unwrap().unwrap();
    assert!(head.contains(&format!("x-slipway-signature: {}", signature(&key, body.as_bytes()))));
    assert!(head.contains("x-slipway-delivery: demo/000000000004/hook"));
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["Records"][0]["codecommit"]["references"][0]["ref"], "refs/heads/main");
    assert_eq!(body["Records"][0]["eventTriggerConfigId"], again["configurationId"]);
    assert!(tokio::time::timeout(Duration::from_millis(500), received.recv()).await.is_err());

    // The delivery is recorded as done and is no longer pending.
    let mut delivery = None;
    for _ in 0..50 {
        let document =
            ctx.store.get(TRIGGER_DELIVERY, "demo/000000000004/hook").await.unwrap().unwrap();
        if document.body["status"] != "PENDING" {
            delivery = Some(document);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let delivery = delivery.unwrap();
    assert_eq!(delivery.body["status"], "SUCCEEDED");
    assert_eq!(delivery.body["attempts"], 1);
    assert_eq!(delivery.body["lastHttpStatus"], 200);
    let pending = ListQuery {
        kind: TRIGGER_DELIVERY.to_owned(),
        parent: Some(PENDING.to_owned()),
        descending: false,
        after: None,
        limit: 10,
    };
    assert!(ctx.store.list(&pending).await.unwrap().documents.is_empty());

    // TestRepositoryTriggers: a live receiver succeeds, a closed port fails.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook", listener.local_addr().unwrap())
    };
    let tested = test_json(
        &ctx,
        input(json!([
            { "name": "hook", "destinationArn": url, "branches": [], "events": ["all"] },
            { "name": "dead", "destinationArn": closed, "branches": [], "events": ["all"] },
        ])),
    )
    .await
    .unwrap();
    assert_eq!(tested["successfulExecutions"], json!(["hook"]));
    assert_eq!(tested["failedExecutions"][0]["trigger"], "dead");
    let (head, body) = received.recv().await.unwrap();
    assert!(head.contains(&format!("x-slipway-signature: {}", signature(&key, body.as_bytes()))));
}
