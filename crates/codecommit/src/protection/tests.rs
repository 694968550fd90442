//! Tests of branch protection: glob matching, how several rules combine, the policy file's
//! lines, and the hook script deciding on a real repository.

#![allow(clippy::disallowed_methods)]

use std::process::Command;

use super::*;

fn rule(
    branch: &str,
    push: Option<&[&str]>,
    force: Option<&[&str]>,
    delete: Option<&[&str]>,
) -> BranchRule {
    let list =
        |it: Option<&[&str]>| it.map(|users| users.iter().map(|u| (*u).to_owned()).collect());
    BranchRule {
        branch: branch.to_owned(),
        push: list(push),
        force_push: list(force),
        delete: list(delete),
    }
}

fn command(old: &str, new: &str, name: &str) -> RefCommand {
    RefCommand { old: old.repeat(40), new: new.repeat(40), name: name.to_owned() }
}

#[test]
fn globs_match_within_and_across_components() {
    assert!(glob_matches("main", "main"));
    assert!(!glob_matches("main", "main2"));
    assert!(!glob_matches("main", "mai"));
    assert!(glob_matches("release/*", "release/1.0"));
    assert!(!glob_matches("release/*", "release/1.0/hotfix"));
    assert!(!glob_matches("release/*", "releases/1.0"));
    assert!(glob_matches("release/**", "release/1.0/hotfix"));
    assert!(glob_matches("**", "any/thing"));
    assert!(glob_matches("*", "main"));
    assert!(!glob_matches("*", "feature/x"));
    assert!(glob_matches("v?.x", "v1.x"));
    assert!(!glob_matches("v?.x", "v/.x"));
    assert!(glob_matches("feat-*-done", "feat-abc-done"));
    assert!(glob_matches("feat-*-done", "feat--done"));
}

#[test]
fn every_matching_rule_must_allow_and_null_lists_allow_anyone() {
    let rules = vec![
        rule("main", Some(&["alice", "ci"]), Some(&[]), None),
        rule("*", Some(&["alice", "bob"]), None, Some(&["admin"])),
        rule("release/*", None, None, None),
    ];
    // main: push needs both rules → only alice.
    assert_eq!(refusal(&rules, "alice", "refs/heads/main", Action::Push), None);
    let bob = refusal(&rules, "bob", "refs/heads/main", Action::Push).unwrap();
    assert!(bob.contains("bob may not push branch main"), "{bob}");
    assert!(bob.contains("only alice, ci"), "{bob}");
    let ci = refusal(&rules, "ci", "refs/heads/main", Action::Push).unwrap();
    assert!(ci.contains("protection rule *"), "{ci}");
    // An empty list lets nobody.
    let force = refusal(&rules, "alice", "refs/heads/main", Action::ForcePush).unwrap();
    assert!(force.contains("nobody may"), "{force}");
    assert!(refusal(&rules, "alice", "refs/heads/main", Action::Delete).is_some());
    assert_eq!(refusal(&rules, "admin", "refs/heads/main", Action::Delete), None);
    // `*` does not reach into `release/…`, whose rule lets anyone do anything.
    for action in [Action::Push, Action::ForcePush, Action::Delete] {
        assert_eq!(refusal(&rules, "eve", "refs/heads/release/1.0", action), None);
    }
    // Tags and other refs are not protected; no rules protect nothing.
    assert_eq!(refusal(&rules, "eve", "refs/tags/main", Action::Delete), None);
    assert_eq!(refusal(&rules, "eve", "refs/notes/commits", Action::Push), None);
    assert_eq!(refusal(&[], "eve", "refs/heads/main", Action::Delete), None);
}

#[test]
fn rules_read_from_their_json_with_absent_lists_as_anyone() {
    let body = json!({ "rules": [
        { "branch": "main", "push": ["alice"], "forcePush": null },
        { "branch": "dev" },
    ] });
    assert_eq!(
        rules_of(&body),
        vec![rule("main", Some(&["alice"]), None, None), rule("dev", None, None, None)]
    );
    assert_eq!(
        serde_json::to_value(rule("x", None, Some(&["a"]), None)).unwrap(),
        json!({ "branch": "x", "push": null, "forcePush": ["a"], "delete": null })
    );
    assert!(rules_of(&json!({ "rules": "nonsense" })).is_empty());
}

