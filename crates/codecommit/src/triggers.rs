//! CodeCommit repository triggers, delivered as signed HTTP(S) POSTs.
//!
//! `PutRepositoryTriggers` replaces a repository's trigger list (document `repository-triggers`,
//! key = repository); `GetRepositoryTriggers` returns it; `TestRepositoryTriggers` sends one
//! test notification to each given trigger and reports which answered 2xx. AWS sends to SNS
//! topics and Lambda functions, which mean nothing here: a trigger's `destinationArn` is an
//! `http://` or `https://` URL that receives CodeCommit's notification JSON as a POST.
//!
//! **The secret design.** Every trigger gets a random 32-byte secret (64 hex digits) the first
//! time a trigger of that name is put on the repository; later puts of the same name keep it,
//! removing the trigger forgets it. It is stored sealed with the installation key
//! ([`iam::crypto::SecretBox`]) in the same document, and never returned by the AWS API
//! (AWS has no field for it). Its receiver learns it from the administrator, through
//! `server::Server::trigger_secret` (the `slipway trigger-secret REPO TRIGGER` command). Each
//! delivery carries `X-Slipway-Signature: sha256=<hex HMAC-SHA256 of the raw body>`, keyed
//! with the secret's 64 hex characters as ASCII bytes (as GitHub-style webhook receivers
//! expect), and `X-Slipway-Delivery: <delivery key>` to recognise redeliveries.
//!
//! **Delivery.** [`deliver_forever`] wakes on every push (`Context::ref_events`) or each
//! second, and reads each repository's `ref-event` documents past its `trigger-cursor`. For
//! every event and every trigger selecting it, a `trigger-delivery` document (key
//! `<repo>/<seq>/<trigger>`) is created in the same transaction that advances the cursor, so an
//! event is neither delivered twice nor lost across restarts. Each delivery then runs in its
//! own task: up to [`MAX_ATTEMPTS`] POSTs, [`TIMEOUT`] each, backing off 1 s, 2 s, 4 s …
//! between them, recording every outcome; at most [`CONCURRENCY`] requests are in flight.
//! A pending delivery's document has the parent [`PENDING`], so that a restarted server finds
//! and resumes exactly the unfinished ones without reading every delivery ever made.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use engine::store::{Document, ListQuery, StoreError, Write};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::Context;
use awsapi::ApiError;
use awsapi::sigv4::hmac;
use engine::kinds::{REPOSITORY, REPOSITORY_TRIGGERS, TRIGGER_CURSOR, TRIGGER_DELIVERY};

/// The parent of pending deliveries: `*` is in no repository name, so it names none.
const PENDING: &str = "*pending";

const MAX_TRIGGERS: usize = 10;
const MAX_BRANCHES: usize = 100;
const MAX_CUSTOM_DATA: usize = 1000;
pub(crate) const MAX_ATTEMPTS: u32 = 6;
pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);
pub(crate) const CONCURRENCY: usize = 8;
/// Events read per store round trip by the delivery loop.
const EVENT_PAGE: i64 = 100;

const EVENTS: [&str; 4] = ["all", "updateReference", "createReference", "deleteReference"];

fn error(code: &str, message: impl Into<String>) -> ApiError {
    ApiError::client(code, message)
}

