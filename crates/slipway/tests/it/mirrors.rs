//! Repository mirrors against `slipway server`: a pull mirror of a local bare repository
//! (`slipway mirror sync`, then the schedule), a push mirror to another repository of the same
//! server with credentials from a secret, and a push mirror that cannot be reached, whose
//! failure `slipway mirror list` shows.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use engine::store::{ListQuery, Store};
use serde_json::Value;

use crate::server::RunningServer;
use crate::support::GitCredentials;
use crate::{Run, Sandbox};

struct Setup {
    server: RunningServer,
    sandbox: Sandbox,
}

impl Setup {
    fn new() -> Setup {
        let sandbox = Sandbox::new();
        let server =
            RunningServer::start_with(&sandbox.path("data"), "127.0.0.1:0", &["--no-local-agent"]);
        Setup { server, sandbox }
    }

    fn scratch(&self, relative: &str) -> PathBuf {
        let path = self.sandbox.path(relative);
        std::fs::create_dir_all(&path).unwrap();
        path
    }

    fn slipway(&self, args: &[&str]) -> Run {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--data-dir", self.server.data_dir.to_str().unwrap()]);
        Run::from(self.sandbox.slipway(&all).output().unwrap())
    }

    fn create_repository(&self, name: &str) {
        self.server.json(&["codecommit", "create-repository", "--repository-name", name]);
    }

    /// The admin's git user name and password.
    fn git_credentials(&self) -> GitCredentials {
        let run = self.slipway(&["git-credentials", "create", "--user", "admin"]);
        run.expect_code(0);
        GitCredentials::parse(&run.stdout)
    }

    fn url(&self, repo: &str) -> String {
        format!("{}/v1/repos/{repo}", self.server.endpoint)
    }

    fn url_with(&self, credentials: &GitCredentials, repo: &str) -> String {
        credentials.url(&self.server.endpoint, repo)
    }

    fn mirrors(&self, repo: &str) -> Value {
        let run = self.slipway(&["mirror", "list", repo]);
        run.expect_code(0);
        serde_json::from_str(&run.stdout).unwrap_or_else(|err| panic!("{err}: {}", run.stdout))
    }

