//! Repository mirrors: a repository pulls an external git URL (on a schedule and on demand)
//! and pushes itself to external URLs after every change, the Bitbucket → CodeCommit sync
//! that teams otherwise script by hand.
//!
//! **Configuration.** One `mirror` document per repository (key = repository name) holds
//! `pull` (`url`, `intervalSeconds`, `credentialsSecret`?), `push` (a list of `url`,
//! `credentialsSecret`?) and `status` (`lastPull`, and `pushes` by URL, each `{timeMs, ok,
//! message}`). Credentials are the name of a Secrets Manager secret in Slipway's store that
//! holds `user:password` or `{"username": …, "password": …}`; they reach git as an
//! `Authorization: Basic` header through git's environment, never in the URL, the command
//! line, the logs or the status.
//!
//! **Pull.** `git fetch --prune URL +refs/heads/*:refs/heads/* +refs/tags/*:refs/tags/*` into
//! the bare repository; the branches and tags before and after are compared and every change
//! becomes a `ref-event` by the user [`MIRROR_USER`], as a push's would, so that triggers,
//! webhooks and push mirrors react to mirrored changes too. [`run_forever`] starts the pulls
//! that are due; [`sync`] runs one now. A lock file in the repository (`flock`) keeps two pulls
//! of one repository (the server's and `slipway mirror sync`'s) from running at once.
//!
//! **Push.** [`run_forever`] also follows each repository's `ref-event`s past its
//! `mirror-cursor` document, as the trigger loop does. New events mark the push URLs they
//! concern as pending in the cursor, in the transaction that advances it, so that a restart
//! resumes them; each pending URL then gets `git push --force --prune URL` with the same
//! refspecs (the whole repository, so one push catches up any number of events), up to
//! [`PUSH_ATTEMPTS`] times with backoff. Changes the pull mirror fetched are not pushed back
//! to the URL they came from. Every outcome lands in the status and failures are logged.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use engine::store::{Document, ListQuery, StoreError, Write};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Context;
use crate::process::git;
use engine::kinds::{MIRROR, MIRROR_CURSOR, REPOSITORY};

/// The user the ref events of a pull are recorded with.
pub const MIRROR_USER: &str = "mirror";
/// Tries of one push before its failure is recorded.
pub(crate) const PUSH_ATTEMPTS: u32 = 3;
/// The longest a fetch or push may take: a remote that hangs must not hold the lock forever.
const GIT_TIMEOUT: Duration = Duration::from_secs(600);
/// The most a mirror's git may print (a listing of refs; the pack goes to the repository).
const MAX_OUTPUT: usize = 64 * 1024 * 1024;
/// How often the loop looks for due pulls (pushes also wake on every push).
const TICK: Duration = Duration::from_secs(1);
/// Status messages keep this many characters of git's complaint.
const MAX_MESSAGE: usize = 2000;
const EVENT_PAGE: i64 = 100;
/// How often a read-modify-write retries when someone else wrote in between.
const WRITE_ATTEMPTS: usize = 10;
/// Both mirror directions copy exactly the branches and tags, nothing else a remote has
/// (pull-request refs, notes, remote-tracking refs).
const REFSPECS: [&str; 2] = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"];

/// What the administration commands can get wrong, and the store's failures.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    #[error("repository {0} does not exist")]
    NoRepository(String),
    #[error("{0}")]
    Invalid(String),
    #[error("database: {0}")]
    Store(#[from] StoreError),
}

/// Where a repository pulls from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PullMirror {
    pub url: String,
    pub interval_seconds: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret: Option<String>,
}

/// Where a repository pushes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PushMirror {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret: Option<String>,
}

/// How one pull or push ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Outcome {
    pub time_ms: i64,
    pub ok: bool,
    pub message: String,
}

