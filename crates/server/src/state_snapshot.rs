//! Whole-state snapshots of the store for unit tests: every document of every kind the server
//! writes, every job (queued or leased) and every log chunk of the streams named, so that a
//! test can compare the state before and after one transition and assert exactly what changed.

use engine::store::Store;
use serde_json::json;

/// Every document kind the server writes.
const KINDS: &[&str] = &[
    "access-key",
    "agent",
    "agent-token",
    "approval-rule-template",
    "approval-rule-template-association",
    "branch-protection",
    "build",
    "build-token",
    "console-session",
    "git-credential",
    "group",
    "idempotency",
    "installation",
    "loop-lease",
    "master-key",
    "mirror",
    "mirror-cursor",
    "parameter",
    "policy",
    "project",
    "pull-request",
    "pull-request-comment",
    "ref-event",
    "report",
    "report-group",
    "report-test-cases",
    "repository",
    "repository-triggers",
    "role",
    "secret",
    "ssh-public-key",
    "trigger-cursor",
    "trigger-delivery",
    "user",
    "webhook-cursor",
];

/// The state: `document <kind> <key>`, `job <id>` and `log <stream>/<seq>` to their contents.
pub(crate) type Snapshot = engine::store::snapshot::Snapshot;

/// Everything in the store, with the log chunks of `streams`.
pub(crate) async fn snapshot(store: &Store, streams: &[&str]) -> Snapshot {
    let mut state = engine::store::snapshot::snapshot(store, KINDS).await.unwrap();
    for job in store.queued_jobs().await.unwrap() {
        state.insert(format!("job {}", job.id), json!({ "payload": job.payload, "lease": null }));
    }
    for leased in store.expired_leases(i64::MAX).await.unwrap() {
        state.insert(
            format!("job {}", leased.job.id),
            json!({
                "payload": leased.job.payload,
                "lease": { "agent": leased.agent_id, "until": leased.lease_until, "attempts": leased.attempts },
            }),
        );
    }
    for stream in streams {
        for chunk in store.read_log(stream, 0, 10_000).await.unwrap() {
            state.insert(
                format!("log {stream}/{}", chunk.seq),
                json!(String::from_utf8_lossy(&chunk.data)),
            );
        }
    }
    state
}

/// What differs between two snapshots: each entry's name with `added`, `removed` or
/// `changed`, in order, with each `(from, to)` of `names` replaced (a random id by `<build>`,
/// say) so that assertions read the same every run.
pub(crate) fn changes(before: &Snapshot, after: &Snapshot, names: &[(&str, &str)]) -> Vec<String> {
    engine::store::snapshot::changes(before, after)
        .into_iter()
        .map(|change| names.iter().fold(change, |change, (from, to)| change.replace(from, to)))
        .collect()
}
