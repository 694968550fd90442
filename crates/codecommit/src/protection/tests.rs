//! Tests of branch protection: glob matching, the rules as policy statements (and their
//! evaluation), how several rules combine, the policy file's lines, and the hook script
//! deciding on a real repository.

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
fn globs_match_as_iam_string_like_does() {
    assert!(glob_matches("main", "main"));
    assert!(!glob_matches("main", "main2"));
    assert!(!glob_matches("main", "mai"));
    assert!(glob_matches("release/*", "release/1.0"));
    // As in IAM, `*` crosses `/`; `**` means the same.
    assert!(glob_matches("release/*", "release/1.0/hotfix"));
    assert!(!glob_matches("release/*", "releases/1.0"));
    assert!(glob_matches("release/**", "release/1.0/hotfix"));
    assert!(glob_matches("**", "any/thing"));
    assert!(glob_matches("*", "feature/x"));
    assert!(glob_matches("v?.x", "v1.x"));
    assert!(glob_matches("feat-*-done", "feat-abc-done"));
    assert!(glob_matches("feat-*-done", "feat--done"));
    assert_eq!(reference_pattern("release/**"), "refs/heads/release/*");
    assert_eq!(reference_pattern("x${aws:username}"), "refs/heads/x${$}{aws:username}");
}

#[test]
fn every_matching_rule_must_allow_and_null_lists_allow_anyone() {
    let rules = vec![
        rule("main", Some(&["alice", "ci"]), Some(&[]), None),
        rule("ma*", Some(&["alice", "bob"]), Some(&["alice", "bob"]), Some(&["admin"])),
        rule("release/*", None, None, None),
    ];
    // main: force pushes are nobody's, whoever the other rule lets.
    let force = refusal(&rules, "alice", "refs/heads/main", Action::ForcePush).unwrap();
    assert!(force.contains("alice may not force-push branch main: nobody may"), "{force}");
    assert!(force.contains("protection rule main"), "{force}");
    let delete = refusal(&rules, "alice", "refs/heads/main", Action::Delete).unwrap();
    assert!(delete.contains("only admin"), "{delete}");
    assert!(delete.contains("protection rule ma*"), "{delete}");
    assert_eq!(refusal(&rules, "admin", "refs/heads/main", Action::Delete), None);
    assert_eq!(refusal(&rules, "bob", "refs/heads/mast", Action::ForcePush), None);
    // The release rule lets anyone do anything.
    for action in [Action::ForcePush, Action::Delete] {
        assert_eq!(refusal(&rules, "eve", "refs/heads/release/1.0", action), None);
    }
    // Tags and other refs are not protected; no rules protect nothing.
    assert_eq!(refusal(&rules, "eve", "refs/tags/main", Action::Delete), None);
    assert_eq!(refusal(&rules, "eve", "refs/notes/commits", Action::ForcePush), None);
    assert_eq!(refusal(&[], "eve", "refs/heads/main", Action::Delete), None);
}

/// Rules of two repositories: `web`'s main only alice and ci may push (nobody may rewrite or
/// delete it), its release branches nobody; `api`'s keep only alice may delete.
fn example_rules() -> BTreeMap<String, Vec<BranchRule>> {
    BTreeMap::from([
        (
            "web".to_owned(),
            vec![
                rule("main", Some(&["alice", "ci"]), Some(&[]), Some(&[])),
                rule("release/**", Some(&[]), None, None),
            ],
        ),
        ("api".to_owned(), vec![rule("keep", None, None, Some(&["alice"]))]),
    ])
}

#[test]
fn rules_become_one_deny_statement_per_rule_and_list() {
    let document = policy_document("us-east-1", "000000000000", &example_rules()).unwrap();
    insta::assert_snapshot!(document);
    // It is a valid identity policy; no rules, no policy.
    iam::policy::Policy::parse_identity(&document).unwrap();
    assert_eq!(policy_document("us-east-1", "000000000000", &BTreeMap::new()), None);
    let only_force =
        BTreeMap::from([("web".to_owned(), vec![rule("main", None, Some(&[]), None)])]);
    assert_eq!(policy_document("us-east-1", "000000000000", &only_force), None);
}