impl Outcome {
    fn new(ok: bool, message: impl Into<String>) -> Outcome {
        Outcome { time_ms: engine::clock::now_ms(), ok, message: message.into() }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Status {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_pull: Option<Outcome>,
    #[serde(default)]
    pub pushes: BTreeMap<String, Outcome>,
}

/// The body of a repository's `mirror` document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Mirrors {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull: Option<PullMirror>,
    #[serde(default)]
    pub push: Vec<PushMirror>,
    #[serde(default)]
    pub status: Status,
}

impl Mirrors {
    /// Whether the pull is due at `now`: never pulled, or pulled (well or not) an interval ago.
    pub(crate) fn pull_due(&self, now: i64) -> bool {
        let Some(pull) = &self.pull else { return false };
        let interval =
            i64::try_from(pull.interval_seconds.saturating_mul(1000)).unwrap_or(i64::MAX);
        self.status
            .last_pull
            .as_ref()
            .is_none_or(|last| now.saturating_sub(last.time_ms) >= interval)
    }
}

/// The `mirror-cursor` document's body: the last event looked at, and the push URLs that
/// still owe a push for events up to the number given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Cursor {
    seq: i64,
    #[serde(default)]
    pending: BTreeMap<String, i64>,
}

/// One branch or tag that a fetch moved; zeros for the side where it did not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RefChange {
    pub name: String,
    pub old: String,
    pub new: String,
}

// ---------------------------------------------------------------------------------------------
// Administration.

/// Sets the repository's pull mirror (replacing any), to be pulled at once.
pub async fn add_pull(
    ctx: &Context,
    repo: &str,
    url: &str,
    interval_seconds: u64,
    credentials_secret: Option<&str>,
) -> Result<Value, MirrorError> {
    ensure_repository(ctx, repo).await?;
    check_url(url).map_err(MirrorError::Invalid)?;
    if interval_seconds == 0 {
        return Err(MirrorError::Invalid("the interval is at least 1 second".to_owned()));
    }
    check_secret(ctx, credentials_secret).await?;
    let pull = PullMirror {
        url: url.to_owned(),
        interval_seconds,
        credentials_secret: credentials_secret.map(str::to_owned),
    };
    let (mirrors, ()) = edit(ctx, repo, |mirrors| {
        // A new source has not been pulled yet: the schedule pulls it on its next look.
        mirrors.pull = Some(pull.clone());
        mirrors.status.last_pull = None;
    })
    .await?;
    Ok(public(&mirrors))
}

/// Adds (or replaces) a push mirror; the repository is pushed to it at once.
pub async fn add_push(
    ctx: &Context,
    repo: &str,
    url: &str,
    credentials_secret: Option<&str>,
) -> Result<Value, MirrorError> {
    ensure_repository(ctx, repo).await?;
    check_url(url).map_err(MirrorError::Invalid)?;
    check_secret(ctx, credentials_secret).await?;
    let push = PushMirror {
        url: url.to_owned(),
        credentials_secret: credentials_secret.map(str::to_owned),
    };
    // The new mirror starts as a copy of the repository: a push is owed for everything so far,
    // written with the mirror.
    let latest = crate::refs::latest_event(ctx, repo).await?;
    let (mirrors, (), _) = edit_together(ctx, repo, latest, |mirrors, cursor| {
        mirrors.push.retain(|it| it.url != push.url);
        mirrors.push.push(push.clone());
        mirrors.status.pushes.remove(&push.url);
        cursor.pending.insert(url.to_owned(), latest.max(cursor.seq));
        ((), true)
    })
    .await?;
    ctx.ref_events.notify_waiters();
    Ok(public(&mirrors))
}

/// Removes the pull mirror; `false` when there was none.
pub async fn remove_pull(ctx: &Context, repo: &str) -> Result<bool, MirrorError> {
    ensure_repository(ctx, repo).await?;
    let (_, removed) = edit(ctx, repo, |mirrors| {
        mirrors.status.last_pull = None;
        mirrors.pull.take().is_some()
    })
    .await?;
    Ok(removed)
}

/// Removes the push mirror to `url`; `false` when there was none.
pub async fn remove_push(ctx: &Context, repo: &str, url: &str) -> Result<bool, MirrorError> {
    ensure_repository(ctx, repo).await?;
    // The mirror and what is owed to it go in one transaction.
    let (_, removed, _) = edit_together(ctx, repo, 0, |mirrors, cursor| {
        let before = mirrors.push.len();
        mirrors.push.retain(|it| it.url != url);
        mirrors.status.pushes.remove(url);
        cursor.pending.remove(url);
        (mirrors.push.len() != before, true)
    })
    .await?;
    Ok(removed)
}

