//! Tests of chunks: events come back as they went in, in order, and the summary names each
//! user and access key once.

use engine::kinds;
use engine::store::Write;

use crate::chunk::{Chunk, ChunkError, Gathering, LastUsed};
use crate::testing::call;

#[test]
fn a_chunk_gives_back_its_events_in_order_with_a_summary() {
    let mut gathering = Gathering::default();
    let mut texts = Vec::new();
    for (time, user) in [(3000, "alice"), (1000, "bob"), (2000, "alice")] {
        let mut event = call(time, &format!("Op{time}"), user, "web");
        // A line break in a value stays inside its line.
        event.user_agent = "agent\nwith a line break".to_owned();
        gathering.push_event(&event).unwrap();
        texts.push(serde_json::to_string(&event).unwrap());
    }
    assert_eq!(gathering.len(), 3);
    let chunk = gathering.chunk();
    assert_eq!(chunk.count, 3);
    assert_eq!((chunk.first_time, chunk.last_time), (1000, 3000));
    assert_eq!(chunk.user_names, ["alice", "bob"]);
    assert_eq!(chunk.access_key_ids, ["AKIAEXAMPLE"]);
    assert!(chunk.may_have_user("bob") && !chunk.may_have_user("carol"));
    assert!(chunk.may_have_access_key("AKIAEXAMPLE") && !chunk.may_have_access_key("AKIAOTHER"));
    assert_eq!(chunk.texts().unwrap(), texts);
    // Through the store's JSON body and back.
    let body = serde_json::to_value(&chunk).unwrap();
    let again = Chunk::from_body(body).unwrap();
    assert_eq!(again, chunk);
    // Deflated: far smaller than the texts.
    let size: usize = texts.iter().map(String::len).sum();
    assert!(chunk.events.len() < size, "{} of {size}", chunk.events.len());
}

#[test]
fn a_broken_chunk_is_an_error_not_a_panic() {
    let mut gathering = Gathering::default();
    gathering.push_event(&call(1, "Op", "alice", "web")).unwrap();
    let chunk = gathering.chunk();
    let not_base64 = Chunk { events: "***".to_owned(), ..chunk.clone() };
    assert!(matches!(not_base64.texts(), Err(ChunkError::Base64)));
    let not_deflate = Chunk { events: awsapi::base64::encode(b"plain"), ..chunk };
    assert!(matches!(not_deflate.texts(), Err(ChunkError::Inflate(_))));
    let body = serde_json::json!({ "count": "many" });
    assert!(matches!(Chunk::from_body(body), Err(ChunkError::Body(_))));
}

/// The chunk's writes: the chunk, then each access key's newest use among its events.
#[test]
fn a_chunk_writes_each_access_key_s_newest_use() {
    let mut gathering = Gathering::default();
    let mut late = call(3000, "StartBuild", "alice", "web");
    late.event_source = "codecommit.amazonaws.com".to_owned();
    gathering.push_event(&late).unwrap();
    // An older event recorded after it does not take its place.
    gathering.push_event(&call(1000, "StopBuild", "alice", "web")).unwrap();
    let writes = gathering.writes().unwrap();
    assert_eq!(writes.len(), 2);
    let Write::Put(document) = &writes[1] else { panic!("{:?}", writes[1]) };
    assert_eq!(
        (document.kind.as_str(), document.key.as_str()),
        (kinds::ACCESS_KEY_LAST_USED, "AKIAEXAMPLE")
    );
    let used: LastUsed = serde_json::from_value(document.body.clone()).unwrap();
    let expected = LastUsed {
        time_ms: 3000,
        event_source: "codecommit.amazonaws.com".to_owned(),
        region: "us-east-1".to_owned(),
    };
    assert_eq!(used, expected);
}
