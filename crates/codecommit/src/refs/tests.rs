//! Unit tests of reference events: numbering, cursors, and what a push without a report
//! applied.

// The tests run git themselves.
#![allow(clippy::disallowed_methods)]

use std::process::Command;

use engine::store::ListQuery;

use super::*;

const ZERO: &str = "0000000000000000000000000000000000000000";

fn command(old: &str, new: &str, name: &str) -> RefCommand {
    RefCommand { old: old.to_owned(), new: new.to_owned(), name: name.to_owned() }
}

#[tokio::test]
async fn events_are_numbered_in_order_and_listed_after_a_cursor() {
    let (ctx, _dir) = crate::test_context("us-east-1").await;
    let zero = "0".repeat(40);
    let one = "1".repeat(40);
    let first = [command(&zero, &one, "refs/heads/a"), command(&zero, &one, "refs/heads/b")];
    record_events(&ctx, "r", "alice", &first).await.unwrap();
    record_events(&ctx, "r", "bob", &[command(&one, &zero, "refs/heads/a")]).await.unwrap();
    record_events(&ctx, "other", "bob", &[command(&zero, &one, "refs/heads/c")]).await.unwrap();
    assert_eq!(latest_event(&ctx, "r").await.unwrap(), 3);
    assert_eq!(latest_event(&ctx, "other").await.unwrap(), 1);
    assert_eq!(latest_event(&ctx, "none").await.unwrap(), 0);
    let query = ListQuery {
        kind: REF_EVENT.to_owned(),
        parent: Some("r".to_owned()),
        descending: false,
        after: Some(event_cursor("r", 1)),
        limit: 10,
    };
    let page = ctx.store.list(&query).await.unwrap();
    let found: Vec<(String, i64, String, String)> = page
        .documents
        .iter()
        .map(|it| {
            let field = |name: &str| it.body[name].as_str().unwrap().to_owned();
            (it.key.clone(), it.sort, field("ref"), field("event"))
        })
        .collect();
    assert_eq!(
        found,
        [
            (ref_event_key("r", 2), 2, "refs/heads/b".to_owned(), "created".to_owned()),
            (ref_event_key("r", 3), 3, "refs/heads/a".to_owned(), "deleted".to_owned()),
        ]
    );
    assert_eq!(ref_event_key("r", 2), "r/000000000002");
    assert_eq!(ref_event_key("demo", 42), "demo/000000000042");
}

#[tokio::test]
async fn without_a_report_the_refs_say_what_a_push_did() {
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("x.git");
    crate::git::init_bare(&bare, "main").await.unwrap();
    let run = |args: &[&str]| {
        let output = Command::new("git")
            .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(dir.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    let bare_dir = bare.to_str().unwrap();
    let tree = run(&["--git-dir", bare_dir, "hash-object", "-t", "tree", "-w", "/dev/null"]);
    let commit = run(&["--git-dir", bare_dir, "commit-tree", &tree, "-m", "x"]);
    run(&["--git-dir", bare_dir, "update-ref", "refs/heads/main", &commit]);
    let commands = vec![
        command(ZERO, &commit, "refs/heads/main"),
        command(ZERO, &commit, "refs/heads/absent"),
        command(&commit, ZERO, "refs/heads/gone"),
        command(&commit, ZERO, "refs/heads/main"),
    ];
    let applied = applied_by_refs(&bare, &commands).await.unwrap();
    assert_eq!(applied, [commands[0].clone(), commands[2].clone()]);
}