// ---------------------------------------------------------------------------------------------
// The API.

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutRepositoryTriggersInput {
    pub repository_name: Option<String>,
    /// Each a `RepositoryTrigger`, checked member by member with CodeCommit's own errors.
    pub triggers: Option<Vec<Value>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PutRepositoryTriggersOutput {
    pub configuration_id: String,
}

pub async fn put_repository_triggers(
    ctx: &Context,
    input: PutRepositoryTriggersInput,
) -> Result<PutRepositoryTriggersOutput, ApiError> {
    let repo = existing_repository(ctx, input.repository_name.as_deref()).await?;
    let triggers = check_triggers(input.triggers.as_deref())?;
    // Optimistic concurrency: two puts at once must not mix their secrets.
    for _ in 0..5 {
        let previous = ctx.store.get(REPOSITORY_TRIGGERS, &repo).await?;
        let old_secrets = previous
            .as_ref()
            .and_then(|it| it.body.get("secrets").and_then(Value::as_object).cloned())
            .unwrap_or_default();
        let mut secrets = serde_json::Map::new();
        for trigger in &triggers {
            let name = trigger["name"].as_str().unwrap_or_default();
            let sealed = match old_secrets.get(name) {
                Some(sealed) => sealed.clone(),
                None => json!(ctx.sealer.seal(&new_secret())),
            };
            secrets.insert(name.to_owned(), sealed);
        }
        let configuration_id = uuid::Uuid::new_v4().to_string();
        let document = Document {
            kind: REPOSITORY_TRIGGERS.to_owned(),
            key: repo.clone(),
            parent: None,
            sort: 0,
            version: 0,
            body: json!({
                "configurationId": configuration_id,
                "triggers": triggers,
                "secrets": secrets,
            }),
        };
        let mut writes = vec![match &previous {
            Some(previous) => Write::Update { document, expected_version: previous.version },
            None => Write::Insert(document),
        }];
        // Triggers fire for pushes after they exist, not for the repository's history.
        if ctx.store.get(TRIGGER_CURSOR, &repo).await?.is_none() {
            let latest = crate::refs::latest_event(ctx, &repo).await?;
            writes.push(Write::Insert(cursor_document(&repo, latest)));
        }
        match ctx.store.apply(writes).await {
            Ok(()) => return Ok(PutRepositoryTriggersOutput { configuration_id }),
            Err(StoreError::Conflict { .. } | StoreError::AlreadyExists { .. }) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(ApiError::internal(format!("the triggers of {repo} keep changing concurrently")))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetRepositoryTriggersInput {
    pub repository_name: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetRepositoryTriggersOutput {
    /// Absent while the repository has never had triggers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration_id: Option<Value>,
    /// The triggers as they are stored (each a checked `RepositoryTrigger`).
    pub triggers: Value,
}

pub async fn get_repository_triggers(
    ctx: &Context,
    input: GetRepositoryTriggersInput,
) -> Result<GetRepositoryTriggersOutput, ApiError> {
    let repo = existing_repository(ctx, input.repository_name.as_deref()).await?;
    Ok(match ctx.store.get(REPOSITORY_TRIGGERS, &repo).await? {
        Some(document) => GetRepositoryTriggersOutput {
            configuration_id: Some(document.body["configurationId"].clone()),
            triggers: document.body["triggers"].clone(),
        },
        None => GetRepositoryTriggersOutput { configuration_id: None, triggers: json!([]) },
    })
}

pub type TestRepositoryTriggersInput = PutRepositoryTriggersInput;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestRepositoryTriggersOutput {
    pub successful_executions: Vec<String>,
    pub failed_executions: Vec<RepositoryTriggerExecutionFailure>,
}

/// A trigger whose test notification failed, and why.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryTriggerExecutionFailure {
    pub trigger: String,
    pub failure_message: String,
}

pub async fn test_repository_triggers(
    ctx: &Context,
    input: TestRepositoryTriggersInput,
    now: i64,
) -> Result<TestRepositoryTriggersOutput, ApiError> {
    let repo = existing_repository(ctx, input.repository_name.as_deref()).await?;
    let triggers = check_triggers(input.triggers.as_deref())?;
    let stored = ctx.store.get(REPOSITORY_TRIGGERS, &repo).await?;
    let configuration_id = stored
        .as_ref()
        .and_then(|it| it.body["configurationId"].as_str())
        .unwrap_or_default()
        .to_owned();
    let sends = triggers.iter().map(|trigger| {
        let name = trigger["name"].as_str().unwrap_or_default().to_owned();
        // A stored trigger signs with its own secret, so its receiver can check the whole
        // path; an unsaved one with a throwaway secret (it has no receiver-known secret yet).
        let secret = stored
            .as_ref()
            .and_then(|it| it.body["secrets"][name.as_str()].as_str())
            .and_then(|sealed| ctx.sealer.open(sealed).ok())
            .unwrap_or_else(new_secret);
        let change = Change {
            repository: &repo,
            reference: &test_reference(trigger),
            commit: "0000000000000000000000000000000000000000",
            event: "updated",
            user: "slipway-test",
            time_ms: now,
        };
        let body = notification(ctx, trigger, &configuration_id, &change).to_string();
        let url = trigger["destinationArn"].as_str().unwrap_or_default().to_owned();
        let delivery = format!("test/{}", uuid::Uuid::new_v4());
        async move {
            let outcome = post(&url, &secret, &delivery, body).await;
            (name, outcome)
        }
    });
    let mut successful = Vec::new();
    let mut failed = Vec::new();
    for (name, outcome) in futures::future::join_all(sends).await {
        match outcome {
            Attempt { error: None, .. } => successful.push(name),
            Attempt { error: Some(message), .. } => {
                failed.push(RepositoryTriggerExecutionFailure {
                    trigger: name,
                    failure_message: message,
                });
            }
        }
    }
    Ok(TestRepositoryTriggersOutput {
        successful_executions: successful,
        failed_executions: failed,
    })
}

/// Why a trigger's secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// The sealed secret does not open with this installation's key.
    #[error("{0}")]
    Crypto(String),
}

/// The trigger's signing secret, for its receiver (see the module documentation).
pub async fn secret(
    ctx: &Context,
    repository: &str,
    trigger: &str,
) -> Result<Option<String>, SecretError> {
    let Some(document) = ctx.store.get(REPOSITORY_TRIGGERS, repository).await? else {
        return Ok(None);
    };
    let Some(sealed) = document.body["secrets"][trigger].as_str() else { return Ok(None) };
    let secret = ctx.sealer.open(sealed).map_err(|it| SecretError::Crypto(it.to_string()))?;
    Ok(Some(secret))
}

/// The repository named by `repositoryName`, which must exist.
async fn existing_repository(ctx: &Context, name: Option<&str>) -> Result<String, ApiError> {
    let name = name.filter(|it| !it.is_empty()).ok_or_else(|| {
        error(
            "RepositoryNameRequiredException",
            "A repository name is required, but was not specified.",
        )
    })?;
    let valid = name.len() <= 100
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-');
    if !valid {
        return Err(error(
            "InvalidRepositoryNameException",
            format!("The repository name {name} is not valid."),
        ));
    }
    if ctx.store.get(REPOSITORY, name).await?.is_none() {
        return Err(error("RepositoryDoesNotExistException", format!("{name} does not exist")));
    }
    Ok(name.to_owned())
}

/// Checks `triggers` as CodeCommit does (plus: destinations are HTTP(S) URLs) and returns
/// them as they are stored and returned: the five fields of `RepositoryTrigger`, nothing else.
fn check_triggers(list: Option<&[Value]>) -> Result<Vec<Value>, ApiError> {
    let list = list.ok_or_else(|| {
        error("RepositoryTriggersListRequiredException", "The list of triggers is required.")
    })?;
    if list.len() > MAX_TRIGGERS {
        return Err(error(
            "MaximumRepositoryTriggersExceededException",
            format!("A repository has at most {MAX_TRIGGERS} triggers."),
        ));
    }
    let mut names = std::collections::BTreeSet::new();
    list.iter()
        .map(|trigger| {
            let trigger = parse_trigger(trigger)?;
            let name = trigger["name"].as_str().unwrap_or_default().to_owned();
            if !names.insert(name.clone()) {
                return Err(error(
                    "InvalidRepositoryTriggerNameException",
                    format!("The trigger name {name} is used twice."),
                ));
            }
            Ok(trigger)
        })
        .collect()
}

fn parse_trigger(trigger: &Value) -> Result<Value, ApiError> {
    let name = trigger.get("name").and_then(Value::as_str).filter(|it| !it.is_empty()).ok_or_else(
        || error("RepositoryTriggerNameRequiredException", "A name for the trigger is required."),
    )?;
    let valid_name = name.len() <= 100
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-');
    if !valid_name {
        return Err(error(
            "InvalidRepositoryTriggerNameException",
            format!(
                "The trigger name {name} is not valid: use 1 to 100 letters, digits, periods, underscores and dashes."
            ),
        ));
    }
    let destination = trigger
        .get("destinationArn")
        .and_then(Value::as_str)
        .filter(|it| !it.is_empty())
        .ok_or_else(|| {
            error(
                "RepositoryTriggerDestinationArnRequiredException",
                "A destination for the trigger is required.",
            )
        })?;
    if !is_http_url(destination) {
        return Err(error(
            "InvalidRepositoryTriggerDestinationArnException",
            format!(
                "The destination {destination} of trigger {name} is not valid: Slipway delivers trigger notifications as HTTP POSTs to http:// or https:// URLs, not to SNS topics or Lambda functions."
            ),
        ));
    }
    let custom_data = match trigger.get("customData") {
        None | Some(Value::Null) => None,
        Some(Value::String(data)) if data.chars().count() <= MAX_CUSTOM_DATA => Some(data),
        Some(_) => {
            return Err(error(
                "InvalidRepositoryTriggerCustomDataException",
                format!(
                    "The custom data of a trigger is a string of at most {MAX_CUSTOM_DATA} characters."
                ),
            ));
        }
    };
    let branches = trigger.get("branches").and_then(Value::as_array).ok_or_else(|| {
        error(
            "RepositoryTriggerBranchNameListRequiredException",
            "The list of branches is required (an empty list selects all branches).",
        )
    })?;
    if branches.len() > MAX_BRANCHES {
        return Err(error(
            "MaximumBranchesExceededException",
            format!("A trigger selects at most {MAX_BRANCHES} branches."),
        ));
    }
    for branch in branches {
        let valid = branch.as_str().is_some_and(|it| {
            (1..=256).contains(&it.len()) && !it.starts_with("refs/") && !it.contains(['\0', ' '])
        });
        if !valid {
            return Err(error(
                "InvalidRepositoryTriggerBranchNameException",
                format!(
                    "The branch name {branch} is not valid: give branch names without refs/heads/."
                ),
            ));
        }
    }
    let events = trigger.get("events").and_then(Value::as_array).filter(|it| !it.is_empty());
    let events = events.ok_or_else(|| {
        error("RepositoryTriggerEventsListRequiredException", "At least one event is required.")
    })?;
    let known = events.iter().all(|it| it.as_str().is_some_and(|it| EVENTS.contains(&it)));
    if !known || (events.len() > 1 && events.iter().any(|it| it == "all")) {
        return Err(error(
            "InvalidRepositoryTriggerEventsException",
            "The events are not valid: give all alone, or some of updateReference, createReference and deleteReference.",
        ));
    }
    let mut stored = json!({
        "name": name,
        "destinationArn": destination,
        "branches": branches,
        "events": events,
    });
    if let Some(data) = custom_data {
        stored["customData"] = json!(data);
    }
    Ok(stored)
}

fn is_http_url(text: &str) -> bool {
    let rest = text.strip_prefix("http://").or_else(|| text.strip_prefix("https://"));
    rest.is_some_and(|it| {
        let host = it.split(['/', '?', '#']).next().unwrap_or_default();
        !host.is_empty() && !it.contains(char::is_whitespace)
    })
}

/// The reference a test notification names: the trigger's first branch, or `main`.
fn test_reference(trigger: &Value) -> String {
    let branch = trigger["branches"].get(0).and_then(Value::as_str).unwrap_or("main");
    format!("refs/heads/{branch}")
}

fn new_secret() -> String {
    hex::encode(iam::crypto::random_bytes(32))
}

// ---------------------------------------------------------------------------------------------
// Selection, notifications and signatures.

/// One reference change, as a `ref-event` document records it.
pub(crate) struct Change<'a> {
    pub repository: &'a str,
    pub reference: &'a str,
    pub commit: &'a str,
    /// `created`, `updated` or `deleted`.
    pub event: &'a str,
    pub user: &'a str,
    pub time_ms: i64,
}

/// Whether `trigger` fires for `event` (`created`/`updated`/`deleted`) on `reference`.
pub(crate) fn selects(trigger: &Value, event: &str, reference: &str) -> bool {
    let wanted = match event {
        "created" => "createReference",
        "updated" => "updateReference",
        "deleted" => "deleteReference",
        _ => return false,
    };
    let events = trigger["events"].as_array().map(Vec::as_slice).unwrap_or_default();
    if !events.iter().any(|it| it == "all" || it == wanted) {
        return false;
    }
    let branches = trigger["branches"].as_array().map(Vec::as_slice).unwrap_or_default();
    // Empty selects every branch; tags and other references are never branches.
    let Some(branch) = reference.strip_prefix("refs/heads/") else { return false };
    branches.is_empty() || branches.iter().any(|it| it == branch)
}

/// CodeCommit's trigger notification for one change.
pub(crate) fn notification(
    ctx: &Context,
    trigger: &Value,
    configuration_id: &str,
    change: &Change<'_>,
) -> Value {
    notification_in(&ctx.region, &ctx.account, trigger, configuration_id, change)
}

pub(crate) fn notification_in(
    region: &str,
    account: &str,
    trigger: &Value,
    configuration_id: &str,
    change: &Change<'_>,
) -> Value {
    let mut reference = json!({ "ref": change.reference, "commit": change.commit });
    match change.event {
        "created" => reference["created"] = json!(true),
        "deleted" => reference["deleted"] = json!(true),
        _ => {}
    }
    json!({ "Records": [{
        "awsRegion": region,
        "codecommit": { "references": [reference] },
        "customData": trigger.get("customData").cloned().unwrap_or(Value::Null),
        "eventId": uuid::Uuid::new_v4().to_string(),
        "eventName": "ReferenceChanges",
        "eventPartNumber": 1,
        "eventSource": "aws:codecommit",
        "eventSourceARN": format!("arn:aws:codecommit:{region}:{account}:{}", change.repository),
        "eventTime": event_time(change.time_ms),
        "eventTotalParts": 1,
        "eventTriggerConfigId": configuration_id,
        "eventTriggerName": trigger["name"],
        "eventVersion": "1.0",
        "userIdentityARN": format!("arn:aws:iam::{account}:user/{}", change.user),
    }]})
}

/// `2016-02-09T00:08:11.743+0000`, as CodeCommit writes `eventTime`.
pub(crate) fn event_time(ms: i64) -> String {
    engine::clock::format_utc(ms, engine::clock::EVENT_TIME)
}

/// `sha256=<hex HMAC-SHA256 of body>`, keyed with the secret's characters.
pub(crate) fn signature(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hex::encode(hmac(secret.as_bytes(), body)))
}

// ---------------------------------------------------------------------------------------------
// Delivery.

/// The outcome of one POST.
#[derive(Debug)]
pub(crate) struct Attempt {
    pub status: Option<u16>,
    /// `None` when the receiver answered 2xx.
    pub error: Option<String>,
}

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(TIMEOUT)
            // A signed body goes where it was configured to go, nowhere else.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default()
    })
}