/// Whether `user` may perform `action` on `repo` moving `references`, under the generated
/// policy and an allow of everything (as AdministratorAccess).
fn allowed(user: &str, action: &str, repo: &str, references: &[&str]) -> bool {
    use iam::policy::{Context as Keys, Decision, Policy, Principal, Request, evaluate};
    let protection = policy_document("us-east-1", "000000000000", &example_rules()).unwrap();
    let protection = Policy::parse_identity(&protection).unwrap();
    let admin =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    let admin = Policy::parse_identity(admin).unwrap();
    let principal = Principal {
        arn: format!("arn:aws:iam::000000000000:user/{user}"),
        account: "000000000000".to_owned(),
        user_name: Some(user.to_owned()),
        user_id: "AIDA".to_owned(),
    };
    let mut keys = Keys::new();
    if !references.is_empty() {
        keys.set("codecommit:References", references.iter().map(|it| (*it).to_owned()).collect());
    }
    let resource = format!("arn:aws:codecommit:us-east-1:000000000000:{repo}");
    let request = Request { principal: &principal, action, resource: &resource, context: &keys };
    let evaluation = evaluate(&[("admin", &admin), ("protection", &protection)], &request);
    match evaluation.decision {
        Decision::Allowed => true,
        Decision::ExplicitDeny => {
            let message = evaluation.refusal(&request).unwrap();
            assert!(message.contains("with an explicit deny"), "{message}");
            false
        }
        Decision::ImplicitDeny => panic!("the admin policy allows everything"),
    }
}