#[test]
fn the_policy_lists_what_this_user_may_not_do_to_each_pushed_ref() {
    let rules = vec![rule("main", Some(&["alice"]), Some(&[]), Some(&[]))];
    let commands = [
        command("0", "a", "refs/heads/main"),
        command("a", "b", "refs/heads/main"),
        command("b", "0", "refs/heads/main"),
        command("a", "b", "refs/heads/free"),
        command("0", "a", "refs/tags/main"),
    ];
    let alice = policy_lines(&rules, "alice", Some(&commands));
    let lines: Vec<(&str, &str)> = alice
        .lines()
        .map(|line| {
            let mut parts = line.split('\t');
            (parts.next().unwrap(), parts.next().unwrap())
        })
        .collect();
    assert_eq!(
        lines,
        [("refs/heads/main", "force-push"), ("refs/heads/main", "delete")],
        "{alice}"
    );
    let bob = policy_lines(&rules, "bob", Some(&commands));
    assert_eq!(bob.lines().count(), 3, "{bob}");
    assert!(bob.lines().all(|line| line.split('\t').count() == 3), "{bob}");
    assert!(policy_lines(&rules, "bob", Some(&[])).is_empty());
    assert!(policy_lines(&rules, "bob", None).starts_with("*\t*\t"));
}

/// Runs the hook in `dir` with `stdin` and the policy file, as receive-pack would.
fn run_hook(dir: &Path, policy: Option<&Path>, stdin: &str) -> (bool, String) {
    use std::io::Write as _;
    let mut command = Command::new(dir.join("hooks/pre-receive"));
    command
        .current_dir(dir)
        .env("GIT_DIR", dir)
        .env_remove(POLICY_ENV)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(policy) = policy {
        command.env(POLICY_ENV, policy);
    }
    let mut child = command.spawn().unwrap();
    // The hook may decide (fail closed) before it reads its input: a closed pipe is fine.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let output = child.wait_with_output().unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[tokio::test]
async fn the_hook_tells_fast_forwards_from_force_pushes_and_fails_closed() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("repo.git");
    crate::git::init_bare(&dir, "main").await.unwrap();
    // Installing again leaves the hook as it is.
    install_hook(&dir).await.unwrap();
    let work = scratch.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q"]);
    git(&work, &["commit", "-q", "--allow-empty", "-m", "one"]);
    let one = git(&work, &["rev-parse", "HEAD"]);
    git(&work, &["commit", "-q", "--allow-empty", "-m", "two"]);
    let two = git(&work, &["rev-parse", "HEAD"]);
    git(&work, &["push", "-q", dir.to_str().unwrap(), "HEAD:refs/heads/main"]);
    let zero = "0".repeat(40);

    let rules = vec![rule("main", Some(&["alice"]), Some(&[]), Some(&[]))];
    let policy = PushPolicy::new(&dir, rules, "alice").unwrap();
    policy
        .write(Some(&[command("a", "b", "refs/heads/main"), command("b", "0", "refs/heads/main")]))
        .await;
    let path = Some(policy.path.as_path());
    // A fast-forward is a push, which alice may do.
    assert_eq!(
        run_hook(&dir, path, &format!("{one} {two} refs/heads/main\n")),
        (true, String::new())
    );
    // Backwards is a force push, which nobody may do.
    let (ok, stderr) = run_hook(&dir, path, &format!("{two} {one} refs/heads/main\n"));
    assert!(!ok);
    assert!(
        stderr.contains("refused: alice may not force-push branch main: nobody may"),
        "{stderr}"
    );
    let (ok, stderr) = run_hook(&dir, path, &format!("{two} {zero} refs/heads/main\n"));
    assert!(!ok && stderr.contains("may not delete"), "{stderr}");
    // Other refs pass.
    assert!(run_hook(&dir, path, &format!("{two} {one} refs/heads/free\n")).0);
    // Without a policy nothing is protected; with one that is missing, everything is.
    assert!(run_hook(&dir, None, &format!("{two} {one} refs/heads/main\n")).0);
    let (ok, stderr) =
        run_hook(&dir, Some(&dir.join("missing")), &format!("{one} {two} refs/heads/x\n"));
    assert!(!ok && stderr.contains("could not be checked"), "{stderr}");
}
