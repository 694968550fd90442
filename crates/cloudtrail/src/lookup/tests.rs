//! Tests of LookupEvents: filters, time ranges, paging, newest first, the model's errors.

use awsapi::json::typed;
use serde_json::{Value, json};

use crate::lookup::{LookupEventsOutput, Search, find, lookup_events};
use crate::testing::{call, store_events, test_store};

async fn lookup(store: &engine::store::Store, input: Value) -> Result<LookupEventsOutput, String> {
    lookup_events(store, typed(input).unwrap()).await.map_err(|err| err.code)
}

fn names(output: &LookupEventsOutput) -> Vec<&str> {
    output.events.iter().map(|it| it.event_name.as_str()).collect()
}

#[tokio::test]
async fn events_come_newest_first_with_their_summary() {
    let (store, _dir) = test_store().await;
    let first = call(1_000_000, "CreateProject", "alice", "web");
    let second = call(2_000_000, "StartBuild", "bob", "web");
    store_events(&store, &[first, second.clone()]).await;
    let output = lookup(&store, json!({})).await.unwrap();
    assert_eq!(names(&output), ["StartBuild", "CreateProject"]);
    assert_eq!(output.next_token, None);
    let summary = &output.events[0];
    assert_eq!(summary.event_id, second.event_id);
    assert_eq!(summary.read_only, "false");
    assert_eq!(summary.username.as_deref(), Some("bob"));
    assert_eq!(summary.access_key_id.as_deref(), Some("AKIAEXAMPLE"));
    assert_eq!(summary.event_time, 2000.0);
    assert_eq!(summary.event_source, "codebuild.amazonaws.com");
    assert_eq!(summary.resources.len(), 1);
    assert_eq!(summary.resources[0].resource_type, "AWS::CodeBuild::Project");
    let record: Value = serde_json::from_str(&summary.cloud_trail_event).unwrap();
    assert_eq!(record["eventName"], "StartBuild");
    assert_eq!(record["eventID"], second.event_id.as_str());
    // The answer's JSON names are the model's.
    let answer = serde_json::to_value(&output).unwrap();
    let item = &answer["Events"][0];
    for member in [
        "EventId",
        "EventName",
        "ReadOnly",
        "AccessKeyId",
        "EventTime",
        "EventSource",
        "Username",
        "Resources",
        "CloudTrailEvent",
    ] {
        assert!(item.get(member).is_some(), "{member} missing from {item}");
    }
    assert_eq!(
        item["Resources"][0]["ResourceName"],
        "arn:aws:codebuild:us-east-1:000000000000:project/web"
    );
}

#[tokio::test]
async fn each_lookup_attribute_filters() {
    let (store, _dir) = test_store().await;
    let events = [
        call(1000, "CreateProject", "alice", "web"),
        call(2000, "BatchGetBuilds", "bob", "api"),
        call(3000, "StartBuild", "alice", "api"),
    ];
    store_events(&store, &events).await;
    let cases = [
        ("EventName", "StartBuild".to_owned(), vec!["StartBuild"]),
        ("Username", "alice".to_owned(), vec!["StartBuild", "CreateProject"]),
        ("ReadOnly", "true".to_owned(), vec!["BatchGetBuilds"]),
        ("ReadOnly", "false".to_owned(), vec!["StartBuild", "CreateProject"]),
        ("EventId", events[0].event_id.clone(), vec!["CreateProject"]),
        (
            "EventSource",
            "codebuild.amazonaws.com".to_owned(),
            vec!["StartBuild", "BatchGetBuilds", "CreateProject"],
        ),
        ("EventSource", "codecommit.amazonaws.com".to_owned(), vec![]),
        (
            "AccessKeyId",
            "AKIAEXAMPLE".to_owned(),
            vec!["StartBuild", "BatchGetBuilds", "CreateProject"],
        ),
        (
            "ResourceType",
            "AWS::CodeBuild::Project".to_owned(),
            vec!["StartBuild", "BatchGetBuilds", "CreateProject"],
        ),
        (
            "ResourceName",
            "arn:aws:codebuild:us-east-1:000000000000:project/api".to_owned(),
            vec!["StartBuild", "BatchGetBuilds"],
        ),
    ];
    for (key, value, expected) in cases {
        let input =
            json!({ "LookupAttributes": [{ "AttributeKey": key, "AttributeValue": value }] });
        let output = lookup(&store, input).await.unwrap();
        assert_eq!(names(&output), expected, "{key} = {value}");
    }
}

