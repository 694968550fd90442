//! What the crate's unit tests share: a store on a fresh temporary directory and events made
//! to order.

use engine::store::Store;
use serde_json::json;

use crate::chunk::{Chunk, Gathering};
use crate::event::{Event, Request, Resource, UserIdentity};

pub(crate) const REGION: &str = "us-east-1";
pub(crate) const ACCOUNT: &str = "000000000000";

/// A SQLite store in a new temporary directory, which lives as long as the returned guard.
pub(crate) async fn test_store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Store::connect(&format!("sqlite:{}", dir.path().join("state.db").display())).await.unwrap();
    (store, dir)
}

/// A CodeBuild call `name` by `user` at `time_ms`, naming the project `project`.
pub(crate) fn call(time_ms: i64, name: &str, user: &str, project: &str) -> Event {
    let mut request = Request::api_call(
        time_ms,
        "codebuild.amazonaws.com",
        name,
        UserIdentity::iam_user(ACCOUNT, user, "AIDAEXAMPLEUSERID0000", "AKIAEXAMPLE"),
    );
    request.parameters = Some(json!({ "name": project }));
    request.resources =
        Resource::from_arn(&format!("arn:aws:codebuild:{REGION}:{ACCOUNT}:project/{project}"))
            .into_iter()
            .collect();
    request.source_ip = "192.0.2.1".to_owned();
    request.user_agent = "aws-cli/2".to_owned();
    Event::new(REGION, ACCOUNT, request)
}

/// Writes `events` to the store as one chunk, in order.
pub(crate) async fn store_events(store: &Store, events: &[Event]) {
    let mut chunk = Gathering::default();
    for event in events {
        chunk.push_event(event).unwrap();
    }
    store.apply(chunk.writes().unwrap()).await.unwrap();
}

/// The events the store's chunks hold, in the order they were written, with each chunk's
/// number beside its events.
pub(crate) async fn stored_events(store: &Store) -> Vec<(i64, Event)> {
    let chunks = store.list_all(engine::kinds::CLOUDTRAIL_CHUNK, None).await.unwrap();
    let mut events = Vec::new();
    for document in chunks {
        for text in Chunk::from_body(document.body).unwrap().texts().unwrap() {
            events.push((document.sort, serde_json::from_str(&text).unwrap()));
        }
    }
    events
}