/// The repository's mirrors and their status as JSON (secret names, never their values).
pub async fn list(ctx: &Context, repo: &str) -> Result<Value, MirrorError> {
    ensure_repository(ctx, repo).await?;
    let mirrors = load(ctx, repo).await?.map(|(it, _)| it).unwrap_or_default();
    Ok(public(&mirrors))
}

/// Runs the repository's pull mirror now, after any pull already running, and returns how it
/// ended.
pub async fn sync(ctx: &Context, repo: &str) -> Result<Value, MirrorError> {
    ensure_repository(ctx, repo).await?;
    let pull = load(ctx, repo).await?.and_then(|(it, _)| it.pull);
    let Some(pull) = pull else {
        return Err(MirrorError::Invalid(format!("{repo} has no pull mirror")));
    };
    let dir = ctx.repo_path(repo);
    let lock = match wait_for_pull_lock(&dir).await {
        Ok(lock) => lock,
        Err(err) => {
            return Err(MirrorError::Invalid(format!("cannot lock {repo} for a pull: {err}")));
        }
    };
    let outcome = pull_locked(ctx, repo, &pull).await;
    drop(lock);
    Ok(json!(outcome))
}

fn public(mirrors: &Mirrors) -> Value {
    serde_json::to_value(mirrors).unwrap_or_default()
}

async fn ensure_repository(ctx: &Context, repo: &str) -> Result<(), MirrorError> {
    match ctx.store.get(REPOSITORY, repo).await? {
        Some(_) => Ok(()),
        None => Err(MirrorError::NoRepository(repo.to_owned())),
    }
}

/// A secret named for credentials must exist and hold a user and a password, so that a typo
/// shows now rather than as a failing mirror later.
async fn check_secret(ctx: &Context, name: Option<&str>) -> Result<(), MirrorError> {
    match name {
        None => Ok(()),
        Some(name) => {
            credentials_header(ctx, Some(name)).await.map(drop).map_err(MirrorError::Invalid)
        }
    }
}

/// A URL git can be given as an argument: not an option, one line, and without a password
/// (those belong in the secrets store, not in a document anyone listing mirrors sees).
pub(crate) fn check_url(url: &str) -> Result<(), String> {
    if url.is_empty() || url.len() > 2048 {
        return Err("the URL is empty or longer than 2048 characters".to_owned());
    }
    if url.starts_with('-') || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!("{url:?} is not a git URL"));
    }
    if let Some((_, rest)) = url.split_once("://") {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.rsplit_once('@').is_some_and(|(userinfo, _)| userinfo.contains(':')) {
            return Err(
                "the URL holds a password: keep it in a secret and name it with --credentials"
                    .to_owned(),
            );
        }
    }
    Ok(())
}

/// The repository's mirror configuration and the document's version.
async fn load(ctx: &Context, repo: &str) -> Result<Option<(Mirrors, i64)>, StoreError> {
    let Some(document) = ctx.store.get(MIRROR, repo).await? else { return Ok(None) };
    match serde_json::from_value(document.body) {
        Ok(mirrors) => Ok(Some((mirrors, document.version))),
        Err(err) => {
            tracing::error!(repository = %repo, %err, "an unreadable mirror document");
            Ok(Some((Mirrors::default(), document.version)))
        }
    }
}

/// Read, `change`, write with the version read, again if someone else wrote in between (the
/// administration commands and the loop's status updates write the same document). A
/// document left with no mirror is removed.
async fn edit<T>(
    ctx: &Context,
    repo: &str,
    mut change: impl FnMut(&mut Mirrors) -> T,
) -> Result<(Mirrors, T), StoreError> {
    let (mirrors, result, _) =
        edit_together(ctx, repo, 0, |mirrors, _| (change(mirrors), false)).await?;
    Ok((mirrors, result))
}

