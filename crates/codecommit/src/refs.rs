//! Reference events: every ref a push, the API (PutFile, CreateCommit) or a pull mirror moved
//! becomes a `ref-event` document, numbered per repository, all of one change in one store
//! transaction; then `Context::ref_events` wakes whoever reacts to pushes (triggers, webhooks,
//! mirrors), which read "everything after the last number I saw" back with [`event_cursor`].

use std::path::Path;

use engine::store::{Document, Write};
use serde_json::json;

use crate::Context;
use crate::process::git;
use engine::kinds::REF_EVENT;

/// One ref update: what a push asks for, or what the server did itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefCommand {
    pub old: String,
    pub new: String,
    pub name: String,
}

impl RefCommand {
    /// `created`, `updated` or `deleted`, as the ref-event documents say.
    pub fn event(&self) -> &'static str {
        if is_zero(&self.old) {
            "created"
        } else if is_zero(&self.new) {
            "deleted"
        } else {
            "updated"
        }
    }

    pub fn is_delete(&self) -> bool {
        is_zero(&self.new)
    }
}

fn is_zero(oid: &str) -> bool {
    oid.bytes().all(|b| b == b'0')
}

/// Records the ref events of a push git has finished: `commands` as the push sent them, and
/// `reported_ok` the refs git's report said were updated, when there was a report (git's own
/// word, exact even when another push has moved a ref since); without one, the refs as they
/// are now say which commands were applied.
pub async fn record_push(
    ctx: &Context,
    repo: &str,
    user: &str,
    commands: &[RefCommand],
    reported_ok: Option<&[String]>,
) {
    let applied = match reported_ok {
        Some(names) => applied_by_report(commands, names),
        None => match applied_by_refs(&ctx.repo_path(repo), commands).await {
            Ok(applied) => applied,
            Err(err) => {
                tracing::error!(repository = %repo, %err, "reading refs after a push");
                return;
            }
        },
    };
    if applied.is_empty() {
        return;
    }
    if let Err(err) = record_events(ctx, repo, user, &applied).await {
        tracing::error!(repository = %repo, %err, "recording ref events");
        return;
    }
    ctx.ref_events.notify_waiters();
}

/// The commands receive-pack reported `ok`, in the order they were sent (the order git
/// applies them in).
fn applied_by_report(commands: &[RefCommand], ok: &[String]) -> Vec<RefCommand> {
    commands.iter().filter(|command| ok.contains(&command.name)).cloned().collect()
}

/// Without a report: the commands whose ref now has the new value (or is gone, for a delete).
async fn applied_by_refs(dir: &Path, commands: &[RefCommand]) -> std::io::Result<Vec<RefCommand>> {
    let mut listing = git();
    listing.arg("--git-dir").arg(dir).args(["for-each-ref", "--format=%(objectname) %(refname)"]);
    let output = crate::git::run(listing).await?;
    let text = String::from_utf8_lossy(&output.stdout);
    let refs: Vec<(&str, &str)> = text.lines().filter_map(|line| line.split_once(' ')).collect();
    Ok(commands
        .iter()
        .filter(|command| {
            let now = refs.iter().find(|(_, name)| *name == command.name).map(|(oid, _)| *oid);
            if command.is_delete() { now.is_none() } else { now == Some(command.new.as_str()) }
        })
        .cloned()
        .collect())
}

/// Records that the API itself moved a branch (CodeCommit's PutFile and CreateCommit), as a
/// push would have, and wakes whoever reacts to pushes: a commit made without git is still
/// a change to build.
pub async fn record_ref_update(
    ctx: &Context,
    repo: &str,
    user: &str,
    name: &str,
    old: &str,
    new: &str,
) -> Result<(), engine::store::StoreError> {
    let command = RefCommand { old: old.to_owned(), new: new.to_owned(), name: name.to_owned() };
    record_events(ctx, repo, user, &[command]).await?;
    ctx.ref_events.notify_waiters();
    Ok(())
}

/// Records ref changes the server made itself with git (a pull mirror's fetch), each
/// `(ref, old, new)` with zeros for a missing side, in one transaction, and wakes whoever
/// reacts to pushes: a mirrored change is built and notified like a pushed one.
pub async fn record_ref_updates(
    ctx: &Context,
    repo: &str,
    user: &str,
    updates: &[(String, String, String)],
) -> Result<(), engine::store::StoreError> {
    if updates.is_empty() {
        return Ok(());
    }
    let commands: Vec<RefCommand> = updates
        .iter()
        .map(|(name, old, new)| RefCommand {
            old: old.clone(),
            new: new.clone(),
            name: name.clone(),
        })
        .collect();
    record_events(ctx, repo, user, &commands).await?;
    ctx.ref_events.notify_waiters();
    Ok(())
}

/// One `ref-event` document per applied command, numbered per repository, in one transaction.
async fn record_events(
    ctx: &Context,
    repo: &str,
    user: &str,
    applied: &[RefCommand],
) -> Result<(), engine::store::StoreError> {
    // Each event takes its number inside the transaction that writes it, so events become
    // visible in the order of their numbers, whichever process or replica records them: the
    // trigger and webhook loops read "everything after the last number I saw", and a lower
    // number committed later would be skipped.
    let now = engine::clock::now_ms();
    let counter = format!("ref-events/{repo}");
    let writes = applied
        .iter()
        .map(|command| Write::InsertNumbered {
            counter: counter.clone(),
            document: Document {
                kind: REF_EVENT.to_owned(),
                // `<repo>/`, to which the store appends the number (see `ref_event_key`).
                key: format!("{repo}/"),
                parent: Some(repo.to_owned()),
                sort: 0,
                version: 0,
                body: json!({
                    "repositoryName": repo,
                    "ref": command.name,
                    "oldCommit": command.old,
                    "newCommit": command.new,
                    "event": command.event(),
                    "user": user,
                    "timeMs": now,
                }),
            },
        })
        .collect();
    ctx.store.apply(writes).await
}

/// `<repo>/<seq>`: the key `Write::InsertNumbered` gives event `seq` of `repo`.
pub fn ref_event_key(repo: &str, seq: i64) -> String {
    engine::store::numbered_key(&format!("{repo}/"), seq)
}

/// A listing cursor just past event `seq` of `repo`, so that a loop that remembers the last
/// event it handled resumes there without listing the history again.
pub fn event_cursor(repo: &str, seq: i64) -> String {
    engine::store::cursor_after(seq, &ref_event_key(repo, seq))
}

/// The newest reference event's number, 0 when there is none.
pub async fn latest_event(ctx: &Context, repo: &str) -> Result<i64, engine::store::StoreError> {
    let query = engine::store::ListQuery {
        kind: REF_EVENT.to_owned(),
        parent: Some(repo.to_owned()),
        descending: true,
        after: None,
        limit: 1,
    };
    Ok(ctx.store.list(&query).await?.documents.first().map_or(0, |it| it.sort))
}

#[cfg(test)]
mod tests;