/// POSTs `body` once, signed.
pub(crate) async fn post(url: &str, secret: &str, delivery: &str, body: String) -> Attempt {
    let signature = signature(secret, body.as_bytes());
    let sent = client()
        .post(url)
        .header("Content-Type", "application/json")
        .header("X-Slipway-Signature", signature)
        .header("X-Slipway-Delivery", delivery)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(response) if response.status().is_success() => {
            Attempt { status: Some(response.status().as_u16()), error: None }
        }
        Ok(response) => Attempt {
            status: Some(response.status().as_u16()),
            error: Some(format!("the receiver answered HTTP {}", response.status())),
        },
        Err(err) if err.is_timeout() => Attempt {
            status: None,
            error: Some(format!("no answer within {} s", TIMEOUT.as_secs())),
        },
        Err(err) => Attempt { status: None, error: Some(format!("cannot send: {}", chain(&err))) },
    }
}

/// An error with its causes, which for connection errors say what actually went wrong.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The pause before attempt `attempt` (1-based; the first goes at once): 1 s, 2 s, 4 s, …
pub(crate) fn backoff(attempt: u32) -> Duration {
    match attempt {
        0 | 1 => Duration::ZERO,
        n => Duration::from_secs(1 << (n - 2).min(10)),
    }
}

/// The delivery loop, which the server starts (and aborts when it ends): each round, when
/// `holds_lease()` says this replica runs the loop, it delivers what the new reference events
/// call for.
pub async fn deliver_forever<F, Fut>(ctx: Context, holds_lease: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let limiter = Arc::new(Semaphore::new(CONCURRENCY));
    let mut held = false;
    loop {
        // Registered before the scan, so that a push during it still wakes the next wait.
        let pushed = ctx.ref_events.notified();
        tokio::pin!(pushed);
        pushed.as_mut().enable();
        // One replica of the installation delivers; the one that takes the loop over resumes
        // the deliveries its previous holder left pending.
        let holds = holds_lease().await;
        if holds
            && !held
            && let Err(err) = resume_pending(&ctx, &limiter).await
        {
            tracing::error!(%err, "resuming pending trigger deliveries");
        }
        held = holds;
        if holds && let Err(err) = scan(&ctx, &limiter).await {
            tracing::error!(%err, "reading reference events for triggers");
        }
        tokio::select! {
            () = &mut pushed => {}
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

async fn resume_pending(ctx: &Context, limiter: &Arc<Semaphore>) -> Result<(), StoreError> {
    let mut after = None;
    loop {
        let query = ListQuery {
            kind: TRIGGER_DELIVERY.to_owned(),
            parent: Some(PENDING.to_owned()),
            descending: false,
            after: after.take(),
            limit: engine::store::MAX_PAGE_SIZE,
        };
        let page = ctx.store.list(&query).await?;
        for document in page.documents {
            tokio::spawn(deliver(ctx.clone(), limiter.clone(), document));
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(()),
        }
    }
}

/// Turns every repository's new reference events into deliveries, and starts them.
pub(crate) async fn scan(ctx: &Context, limiter: &Arc<Semaphore>) -> Result<(), StoreError> {
    let mut after = None;
    loop {
        let query = ListQuery {
            kind: REPOSITORY_TRIGGERS.to_owned(),
            parent: None,
            descending: false,
            after: after.take(),
            limit: engine::store::MAX_PAGE_SIZE,
        };
        let page = ctx.store.list(&query).await?;
        for configuration in &page.documents {
            scan_repository(ctx, limiter, configuration).await?;
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(()),
        }
    }
}

async fn scan_repository(
    ctx: &Context,
    limiter: &Arc<Semaphore>,
    configuration: &Document,
) -> Result<(), StoreError> {
    let repo = &configuration.key;
    let triggers = configuration.body["triggers"].as_array().cloned().unwrap_or_default();
    let configuration_id = configuration.body["configurationId"].as_str().unwrap_or_default();
    loop {
        let cursor = ctx.store.get(TRIGGER_CURSOR, repo).await?;
        let seen = cursor.as_ref().and_then(|it| it.body["seq"].as_i64()).unwrap_or(0);
        let query = ListQuery {
            kind: engine::kinds::REF_EVENT.to_owned(),
            parent: Some(repo.clone()),
            descending: false,
            after: (seen > 0).then(|| crate::refs::event_cursor(repo, seen)),
            limit: EVENT_PAGE,
        };
        let page = ctx.store.list(&query).await?;
        let Some(last) = page.documents.last().map(|it| it.sort) else { return Ok(()) };
        let now = engine::clock::now_ms();
        let mut deliveries = Vec::new();
        for event in &page.documents {
            for trigger in &triggers {
                if let Some(delivery) =
                    delivery_for(ctx, repo, configuration_id, trigger, event, now)
                {
                    deliveries.push(delivery);
                }
            }
        }
        let mut writes: Vec<Write> = deliveries.iter().cloned().map(Write::Insert).collect();
        // Deliveries and the cursor move together: an event is turned into deliveries once.
        writes.push(match cursor {
            Some(cursor) => Write::Update {
                document: cursor_document(repo, last),
                expected_version: cursor.version,
            },
            None => Write::Insert(cursor_document(repo, last)),
        });
        ctx.store.apply(writes).await?;
        for delivery in deliveries {
            tokio::spawn(deliver(ctx.clone(), limiter.clone(), delivery));
        }
        if page.next.is_none() {
            return Ok(());
        }
    }
}

/// The pending delivery of `event` to `trigger`, if the trigger selects the event.
fn delivery_for(
    ctx: &Context,
    repo: &str,
    configuration_id: &str,
    trigger: &Value,
    event: &Document,
    now: i64,
) -> Option<Document> {
    let body = &event.body;
    let kind = body["event"].as_str().unwrap_or_default();
    let reference = body["ref"].as_str().unwrap_or_default();
    if !selects(trigger, kind, reference) {
        return None;
    }
    let name = trigger["name"].as_str().unwrap_or_default();
    let commit_field = if kind == "deleted" { "oldCommit" } else { "newCommit" };
    let change = Change {
        repository: repo,
        reference,
        commit: body[commit_field].as_str().unwrap_or_default(),
        event: kind,
        user: body["user"].as_str().unwrap_or_default(),
        time_ms: body["timeMs"].as_i64().unwrap_or(now),
    };
    // The payload is fixed once, so every attempt sends (and signs) the same bytes.
    let payload = notification(ctx, trigger, configuration_id, &change).to_string();
    Some(Document {
        kind: TRIGGER_DELIVERY.to_owned(),
        key: format!("{repo}/{:012}/{name}", event.sort),
        parent: Some(PENDING.to_owned()),
        sort: now,
        version: 0,
        body: json!({
            "repositoryName": repo,
            "trigger": name,
            "url": trigger["destinationArn"],
            "payload": payload,
            "status": "PENDING",
            "attempts": 0,
            "outcomes": [],
            "createdMs": now,
            "updatedMs": now,
        }),
    })
}

/// Runs one delivery to its end, recording each attempt in its document.
async fn deliver(ctx: Context, limiter: Arc<Semaphore>, mut document: Document) {
    let repo = document.body["repositoryName"].as_str().unwrap_or_default().to_owned();
    let trigger = document.body["trigger"].as_str().unwrap_or_default().to_owned();
    let url = document.body["url"].as_str().unwrap_or_default().to_owned();
    let payload = document.body["payload"].as_str().unwrap_or_default().to_owned();
    let secret = match secret(&ctx, &repo, &trigger).await {
        Ok(Some(secret)) => secret,
        Ok(None) => {
            // The trigger was removed since: nobody can verify the delivery any more.
            finish(&ctx, &mut document, "FAILED", Some("the trigger no longer exists")).await;
            return;
        }
        Err(err) => {
            tracing::error!(%err, delivery = %document.key, "reading a trigger secret");
            finish(&ctx, &mut document, "FAILED", Some("the trigger's secret cannot be read"))
                .await;
            return;
        }
    };
    let done = u32::try_from(document.body["attempts"].as_u64().unwrap_or(0)).unwrap_or(0);
    for attempt in done + 1..=MAX_ATTEMPTS {
        tokio::time::sleep(backoff(attempt)).await;
        let outcome = {
            // The permit covers the request only, so waiting retries hold up nobody.
            let Ok(_permit) = limiter.acquire().await else { return };
            post(&url, &secret, &document.key, payload.clone()).await
        };
        let now = engine::clock::now_ms();
        document.body["attempts"] = json!(attempt);
        document.body["lastHttpStatus"] = json!(outcome.status);
        document.body["lastError"] = json!(outcome.error);
        document.body["updatedMs"] = json!(now);
        if let Some(outcomes) = document.body["outcomes"].as_array_mut() {
            outcomes.push(json!({
                "attempt": attempt,
                "timeMs": now,
                "httpStatus": outcome.status,
                "error": outcome.error,
            }));
        }
        if outcome.error.is_none() {
            finish(&ctx, &mut document, "SUCCEEDED", None).await;
            return;
        }
        if attempt == MAX_ATTEMPTS {
            break;
        }
        save(&ctx, &document).await;
    }
    let error = document.body["lastError"].as_str().map(str::to_owned);
    finish(&ctx, &mut document, "FAILED", error.as_deref()).await;
}

async fn finish(ctx: &Context, document: &mut Document, status: &str, error: Option<&str>) {
    document.body["status"] = json!(status);
    if let Some(error) = error {
        document.body["lastError"] = json!(error);
    }
    document.body["updatedMs"] = json!(engine::clock::now_ms());
    // Done deliveries leave the pending set: they are listed under their repository.
    document.parent = document.body["repositoryName"].as_str().map(str::to_owned);
    save(ctx, document).await;
}

async fn save(ctx: &Context, document: &Document) {
    // Only this task writes this delivery, so a plain put cannot lose anyone's change.
    if let Err(err) = ctx.store.apply(vec![Write::Put(document.clone())]).await {
        tracing::error!(%err, delivery = %document.key, "recording a trigger delivery");
    }
}

fn cursor_document(repo: &str, seq: i64) -> Document {
    Document {
        kind: TRIGGER_CURSOR.to_owned(),
        key: repo.to_owned(),
        parent: None,
        sort: 0,
        version: 0,
        body: json!({ "seq": seq }),
    }
}

#[cfg(test)]
mod tests;