/// The same for the cursor; a missing one starts at event `start`.
async fn edit_cursor(
    ctx: &Context,
    repo: &str,
    start: i64,
    mut change: impl FnMut(&mut Cursor),
) -> Result<Cursor, StoreError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let existing = ctx.store.get(MIRROR_CURSOR, repo).await?;
        let mut cursor = cursor_of(existing.as_ref(), start);
        change(&mut cursor);
        let Some(write) = cursor_write(repo, existing.as_ref(), start, &cursor) else {
            return Ok(cursor);
        };
        match ctx.store.apply(vec![write]).await {
            Ok(()) => return Ok(cursor),
            Err(StoreError::Conflict { .. } | StoreError::AlreadyExists { .. })
                if attempt < WRITE_ATTEMPTS => {}
            Err(err) => return Err(err),
        }
    }
}

/// [`edit`] and, when `change` says so (its second result), [`edit_cursor`], in one
/// transaction: the mirrors and the pushes owed to them never disagree after a crash.
async fn edit_together<T>(
    ctx: &Context,
    repo: &str,
    start: i64,
    mut change: impl FnMut(&mut Mirrors, &mut Cursor) -> (T, bool),
) -> Result<(Mirrors, T, Option<Cursor>), StoreError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let existing = load(ctx, repo).await?;
        let existing_cursor = ctx.store.get(MIRROR_CURSOR, repo).await?;
        let mut mirrors = existing.as_ref().map(|(it, _)| it.clone()).unwrap_or_default();
        let mut cursor = cursor_of(existing_cursor.as_ref(), start);
        let (result, with_cursor) = change(&mut mirrors, &mut cursor);
        let mut writes: Vec<Write> =
            mirrors_write(repo, existing.as_ref(), &mirrors).into_iter().collect();
        if mirrors.push.is_empty() {
            // A mirror added later starts from the events after it, not from these: a
            // repository without push mirrors has no cursor.
            if existing_cursor.is_some() {
                writes.push(Write::Delete { kind: MIRROR_CURSOR.to_owned(), key: repo.to_owned() });
            }
        } else if with_cursor {
            writes.extend(cursor_write(repo, existing_cursor.as_ref(), start, &cursor));
        }
        let cursor = with_cursor.then_some(cursor);
        if writes.is_empty() {
            return Ok((mirrors, result, cursor));
        }
        match ctx.store.apply(writes).await {
            Ok(()) => return Ok((mirrors, result, cursor)),
            Err(StoreError::Conflict { .. } | StoreError::AlreadyExists { .. })
                if attempt < WRITE_ATTEMPTS => {}
            Err(err) => return Err(err),
        }
    }
}

/// The write that stores `mirrors` over what was read (`existing`, with its version), if it
/// changed; a document left with no mirror is removed.
fn mirrors_write(
    repo: &str,
    existing: Option<&(Mirrors, i64)>,
    mirrors: &Mirrors,
) -> Option<Write> {
    if existing.is_some_and(|(it, _)| it == mirrors) {
        return None;
    }
    if mirrors.pull.is_none() && mirrors.push.is_empty() {
        return existing.map(|_| Write::Delete { kind: MIRROR.to_owned(), key: repo.to_owned() });
    }
    let document = Document {
        kind: MIRROR.to_owned(),
        key: repo.to_owned(),
        parent: None,
        sort: 0,
        version: 0,
        body: public(mirrors),
    };
    Some(match existing {
        Some((_, version)) => Write::Update { document, expected_version: *version },
        None => Write::Insert(document),
    })
}

/// The cursor stored in `existing`; a missing one starts at event `start`.
fn cursor_of(existing: Option<&Document>, start: i64) -> Cursor {
    match existing {
        Some(document) => serde_json::from_value(document.body.clone()).unwrap_or_default(),
        None => Cursor { seq: start, pending: BTreeMap::new() },
    }
}