#[tokio::test]
async fn time_ranges_include_both_ends() {
    let (store, _dir) = test_store().await;
    let events: Vec<_> =
        (1..=5).map(|second| call(second * 1000, &format!("Op{second}"), "alice", "web")).collect();
    store_events(&store, &events).await;
    let output = lookup(&store, json!({ "StartTime": 2, "EndTime": 4.0 })).await.unwrap();
    assert_eq!(names(&output), ["Op4", "Op3", "Op2"]);
    let output = lookup(&store, json!({ "StartTime": 4 })).await.unwrap();
    assert_eq!(names(&output), ["Op5", "Op4"]);
    let output = lookup(&store, json!({ "EndTime": 1 })).await.unwrap();
    assert_eq!(names(&output), ["Op1"]);
}

#[tokio::test]
async fn pages_follow_next_tokens_and_a_token_is_bound_to_its_search() {
    let (store, _dir) = test_store().await;
    let events: Vec<_> =
        (1..=7).map(|index| call(index * 1000, &format!("Op{index}"), "alice", "web")).collect();
    store_events(&store, &events).await;
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut input = json!({ "MaxResults": 3 });
        if let Some(token) = &token {
            input["NextToken"] = json!(token);
        }
        let output = lookup(&store, input).await.unwrap();
        assert!(output.events.len() <= 3);
        seen.extend(output.events.iter().map(|it| it.event_name.clone()));
        pages += 1;
        match output.next_token {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ["Op7", "Op6", "Op5", "Op4", "Op3", "Op2", "Op1"]);
    assert!(pages >= 3);
    // A token from one search is refused by another, and a made-up one too.
    let first = lookup(&store, json!({ "MaxResults": 3 })).await.unwrap();
    let token = first.next_token.unwrap();
    let other = json!({
        "MaxResults": 3,
        "NextToken": token,
        "LookupAttributes": [{ "AttributeKey": "Username", "AttributeValue": "alice" }],
    });
    assert_eq!(lookup(&store, other).await.unwrap_err(), "InvalidNextTokenException");
    let made_up = json!({ "NextToken": "not-a-token" });
    assert_eq!(lookup(&store, made_up).await.unwrap_err(), "InvalidNextTokenException");
}

/// Pages cross chunks and stop inside them; a chunk without the user searched for is skipped
/// unread, and a chunk that cannot be read is passed over.
#[tokio::test]
async fn pages_cross_chunks_and_skip_those_that_cannot_match() {
    let (store, _dir) = test_store().await;
    // Three chunks of four events; bob made every third, except in the middle chunk, which
    // is all alice's.
    for range in [1..=4, 5..=8, 9..=12] {
        let events: Vec<_> = range
            .map(|index| {
                let bob = index % 3 == 0 && !(5..=8).contains(&index);
                let who = if bob { "bob" } else { "alice" };
                call(index * 1000, &format!("Op{index}"), who, "web")
            })
            .collect();
        store_events(&store, &events).await;
    }
    let broken = engine::store::Write::Insert(engine::store::Document {
        kind: engine::kinds::CLOUDTRAIL_CHUNK.to_owned(),
        key: "zz-broken".to_owned(),
        parent: None,
        sort: 99,
        version: 0,
        body: json!({ "count": "many" }),
    });
    store.apply(vec![broken]).await.unwrap();
    let all_pages = |search: Value| {
        let store = store.clone();
        async move {
            let (mut seen, mut token) = (Vec::new(), None::<String>);
            loop {
                let mut input = search.clone();
                input["MaxResults"] = json!(3);
                if let Some(token) = &token {
                    input["NextToken"] = json!(token);
                }
                let output = lookup(&store, input).await.unwrap();
                seen.extend(output.events.iter().map(|it| it.event_name.clone()));
                match output.next_token {
                    Some(next) => token = Some(next),
                    None => return seen,
                }
            }
        }
    };
    let expected: Vec<String> = (1..=12).rev().map(|index| format!("Op{index}")).collect();
    assert_eq!(all_pages(json!({})).await, expected);
    let bob =
        json!({ "LookupAttributes": [{ "AttributeKey": "Username", "AttributeValue": "bob" }] });
    assert_eq!(all_pages(bob).await, ["Op12", "Op9", "Op3"]);
    // A time range inside the middle chunk.
    let range = json!({ "StartTime": 6.0, "EndTime": 7.0 });
    assert_eq!(all_pages(range).await, ["Op7", "Op6"]);
    // The same search through `find`, five at a time.
    let page = find(&store, &Search::default(), None, 5).await.unwrap();
    let names: Vec<&str> = page.events.iter().map(|it| it.event_name.as_str()).collect();
    assert_eq!(names, ["Op12", "Op11", "Op10", "Op9", "Op8"]);
}

