//! Unit tests of mirrors: credentials and the header git gets, ref diffing, URL checks, the
//! schedule, a pull and a push between real repositories on disk with a real store, and a push
//! mirror written with its owed push in one transaction.

use std::collections::BTreeMap;

use engine::store::{Document, ListQuery, Write};
use serde_json::json;

use super::*;

#[test]
fn credentials_are_user_colon_password_or_json() {
    let pair = |user: &str, password: &str| Some((user.to_owned(), password.to_owned()));
    assert_eq!(parse_credentials("ada:s3cr:et"), pair("ada", "s3cr:et"));
    assert_eq!(parse_credentials("ada:pw\n"), pair("ada", "pw"));
    assert_eq!(parse_credentials("ada:"), pair("ada", ""));
    assert_eq!(parse_credentials(r#"{"username": "ada", "password": "p w"}"#), pair("ada", "p w"));
    assert_eq!(parse_credentials("no colon"), None);
    assert_eq!(parse_credentials(":password"), None);
    assert_eq!(parse_credentials(r#"{"username": "ada"}"#), None);
    assert_eq!(parse_credentials(r#"{"username": 1, "password": "x"}"#), None);
}

#[test]
fn the_header_is_basic_authorization() {
    assert_eq!(
        basic_header("Aladdin", "open sesame"),
        "Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
    );
}

#[tokio::test]
async fn git_sees_the_header_in_its_configuration_not_its_arguments() {
    let mut command = git();
    command.args(["config", "--get-all", "http.extraHeader"]);
    with_header(&mut command, Some("Authorization: Basic eDp5"));
    let output = run(command).await.unwrap();
    assert_eq!(output.trim(), "Authorization: Basic eDp5");
    // And `safe.directory` from `process::git` is still there.
    let mut command = git();
    command.args(["config", "--get-all", "safe.directory"]);
    with_header(&mut command, Some("Authorization: Basic eDp5"));
    assert_eq!(run(command).await.unwrap().trim(), "*");
}

fn refs(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
    entries.iter().map(|(name, oid)| ((*name).to_owned(), (*oid).to_owned())).collect()
}

#[test]
fn ref_listings_are_parsed_by_name() {
    let a = "a".repeat(40);
    let b = "b".repeat(40);
    let text = format!("{a} refs/heads/main\n{b} refs/tags/v1\n\n");
    assert_eq!(parse_refs(&text), refs(&[("refs/heads/main", &a), ("refs/tags/v1", &b)]));
}

#[test]
fn diffs_name_created_updated_and_deleted_refs() {
    let (a, b, c) = ("a".repeat(40), "b".repeat(40), "c".repeat(64));
    let zero = "0".repeat(40);
    let before = refs(&[("refs/heads/gone", &a), ("refs/heads/main", &a), ("refs/tags/v1", &b)]);
    let after = refs(&[("refs/heads/main", &b), ("refs/heads/new", &c), ("refs/tags/v1", &b)]);
    let change = |name: &str, old: &str, new: &str| RefChange {
        name: name.to_owned(),
        old: old.to_owned(),
        new: new.to_owned(),
    };
    assert_eq!(
        diff_refs(&before, &after),
        vec![
            change("refs/heads/gone", &a, &zero),
            change("refs/heads/main", &a, &b),
            // A SHA-256 repository's zeros are as long as its object ids.
            change("refs/heads/new", &"0".repeat(64), &c),
        ]
    );
    assert!(diff_refs(&after, &after).is_empty());
}

#[test]
fn urls_are_single_arguments_without_passwords() {
    for good in [
        "https://bitbucket.org/team/repo.git",
        "https://user@bitbucket.org/team/repo.git",
        "file:///srv/git/repo.git",
        "git@github.com:team/repo.git",
        "/srv/git/repo.git",
    ] {
        assert_eq!(check_url(good), Ok(()), "{good}");
    }
    for bad in ["", "--upload-pack=evil", "https://a b", "https://x\n", "https://user:pw@host/r"] {
        assert!(check_url(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_pull_is_due_when_never_done_or_an_interval_ago() {
    let mut mirrors = Mirrors::default();
    assert!(!mirrors.pull_due(10_000), "no pull mirror");
    mirrors.pull = Some(PullMirror {
        url: "file:///x".to_owned(),
        interval_seconds: 5,
        credentials_secret: None,
    });
    assert!(mirrors.pull_due(10_000));
    mirrors.status.last_pull = Some(Outcome { time_ms: 10_000, ok: false, message: String::new() });
    assert!(!mirrors.pull_due(14_999));
    assert!(mirrors.pull_due(15_000));
}

#[test]
fn pulled_changes_are_not_pushed_back_to_their_source() {
    let pulled = json!({ "user": MIRROR_USER });
    let pushed = json!({ "user": "ada" });
    assert!(!concerns(&pulled, "https://a", Some("https://a")));
    assert!(concerns(&pulled, "https://b", Some("https://a")));
    assert!(concerns(&pushed, "https://a", Some("https://a")));
    assert!(concerns(&pulled, "https://a", None));
}

#[test]
fn the_document_round_trips_without_secret_values() {
    let body = json!({
        "pull": { "url": "https://a", "intervalSeconds": 60, "credentialsSecret": "creds" },
        "push": [ { "url": "https://b" } ],
        "status": { "pushes": { "https://b": { "timeMs": 1, "ok": false, "message": "no" } } },
    });
    let mirrors: Mirrors = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(public(&mirrors), body);
}

// ---------------------------------------------------------------------------------------------
// Against real repositories.

async fn repository(ctx: &Context, name: &str) {
    let document = Document {
        kind: "repository".to_owned(),
        key: name.to_owned(),
        parent: None,
        sort: 0,
        version: 0,
        body: json!({ "repositoryName": name }),
    };
    ctx.store.apply(vec![Write::Insert(document)]).await.unwrap();
    crate::git::init_bare(&ctx.repo_path(name), "main").await.unwrap();
}

/// `git <args>` in `dir` with a committer, through the server's own git.
async fn git_in(dir: &Path, args: &[&str]) -> String {
    let mut command = git();
    command
        .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir);
    run(command).await.unwrap_or_else(|err| panic!("git {args:?}: {err}"))
}

/// A non-bare upstream with one commit on `main`; returns its `file://` URL.
async fn upstream(dir: &Path) -> String {
    std::fs::create_dir_all(dir).unwrap();
    git_in(dir, &["init", "-q", "-b", "main"]).await;
    std::fs::write(dir.join("a.txt"), "a\n").unwrap();
    git_in(dir, &["add", "a.txt"]).await;
    git_in(dir, &["commit", "-q", "-m", "first"]).await;
    format!("file://{}", dir.display())
}

async fn events(ctx: &Context, repo: &str) -> Vec<Value> {
    let query = ListQuery {
        kind: "ref-event".to_owned(),
        parent: Some(repo.to_owned()),
        descending: false,
        after: None,
        limit: 100,
    };
    ctx.store.list(&query).await.unwrap().documents.into_iter().map(|it| it.body).collect()
}

#[tokio::test]
async fn a_pull_fetches_branches_and_tags_and_records_events() {
    let (ctx, dir) = crate::test_context("us-east-1").await;
    repository(&ctx, "copy").await;
    let source = dir.path().join("upstream");
    let url = upstream(&source).await;
    git_in(&source, &["tag", "v1"]).await;
    git_in(&source, &["branch", "feature"]).await;

    assert!(matches!(sync(&ctx, "copy").await, Err(MirrorError::Invalid(_))), "no mirror yet");
    assert!(matches!(
        add_pull(&ctx, "nope", &url, 60, None).await,
        Err(MirrorError::NoRepository(_))
    ));
    assert!(matches!(
        add_pull(&ctx, "copy", &url, 60, Some("missing")).await,
        Err(MirrorError::Invalid(_))
    ));
    add_pull(&ctx, "copy", &url, 60, None).await.unwrap();
    let outcome = sync(&ctx, "copy").await.unwrap();
    assert_eq!(
        (outcome["ok"].clone(), outcome["message"].clone()),
        (json!(true), json!("3 refs changed"))
    );
    let head = git_in(&source, &["rev-parse", "HEAD"]).await;
    let listed = list_refs(&ctx.repo_path("copy")).await.unwrap();
    assert_eq!(listed.get("refs/heads/main").map(String::as_str), Some(head.trim()));
    assert!(listed.contains_key("refs/tags/v1"));
    let recorded = events(&ctx, "copy").await;
    assert_eq!(recorded.len(), 3);
    assert!(recorded.iter().all(|it| it["user"] == MIRROR_USER && it["event"] == "created"));

    // The branch deleted upstream is deleted here (and recorded); nothing else moves.
    git_in(&source, &["branch", "-D", "feature"]).await;
    let outcome = sync(&ctx, "copy").await.unwrap();
    assert_eq!(outcome["message"], "1 refs changed");
    let recorded = events(&ctx, "copy").await;
    assert_eq!(recorded.len(), 4);
    assert_eq!(
        (recorded[3]["ref"].clone(), recorded[3]["event"].clone()),
        (json!("refs/heads/feature"), json!("deleted"))
    );
    let status = list(&ctx, "copy").await.unwrap();
    assert_eq!(status["status"]["lastPull"]["ok"], true);

    // A source that is gone fails visibly.
    add_pull(&ctx, "copy", "file:///nonexistent/repo.git", 60, None).await.unwrap();
    let outcome = sync(&ctx, "copy").await.unwrap();
    assert_eq!(outcome["ok"], false);
    assert!(!outcome["message"].as_str().unwrap().is_empty());
    assert_eq!(list(&ctx, "copy").await.unwrap()["status"]["lastPull"], outcome);
    assert!(remove_pull(&ctx, "copy").await.unwrap());
    assert!(!remove_pull(&ctx, "copy").await.unwrap());
    assert_eq!(
        list(&ctx, "copy").await.unwrap(),
        json!({ "push": [], "status": { "pushes": {} } })
    );
}

#[tokio::test]
async fn owed_pushes_are_pushed_and_recorded() {
    let (ctx, dir) = crate::test_context("us-east-1").await;
    repository(&ctx, "origin").await;
    let source = dir.path().join("upstream");
    let url = upstream(&source).await;
    add_pull(&ctx, "origin", &url, 3600, None).await.unwrap();
    sync(&ctx, "origin").await.unwrap();
    let target = dir.path().join("target.git");
    git_in(dir.path(), &["init", "-q", "--bare", target.to_str().unwrap()]).await;
    let target_url = format!("file://{}", target.display());
    let dead_url = "file:///nonexistent/target.git";
    add_push(&ctx, "origin", &target_url, None).await.unwrap();
    add_push(&ctx, "origin", dead_url, None).await.unwrap();

    let running = Running::default();
    let mirrors = load(&ctx, "origin").await.unwrap().unwrap().0;
    start_pushes(&ctx, &running, "origin", &mirrors).await.unwrap();
    // Bounded: the failing push retries PUSH_ATTEMPTS times with 1 s and 2 s pauses.
    let mut status = json!(null);
    for _ in 0..200 {
        status = list(&ctx, "origin").await.unwrap()["status"]["pushes"].clone();
        if status.as_object().is_some_and(|it| it.len() == 2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status[&target_url]["ok"], true, "{status}");
    assert_eq!(status[dead_url]["ok"], false, "{status}");
    assert!(status[dead_url]["message"].as_str().unwrap().contains("after 3 attempts"), "{status}");
    let head = git_in(&source, &["rev-parse", "HEAD"]).await;
    let pushed = list_refs(&target).await.unwrap();
    assert_eq!(pushed.get("refs/heads/main").map(String::as_str), Some(head.trim()));
    // Both are paid (the failure is in the status, not retried until the next change).
    for _ in 0..100 {
        let cursor = edit_cursor(&ctx, "origin", 0, |_| {}).await.unwrap();
        if cursor.pending.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(edit_cursor(&ctx, "origin", 0, |_| {}).await.unwrap().pending.is_empty());
    assert!(remove_push(&ctx, "origin", dead_url).await.unwrap());
    assert!(!remove_push(&ctx, "origin", dead_url).await.unwrap());
}

/// Adding and removing a push mirror: the mirror and what is owed to it (the cursor's pending
/// push) change in one transaction, checked against whole-state snapshots.
#[tokio::test]
async fn a_push_mirror_and_its_owed_push_are_written_together() {
    use crate::state_snapshot::{changes, snapshot};
    let (ctx, _dir) = crate::test_context("us-east-1").await;
    repository(&ctx, "origin").await;
    let url = "file:///nonexistent/target.git";
    let before = snapshot(&ctx.store).await;
    add_push(&ctx, "origin", url, None).await.unwrap();
    let after = snapshot(&ctx.store).await;
    assert_eq!(
        changes(&before, &after),
        ["document mirror origin added", "document mirror-cursor origin added"]
    );
    assert!(after["document mirror-cursor origin"]["body"]["pending"].get(url).is_some());
    let other = "file:///nonexistent/other.git";
    add_push(&ctx, "origin", other, None).await.unwrap();
    let two = snapshot(&ctx.store).await;
    assert!(remove_push(&ctx, "origin", url).await.unwrap());
    let one = snapshot(&ctx.store).await;
    assert_eq!(
        changes(&two, &one),
        ["document mirror origin changed", "document mirror-cursor origin changed"]
    );
    assert!(one["document mirror-cursor origin"]["body"]["pending"].get(url).is_none());
    // The last one: the mirror document and the cursor go together.
    assert!(remove_push(&ctx, "origin", other).await.unwrap());
    assert_eq!(changes(&before, &snapshot(&ctx.store).await), Vec::<String>::new());
}