/// The write that stores `cursor` over what was read (`existing`), if it changed or is new.
fn cursor_write(
    repo: &str,
    existing: Option<&Document>,
    start: i64,
    cursor: &Cursor,
) -> Option<Write> {
    if existing.is_some() && cursor_of(existing, start) == *cursor {
        return None;
    }
    let document = Document {
        kind: MIRROR_CURSOR.to_owned(),
        key: repo.to_owned(),
        parent: None,
        sort: 0,
        version: 0,
        body: serde_json::to_value(cursor).unwrap_or_default(),
    };
    Some(match existing {
        Some(existing) => Write::Update { document, expected_version: existing.version },
        None => Write::Insert(document),
    })
}

// ---------------------------------------------------------------------------------------------
// Credentials.

/// `user:password`, or JSON with `username` and `password`, as the secret holds them.
pub(crate) fn parse_credentials(value: &str) -> Option<(String, String)> {
    // A trailing newline is what `echo` and editors leave, never part of a password.
    let value = value.trim_end_matches(['\n', '\r']);
    if value.trim_start().starts_with('{') {
        let document: Value = serde_json::from_str(value).ok()?;
        let user = document.get("username")?.as_str()?;
        let password = document.get("password")?.as_str()?;
        return Some((user.to_owned(), password.to_owned()));
    }
    let (user, password) = value.split_once(':')?;
    (!user.is_empty()).then(|| (user.to_owned(), password.to_owned()))
}

/// The `http.extraHeader` value that authenticates as `user`.
pub(crate) fn basic_header(user: &str, password: &str) -> String {
    format!(
        "Authorization: Basic {}",
        awsapi::base64::encode(format!("{user}:{password}").as_bytes())
    )
}

/// The header for the named secret's credentials; `None` without a secret.
async fn credentials_header(ctx: &Context, secret: Option<&str>) -> Result<Option<String>, String> {
    let Some(name) = secret else { return Ok(None) };
    let value = match ctx.secrets_store.resolve_secret(name).await {
        Ok(Some(value)) => value,
        Ok(None) => return Err(format!("the secret {name} does not exist")),
        Err(err) => return Err(format!("reading the secret {name}: {err}")),
    };
    match parse_credentials(&value) {
        Some((user, password)) => Ok(Some(basic_header(&user, &password))),
        None => Err(format!(
            "the secret {name} holds neither user:password nor {{\"username\": …, \"password\": …}}"
        )),
    }
}

/// Gives git the header through its environment rather than `-c` on the command line: the
/// command line of any process is readable by every local user (`ps`), its environment only
/// by its owner. `process::git` uses configuration entry 0 (`safe.directory`); this is entry 1.
pub(crate) fn with_header(command: &mut tokio::process::Command, header: Option<&str>) {
    if let Some(header) = header {
        command
            .env("GIT_CONFIG_COUNT", "2")
            .env("GIT_CONFIG_KEY_1", "http.extraHeader")
            .env("GIT_CONFIG_VALUE_1", header);
    }
}

// ---------------------------------------------------------------------------------------------
// Git.

/// Runs git with a time limit; the error is git's complaint (which has no credentials in it:
/// they are neither in the URL nor on the command line).
async fn run(command: tokio::process::Command) -> Result<String, String> {
    let limits = crate::process::Limits { timeout: GIT_TIMEOUT, max_stdout: MAX_OUTPUT };
    let output = match crate::process::run_bounded(command, None, limits).await {
        // The runner ends the git that took too long or printed too much.
        Err(err) => return Err(err.to_string()),
        Ok(output) => output,
    };
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut message = stderr.trim().to_owned();
    if message.is_empty() {
        message = format!("git failed ({})", output.status);
    }
    Err(truncate(message))
}

fn truncate(mut message: String) -> String {
    if message.chars().count() > MAX_MESSAGE {
        message = message.chars().take(MAX_MESSAGE).collect::<String>() + "…";
    }
    message
}

/// The branches and tags: name → object id.
async fn list_refs(dir: &Path) -> Result<BTreeMap<String, String>, String> {
    let mut command = git();
    command.arg("--git-dir").arg(dir).args([
        "for-each-ref",
        "--format=%(objectname) %(refname)",
        "refs/heads",
        "refs/tags",
    ]);
    Ok(parse_refs(&run(command).await?))
}