#[test]
fn the_generated_policy_decides_pushes_merges_and_deletes() {
    let main = ["refs/heads/main"];
    // A push, a commit, a merge into main: alice and ci only.
    for action in [
        "codecommit:GitPush",
        "codecommit:PutFile",
        "codecommit:CreateCommit",
        "codecommit:MergePullRequestBySquash",
        "codecommit:MergeBranchesByFastForward",
    ] {
        assert!(allowed("alice", action, "web", &main), "{action}");
        assert!(allowed("ci", action, "web", &main), "{action}");
        assert!(!allowed("bob", action, "web", &main), "{action}");
        // Elsewhere, and in another repository, anyone.
        assert!(allowed("bob", action, "web", &["refs/heads/topic"]), "{action}");
        assert!(allowed("bob", action, "api", &main), "{action}");
    }
    // A push moving main among other refs is refused whole.
    assert!(!allowed("bob", "codecommit:GitPush", "web", &["refs/heads/topic", "refs/heads/main"]));
    // A push that names no ref (the advertisement before it) is not a branch's.
    assert!(allowed("bob", "codecommit:GitPush", "web", &[]));
    // Release branches, at any depth: nobody, alice included.
    let release = ["refs/heads/release/1.0/hotfix"];
    assert!(!allowed("alice", "codecommit:CreateBranch", "web", &release));
    assert!(!allowed("alice", "codecommit:GitPush", "web", &release));
    // DeleteBranch: main nobody's; api's keep alice's only; pushing keep is anyone's.
    assert!(!allowed("alice", "codecommit:DeleteBranch", "web", &main));
    assert!(allowed("alice", "codecommit:DeleteBranch", "api", &["refs/heads/keep"]));
    assert!(!allowed("admin", "codecommit:DeleteBranch", "api", &["refs/heads/keep"]));
    assert!(allowed("admin", "codecommit:GitPush", "api", &["refs/heads/keep"]));
    // A branch named like a policy variable is only that branch.
    let odd =
        BTreeMap::from([("web".to_owned(), vec![rule("${aws:username}", Some(&[]), None, None)])]);
    let document = policy_document("us-east-1", "000000000000", &odd).unwrap();
    let policy = iam::policy::Policy::parse_identity(&document).unwrap();
    let principal = iam::policy::Principal {
        arn: "arn:aws:iam::000000000000:user/bob".to_owned(),
        account: "000000000000".to_owned(),
        user_name: Some("bob".to_owned()),
        user_id: "AIDA".to_owned(),
    };
    let decide = |reference: &str| {
        let mut keys = iam::policy::Context::new();
        keys.set("codecommit:References", vec![reference.to_owned()]);
        let request = iam::policy::Request {
            principal: &principal,
            action: "codecommit:GitPush",
            resource: "arn:aws:codecommit:us-east-1:000000000000:web",
            context: &keys,
        };
        iam::policy::evaluate(&[("protection", &policy)], &request).decision
    };
    assert_eq!(decide("refs/heads/${aws:username}"), iam::policy::Decision::ExplicitDeny);
    assert_ne!(decide("refs/heads/bob"), iam::policy::Decision::ExplicitDeny);
    // Reading is never denied.
    assert!(allowed("bob", "codecommit:GitPull", "web", &[]));
    assert!(allowed("bob", "codecommit:GetBranch", "web", &main));
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
    // Whether bob may push at all is the policy's: the hook only tells force pushes and
    // deletes.
    let bob = policy_lines(&rules, "bob", Some(&commands));
    assert_eq!(bob, alice.replace("alice", "bob"), "{bob}");
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

/// The statements of the account-level policy as stored (none when there is no policy).
async fn stored_statements(ctx: &Context) -> Vec<Value> {
    let Some(document) = ctx.store.get(POLICY, BRANCH_PROTECTION_POLICY).await.unwrap() else {
        return Vec::new();
    };
    assert_eq!(document.body["path"], "/slipway/");
    let record: iam::policies::PolicyRecord = serde_json::from_value(document.body).unwrap();
    let policy: Value = serde_json::from_str(record.default_document().unwrap()).unwrap();
    policy["Statement"].as_array().unwrap().clone()
}

fn resources(statements: &[Value]) -> Vec<&str> {
    statements.iter().map(|it| it["Resource"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn every_rule_change_rewrites_the_policy_and_repositories_take_theirs_along() {
    let (ctx, _dir) = crate::test_context("us-east-1").await;
    let caller =
        awsapi::Caller { user: "admin".to_owned(), access_key_id: String::new(), host: "h".into() };
    for name in ["web", "api"] {
        let input = crate::api::CreateRepositoryInput {
            repository_name: Some(name.to_owned()),
            ..Default::default()
        };
        crate::api::create_repository(&ctx, &caller, input, 0).await.unwrap();
    }
    let alice = Document {
        kind: USER.to_owned(),
        key: "alice".to_owned(),
        parent: None,
        sort: 0,
        version: 0,
        body: json!({}),
    };
    ctx.store.apply(vec![Write::Insert(alice)]).await.unwrap();
    let arn = |repo: &str| format!("arn:aws:codecommit:us-east-1:000000000000:{repo}");

    set_rule(&ctx, "web", rule("main", Some(&["alice"]), None, None)).await.unwrap();
    set_rule(&ctx, "api", rule("keep", None, Some(&[]), Some(&[]))).await.unwrap();
    let statements = stored_statements(&ctx).await;
    assert_eq!(resources(&statements), [arn("api"), arn("web")]);
    assert_eq!(statements[0]["Action"], json!(["codecommit:DeleteBranch"]));
    assert_eq!(shown_statements(&ctx, "web").await.unwrap(), statements[1..]);
    // Setting the same rule again writes no new version.
    let version = |ctx: &Context| {
        let ctx = ctx.clone();
        async move {
            let document = ctx.store.get(POLICY, BRANCH_PROTECTION_POLICY).await.unwrap();
            document.unwrap().body["defaultVersionId"].as_str().unwrap().to_owned()
        }
    };
    assert_eq!(version(&ctx).await, "v2");
    set_rule(&ctx, "web", rule("main", Some(&["alice"]), None, None)).await.unwrap();
    assert_eq!(version(&ctx).await, "v2");

    // A renamed repository's statements name its new ARN; a deleted one's go.
    let rename = crate::api::UpdateRepositoryNameInput {
        old_name: Some("web".to_owned()),
        new_name: Some("site".to_owned()),
    };
    crate::api::update_repository_name(&ctx, rename).await.unwrap();
    assert_eq!(resources(&stored_statements(&ctx).await), [arn("api"), arn("site")]);
    let delete = crate::api::DeleteRepositoryInput { repository_name: Some("api".to_owned()) };
    crate::api::delete_repository(&ctx, delete).await.unwrap();
    assert_eq!(resources(&stored_statements(&ctx).await), [arn("site")]);
    // The last rule gone, so is the policy.
    assert!(remove_rule(&ctx, "site", "main").await.unwrap());
    assert!(ctx.store.get(POLICY, BRANCH_PROTECTION_POLICY).await.unwrap().is_none());
    assert!(shown_statements(&ctx, "site").await.unwrap().is_empty());
}

#[tokio::test]
async fn rules_stored_before_they_were_policy_are_written_as_policy_once() {
    let (ctx, _dir) = crate::test_context("us-east-1").await;
    let document = |kind: &str, key: &str, body: Value| Document {
        kind: kind.to_owned(),
        key: key.to_owned(),
        parent: None,
        sort: 0,
        version: 0,
        body,
    };
    // What an older installation has: its installation document and rules, no policy.
    let old_rules = json!({ "rules": [ { "branch": "main", "push": ["alice"] } ] });
    let writes = vec![
        Write::Insert(document(INSTALLATION, "key", json!({ "fingerprint": "f" }))),
        Write::Insert(document(BRANCH_PROTECTION, "web", old_rules)),
    ];
    ctx.store.apply(writes).await.unwrap();
    assert!(stored_statements(&ctx).await.is_empty());
    assert!(convert_rules_to_policy(&ctx, "key").await.unwrap());
    let statements = stored_statements(&ctx).await;
    assert_eq!(resources(&statements), ["arn:aws:codecommit:us-east-1:000000000000:web"]);
    let marker = ctx.store.get(INSTALLATION, "key").await.unwrap().unwrap();
    assert!(marker.body[CONVERTED_MARKER].is_i64(), "{}", marker.body);
    assert_eq!(marker.body["fingerprint"], "f");
    // Once: a policy removed since is not written again; no installation, nothing done.
    ctx.store
        .apply(vec![Write::Delete {
            kind: POLICY.to_owned(),
            key: BRANCH_PROTECTION_POLICY.into(),
        }])
        .await
        .unwrap();
    assert!(!convert_rules_to_policy(&ctx, "key").await.unwrap());
    assert!(stored_statements(&ctx).await.is_empty());
    assert!(!convert_rules_to_policy(&ctx, "other").await.unwrap());
}

#[tokio::test]
async fn many_rules_are_written_beyond_the_managed_policy_size_quota() {
    let (ctx, _dir) = crate::test_context("us-east-1").await;
    let caller =
        awsapi::Caller { user: "admin".to_owned(), access_key_id: String::new(), host: "h".into() };
    let input = crate::api::CreateRepositoryInput {
        repository_name: Some("web".to_owned()),
        ..Default::default()
    };
    crate::api::create_repository(&ctx, &caller, input, 0).await.unwrap();
    let alice = Document {
        kind: USER.to_owned(),
        key: "alice".to_owned(),
        parent: None,
        sort: 0,
        version: 0,
        body: json!({}),
    };
    ctx.store.apply(vec![Write::Insert(alice)]).await.unwrap();
    // Forty rules: far more than IAM's 6,144 characters of a managed policy.
    for index in 0..40 {
        let branch = format!("release/{index}/*");
        set_rule(&ctx, "web", rule(&branch, Some(&["alice"]), Some(&[]), Some(&[]))).await.unwrap();
    }
    let document = ctx.store.get(POLICY, BRANCH_PROTECTION_POLICY).await.unwrap().unwrap();
    let record: iam::policies::PolicyRecord = serde_json::from_value(document.body).unwrap();
    let text = record.default_document().unwrap();
    let size = text.chars().filter(|c| !c.is_whitespace()).count();
    assert!(size > 6_144, "{size}");
    // Every rule is in it, the last one set included.
    let statements = stored_statements(&ctx).await;
    assert_eq!(statements.len(), 80);
    let last = serde_json::to_string(&statements).unwrap();
    assert!(last.contains("refs/heads/release/39/*"), "{last}");
}