    /// Waits (at most `seconds`) until `check` holds, and says what was last seen otherwise.
    #[track_caller]
    fn eventually(&self, seconds: u64, what: &str, mut check: impl FnMut() -> Result<(), String>) {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            let last = match check() {
                Ok(()) => return,
                Err(last) => last,
            };
            assert!(Instant::now() < deadline, "{what} within {seconds} s; last seen: {last}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// `git <args>` in `cwd` with no configuration but ours.
#[track_caller]
fn git(cwd: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args(["-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(cwd)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .output()
        .expect("git is installed");
    let run = Run::from(output);
    assert_eq!(run.code, Some(0), "git {args:?}:\n{}{}", run.stdout, run.stderr);
    run.stdout
}

/// A work tree with one commit on `main`; returns its `HEAD`.
fn commit(work: &Path, file: &str) -> String {
    if !work.join(".git").exists() {
        git(work, &["init", "-q"]);
    }
    std::fs::write(work.join(file), format!("{file}\n")).unwrap();
    git(work, &["add", file]);
    git(work, &["commit", "-q", "-m", file]);
    git(work, &["rev-parse", "HEAD"]).trim().to_owned()
}

/// `refs/heads/main`'s commit on the remote, if it has that branch.
fn remote_main(cwd: &Path, url: &str) -> Option<String> {
    let listing = git(cwd, &["ls-remote", url, "refs/heads/main"]);
    listing.split_whitespace().next().map(str::to_owned)
}

fn ref_events(data_dir: &Path, repo: &str) -> Vec<Value> {
    let url = format!("sqlite:{}/slipway.db", data_dir.display());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let store = Store::connect(&url).await.unwrap();
        let query = ListQuery {
            kind: "ref-event".to_owned(),
            parent: Some(repo.to_owned()),
            descending: false,
            after: None,
            limit: 1000,
        };
        store.list(&query).await.unwrap().documents.into_iter().map(|it| it.body).collect()
    })
}

#[test]
fn a_pull_mirror_syncs_on_demand_and_on_schedule() {
    let setup = Setup::new();
    setup.create_repository("copy");
    let upstream = setup.scratch("upstream.git");
    git(&upstream, &["init", "-q", "--bare"]);
    let work = setup.scratch("work");
    let first = commit(&work, "a.txt");
    let upstream_url = format!("file://{}", upstream.display());
    git(&work, &["push", "-q", &upstream_url, "main", "main:feature"]);

    setup.slipway(&["mirror", "sync", "copy"]).expect_code(2);
    setup.slipway(&["mirror", "add", "nope", "--pull", &upstream_url]).expect_code(2);
    let added =
        setup.slipway(&["mirror", "add", "copy", "--pull", &upstream_url, "--interval", "1"]);
    added.expect_code(0);
    assert!(added.stdout.contains("\"intervalSeconds\": 1"), "{}", added.stdout);
    let synced = setup.slipway(&["mirror", "sync", "copy"]);
    synced.expect_code(0);
    assert!(synced.stdout.contains("\"ok\": true"), "{}", synced.stdout);

    let credentials = setup.git_credentials();
    let copy = setup.url_with(&credentials, "copy");
    let listing = git(&work, &["ls-remote", &copy]);
    assert!(listing.contains(&format!("{first}\trefs/heads/main")), "{listing}");
    assert!(listing.contains(&format!("{first}\trefs/heads/feature")), "{listing}");
    let events = ref_events(&setup.server.data_dir, "copy");
    assert!(
        events.iter().any(|it| it["ref"] == "refs/heads/main"
            && it["user"] == "mirror"
            && it["newCommit"] == first.as_str()),
        "{events:?}"
    );

    // A new commit upstream arrives by the schedule alone.
    let second = commit(&work, "b.txt");
    git(&work, &["push", "-q", &upstream_url, "main"]);
    setup.eventually(15, "the scheduled pull", || match remote_main(&work, &copy) {
        Some(head) if head == second => Ok(()),
        other => Err(format!("{other:?}")),
    });
    let status = setup.mirrors("copy");
    assert_eq!(status["status"]["lastPull"]["ok"], true, "{status}");
    setup.slipway(&["mirror", "remove", "copy", "--pull"]).expect_code(0);
    setup.slipway(&["mirror", "remove", "copy", "--pull"]).expect_code(2);
}

#[test]
fn a_push_mirror_follows_pushes_with_credentials_from_a_secret() {
    let setup = Setup::new();
    setup.create_repository("source");
    setup.create_repository("target");
    let credentials = setup.git_credentials();
    let secret = format!("{}:{}", credentials.username, credentials.password);
    setup.server.json(&[
        "secretsmanager",
        "create-secret",
        "--name",
        "mirror-creds",
        "--secret-string",
        &secret,
    ]);
    // A URL with the password in it is refused: that is what the secret is for.
    let with_password = setup.url_with(&credentials, "target");
    setup.slipway(&["mirror", "add", "source", "--push", &with_password]).expect_code(2);
    let target = setup.url("target");
    setup
        .slipway(&["mirror", "add", "source", "--push", &target, "--credentials", "mirror-creds"])
        .expect_code(0);

    let work = setup.scratch("work");
    let head = commit(&work, "a.txt");
    git(&work, &["push", "-q", &setup.url_with(&credentials, "source"), "main"]);
    let target_with = setup.url_with(&credentials, "target");
    setup.eventually(15, "the push mirror", || match remote_main(&work, &target_with) {
        Some(pushed) if pushed == head => Ok(()),
        other => Err(format!("{other:?}")),
    });
    setup.eventually(5, "the push's status", || {
        let status = setup.mirrors("source");
        if status["status"]["pushes"][&target]["ok"] == true {
            Ok(())
        } else {
            Err(status.to_string())
        }
    });
    let listed = setup.mirrors("source").to_string();
    assert!(!listed.contains(&credentials.password), "the password is never listed: {listed}");
    setup.slipway(&["mirror", "remove", "source", "--push", &target]).expect_code(0);
}

#[test]
fn an_unreachable_push_mirror_shows_its_failure() {
    let setup = Setup::new();
    setup.create_repository("source");
    let credentials = setup.git_credentials();
    let work = setup.scratch("work");
    commit(&work, "a.txt");
    git(&work, &["push", "-q", &setup.url_with(&credentials, "source"), "main"]);
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let nowhere = "http://127.0.0.1:1/v1/repos/nowhere";
    setup.slipway(&["mirror", "add", "source", "--push", nowhere]).expect_code(0);
    // Three attempts, 1 s and 2 s apart.
    setup.eventually(20, "the recorded failure", || {
        let status = setup.mirrors("source");
        let push = &status["status"]["pushes"][nowhere];
        let failed =
            push["ok"] == false && push["message"].as_str().is_some_and(|it| !it.is_empty());
        if failed { Ok(()) } else { Err(status.to_string()) }
    });
}