/// `git for-each-ref --format='%(objectname) %(refname)'` as name → object id.
pub(crate) fn parse_refs(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(oid, name)| (name.to_owned(), oid.to_owned()))
        .collect()
}

/// What moved between two listings, by ref name: created, updated and deleted refs.
pub(crate) fn diff_refs(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> Vec<RefChange> {
    let zero = |oid: &str| "0".repeat(oid.len());
    let names: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    names
        .into_iter()
        .filter_map(|name| {
            match (before.get(name), after.get(name)) {
                (Some(old), Some(new)) if old == new => None,
                (Some(old), Some(new)) => Some((old.clone(), new.clone())),
                (None, Some(new)) => Some((zero(new), new.clone())),
                (Some(old), None) => Some((old.clone(), zero(old))),
                (None, None) => None,
            }
            .map(|(old, new)| RefChange { name: name.clone(), old, new })
        })
        .collect()
}

/// Locks the repository for a pull, or `None` when another pull holds it. `flock` locks
/// conflict between open files, so this works within the server and against `slipway mirror
/// sync` in another process alike, and the kernel drops a dead process's lock.
fn try_pull_lock(dir: &Path) -> std::io::Result<Option<std::fs::File>> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("slipway-mirror.lock"))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(err)) => Err(err),
    }
}