#[tokio::test]
async fn invalid_inputs_answer_the_models_errors() {
    let (store, _dir) = test_store().await;
    let two = json!({ "LookupAttributes": [
        { "AttributeKey": "Username", "AttributeValue": "a" },
        { "AttributeKey": "EventName", "AttributeValue": "b" },
    ] });
    let cases = [
        (two, "InvalidLookupAttributesException"),
        (
            json!({ "LookupAttributes": [{ "AttributeKey": "Colour", "AttributeValue": "a" }] }),
            "InvalidLookupAttributesException",
        ),
        (
            json!({ "LookupAttributes": [{ "AttributeKey": "Username", "AttributeValue": "" }] }),
            "InvalidLookupAttributesException",
        ),
        (json!({ "StartTime": 10, "EndTime": 5 }), "InvalidTimeRangeException"),
        (json!({ "StartTime": 1e300 }), "InvalidTimeRangeException"),
        (json!({ "MaxResults": 0 }), "InvalidMaxResultsException"),
        (json!({ "MaxResults": 51 }), "InvalidMaxResultsException"),
        (json!({ "EventCategory": "data" }), "InvalidEventCategoryException"),
    ];
    for (input, code) in cases {
        assert_eq!(lookup(&store, input.clone()).await.unwrap_err(), code, "{input}");
    }
    let output =
        lookup(&store, json!({ "MaxResults": 50, "EventCategory": "insight" })).await.unwrap();
    assert!(output.events.is_empty());
}

#[tokio::test]
async fn a_search_with_several_attributes_needs_them_all() {
    let (store, _dir) = test_store().await;
    let events = [
        call(1000, "StartBuild", "alice", "web"),
        call(2000, "StartBuild", "bob", "web"),
        call(3000, "StopBuild", "alice", "web"),
    ];
    store_events(&store, &events).await;
    let search = Search {
        attributes: vec![
            ("Username".to_owned(), "alice".to_owned()),
            ("EventName".to_owned(), "StartBuild".to_owned()),
        ],
        ..Search::default()
    };
    let found = find(&store, &search, None, 10).await.unwrap();
    assert_eq!(found.events.len(), 1);
    assert_eq!(found.events[0].event_id, events[0].event_id);
    assert_eq!(found.next, None);
}

/// CloudTrail's `Username` of a role's session is the session's name (as the CLI's
/// `lookup-events` example shows, `"Username": "my-session-name"`), and a lookup by that name
/// finds its events; an IAM user's is the user's name.
#[tokio::test]
async fn a_role_sessions_username_is_its_session_name() {
    let (store, _dir) = test_store().await;
    let mut session = call(1_000_000, "StartBuild", "ignored", "web");
    session.user_identity = crate::event::UserIdentity {
        identity_type: "AssumedRole".to_owned(),
        principal_id: Some("AROAEXAMPLEROLEID0000:deploy-1".to_owned()),
        arn: Some("arn:aws:sts::000000000000:assumed-role/deployer/deploy-1".to_owned()),
        account_id: Some("000000000000".to_owned()),
        access_key_id: Some("ASIAEXAMPLE".to_owned()),
        user_name: None,
        session_context: None,
    };
    let user = call(2_000_000, "CreateProject", "alice", "web");
    store_events(&store, &[session, user]).await;
    let output = lookup(&store, json!({})).await.unwrap();
    let usernames: Vec<Option<&str>> =
        output.events.iter().map(|it| it.username.as_deref()).collect();
    assert_eq!(usernames, [Some("alice"), Some("deploy-1")]);
    for (name, expected) in [("deploy-1", "StartBuild"), ("alice", "CreateProject")] {
        let by_name = json!({
            "LookupAttributes": [{ "AttributeKey": "Username", "AttributeValue": name }],
        });
        assert_eq!(names(&lookup(&store, by_name).await.unwrap()), [expected], "{name}");
    }
    // The role's name is no user name of the trail.
    let by_role = json!({
        "LookupAttributes": [{ "AttributeKey": "Username", "AttributeValue": "deployer" }],
    });
    assert!(lookup(&store, by_role).await.unwrap().events.is_empty());
}