/// Waits (boundedly) for the pull lock.
async fn wait_for_pull_lock(dir: &Path) -> std::io::Result<std::fs::File> {
    let mut waited = Duration::ZERO;
    loop {
        if let Some(lock) = try_pull_lock(dir)? {
            return Ok(lock);
        }
        if waited >= GIT_TIMEOUT {
            return Err(std::io::Error::other("another pull has been running for too long"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += Duration::from_millis(100);
    }
}

/// Pulls, records the ref events and the outcome. The caller holds the pull lock.
async fn pull_locked(ctx: &Context, repo: &str, pull: &PullMirror) -> Outcome {
    let outcome = match fetch(ctx, repo, pull).await {
        Ok(changes) => Outcome::new(true, format!("{} refs changed", changes.len())),
        Err(message) => {
            tracing::warn!(repository = %repo, url = %pull.url, %message, "pull mirror failed");
            Outcome::new(false, message)
        }
    };
    let recorded = edit(ctx, repo, |mirrors| {
        // Only for the source pulled: the mirror may have been changed meanwhile.
        if mirrors.pull.as_ref().is_some_and(|it| it.url == pull.url) {
            mirrors.status.last_pull = Some(outcome.clone());
        }
    })
    .await;
    if let Err(err) = recorded {
        tracing::error!(repository = %repo, %err, "recording a pull's outcome");
    }
    outcome
}

/// Fetches the source's branches and tags into the repository and records what moved.
async fn fetch(ctx: &Context, repo: &str, pull: &PullMirror) -> Result<Vec<RefChange>, String> {
    let dir = ctx.repo_path(repo);
    let header = credentials_header(ctx, pull.credentials_secret.as_deref()).await?;
    let before = list_refs(&dir).await?;
    let mut command = git();
    command
        .arg("--git-dir")
        .arg(&dir)
        .args(["fetch", "--prune", "--quiet", "--no-write-fetch-head", "--"])
        .arg(&pull.url)
        .args(REFSPECS);
    with_header(&mut command, header.as_deref());
    run(command).await?;
    let after = list_refs(&dir).await?;
    let changes = diff_refs(&before, &after);
    let updates: Vec<(String, String, String)> =
        changes.iter().map(|it| (it.name.clone(), it.old.clone(), it.new.clone())).collect();
    crate::refs::record_ref_updates(ctx, repo, MIRROR_USER, &updates).await.map_err(|err| {
        format!("the refs were fetched, but recording their events failed: {err}")
    })?;
    Ok(changes)
}

/// Pushes the repository's branches and tags to the mirror once.
async fn push_once(ctx: &Context, repo: &str, push: &PushMirror) -> Result<String, String> {
    let dir = ctx.repo_path(repo);
    // With `--prune`, pushing a repository with no refs would empty the mirror: a repository
    // just created is not what anyone wants copied over the other side.
    if list_refs(&dir).await?.is_empty() {
        return Ok("nothing to push: the repository has no branches or tags yet".to_owned());
    }
    let header = credentials_header(ctx, push.credentials_secret.as_deref()).await?;
    let mut command = git();
    command
        .arg("--git-dir")
        .arg(&dir)
        .args(["push", "--force", "--prune", "--quiet", "--"])
        .arg(&push.url)
        .args(REFSPECS);
    with_header(&mut command, header.as_deref());
    run(command).await?;
    Ok("pushed".to_owned())
}

/// Pushes with retries and records how it ended.
async fn push_and_record(ctx: &Context, repo: &str, push: &PushMirror) -> Outcome {
    let mut last = String::new();
    let mut outcome = None;
    for attempt in 1..=PUSH_ATTEMPTS {
        tokio::time::sleep(crate::triggers::backoff(attempt)).await;
        match push_once(ctx, repo, push).await {
            Ok(message) => {
                outcome = Some(Outcome::new(true, message));
                break;
            }
            Err(message) => {
                tracing::warn!(
                    repository = %repo, url = %push.url, attempt, %message, "push mirror failed"
                );
                last = message;
            }
        }
    }
    let outcome = outcome
        .unwrap_or_else(|| Outcome::new(false, format!("{last} (after {PUSH_ATTEMPTS} attempts)")));
    let recorded = edit(ctx, repo, |mirrors| {
        if mirrors.push.iter().any(|it| it.url == push.url) {
            mirrors.status.pushes.insert(push.url.clone(), outcome.clone());
        }
    })
    .await;
    if let Err(err) = recorded {
        tracing::error!(repository = %repo, %err, "recording a push's outcome");
    }
    outcome
}

// ---------------------------------------------------------------------------------------------
// The loop.

/// What the loop has running, so that it starts nothing twice: `pull:<repo>` and
/// `push:<repo>:<url>`.
type Running = Arc<Mutex<HashSet<String>>>;

/// Marks `key` running; `false` when it already was.
fn start(running: &Running, key: &str) -> bool {
    running.lock().map(|mut it| it.insert(key.to_owned())).unwrap_or(false)
}

fn stop(running: &Running, key: &str) {
    if let Ok(mut it) = running.lock() {
        it.remove(key);
    }
}

/// The mirror loop, started by the server and aborted when it ends: while `holds_lease()`, starts due pulls and
/// owed pushes each second, and pushes as soon as a push is recorded.
pub async fn run_forever<F, Fut>(ctx: Context, holds_lease: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let running = Running::default();
    loop {
        // Registered before the scan, so that a push during it still wakes the next wait.
        let pushed = ctx.ref_events.notified();
        tokio::pin!(pushed);
        pushed.as_mut().enable();
        // One replica of the installation pulls and pushes.
        if holds_lease().await
            && let Err(err) = scan(&ctx, &running).await
        {
            tracing::error!(%err, "looking for mirror work");
        }
        tokio::select! {
            () = &mut pushed => {}
            () = tokio::time::sleep(TICK) => {}
        }
    }
}

async fn scan(ctx: &Context, running: &Running) -> Result<(), StoreError> {
    let mut after = None;
    loop {
        let query = ListQuery {
            kind: MIRROR.to_owned(),
            parent: None,
            descending: false,
            after: after.take(),
            limit: engine::store::MAX_PAGE_SIZE,
        };
        let page = ctx.store.list(&query).await?;
        for document in page.documents {
            let repo = document.key;
            let Ok(mirrors) = serde_json::from_value::<Mirrors>(document.body) else { continue };
            if mirrors.pull_due(engine::clock::now_ms()) {
                start_pull(ctx, running, &repo, &mirrors);
            }
            if !mirrors.push.is_empty() {
                // One repository's trouble must not hold up the others'.
                if let Err(err) = start_pushes(ctx, running, &repo, &mirrors).await {
                    tracing::error!(repository = %repo, %err, "following pushes for mirrors");
                }
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(()),
        }
    }
}

fn start_pull(ctx: &Context, running: &Running, repo: &str, mirrors: &Mirrors) {
    let Some(pull) = mirrors.pull.clone() else { return };
    let key = format!("pull:{repo}");
    if !start(running, &key) {
        return;
    }
    let (ctx, running, repo) = (ctx.clone(), running.clone(), repo.to_owned());
    tokio::spawn(async move {
        let dir = ctx.repo_path(&repo);
        match try_pull_lock(&dir) {
            Ok(Some(lock)) => {
                pull_locked(&ctx, &repo, &pull).await;
                drop(lock);
            }
            // `slipway mirror sync` is pulling; it records the outcome.
            Ok(None) => {}
            Err(err) => tracing::warn!(repository = %repo, %err, "cannot lock for a pull"),
        }
        stop(&running, &key);
    });
}

/// Whether the event concerns the push mirror `url`: everything does except what the pull
/// mirror fetched from that same URL (pushing it back would be pointless).
pub(crate) fn concerns(event: &Value, url: &str, pull_url: Option<&str>) -> bool {
    !(event["user"] == MIRROR_USER && pull_url == Some(url))
}

/// Moves the cursor past the new events, marking the push mirrors they concern as owed a
/// push, then starts the owed pushes that are not running.
async fn start_pushes(
    ctx: &Context,
    running: &Running,
    repo: &str,
    mirrors: &Mirrors,
) -> Result<(), StoreError> {
    let pull_url = mirrors.pull.as_ref().map(|it| it.url.as_str());
    let mut cursor = loop {
        let cursor = edit_cursor(ctx, repo, 0, |_| {}).await?;
        let query = ListQuery {
            kind: engine::kinds::REF_EVENT.to_owned(),
            parent: Some(repo.to_owned()),
            descending: false,
            after: (cursor.seq > 0).then(|| crate::refs::event_cursor(repo, cursor.seq)),
            limit: EVENT_PAGE,
        };
        let page = ctx.store.list(&query).await?;
        let Some(last) = page.documents.last().map(|it| it.sort) else { break cursor };
        let owed: Vec<&str> = mirrors
            .push
            .iter()
            .map(|it| it.url.as_str())
            .filter(|url| page.documents.iter().any(|event| concerns(&event.body, url, pull_url)))
            .collect();
        let seen = cursor.seq;
        edit_cursor(ctx, repo, 0, |cursor| {
            // `slipway mirror add --push` writes it too; only this loop moves `seq`.
            if cursor.seq == seen {
                cursor.seq = last;
                for url in &owed {
                    cursor.pending.insert((*url).to_owned(), last);
                }
            }
        })
        .await?;
    };
    // Owed pushes to mirrors removed since are forgotten.
    let configured: HashSet<&str> = mirrors.push.iter().map(|it| it.url.as_str()).collect();
    if cursor.pending.keys().any(|url| !configured.contains(url.as_str())) {
        cursor = edit_cursor(ctx, repo, 0, |cursor| {
            cursor.pending.retain(|url, _| configured.contains(url.as_str()));
        })
        .await?;
    }
    for (url, owed) in cursor.pending {
        let Some(push) = mirrors.push.iter().find(|it| it.url == url).cloned() else { continue };
        let key = format!("push:{repo}:{url}");
        if !start(running, &key) {
            continue;
        }
        let (ctx, running, repo) = (ctx.clone(), running.clone(), repo.to_owned());
        tokio::spawn(async move {
            push_and_record(&ctx, &repo, &push).await;
            // Paid up to `owed`; events after it (during the push) leave it owed, and the
            // next scan pushes again. A failure is recorded and not retried until the next
            // change: the status says what went wrong.
            let paid = edit_cursor(&ctx, &repo, 0, |cursor| {
                if cursor.pending.get(&url).is_some_and(|it| *it <= owed) {
                    cursor.pending.remove(&url);
                }
            })
            .await;
            if let Err(err) = paid {
                tracing::error!(repository = %repo, %err, "updating the mirror cursor");
            }
            stop(&running, &key);
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
