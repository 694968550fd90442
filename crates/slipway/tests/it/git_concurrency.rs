//! Concurrent pushes against `slipway server`: 50 pushes to 50 different branches at once, and
//! 20 pushes racing for one branch. Every push git accepted must be exactly one `ref-event`
//! document (numbered without gaps or repeats, the racing ones forming one chain of updates),
//! no rejected push may leave an event, and `git fsck --strict` must find the bare repository
//! clean afterwards.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use engine::store::{ListQuery, Store};
use serde_json::Value;

use crate::server::RunningServer;
use crate::support::{self, GitCredentials};
use crate::{Run, Sandbox};

/// How long any one git process may take before the test gives up on it.
const PROCESS_TIMEOUT: Duration = Duration::from_secs(45);

/// Runs `command`, failing the test if it has not finished within [`PROCESS_TIMEOUT`].
fn bounded(command: &mut Command) -> Run {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + PROCESS_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} did not finish within {PROCESS_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run { code: status.code(), stdout: stdout.join().unwrap(), stderr: stderr.join().unwrap() }
}

/// `git <args>` in `dir`, with no user or system configuration and a fixed author.
fn git(dir: &Path, args: &[&str]) -> Run {
    bounded(support::git_command(dir, args).env("GIT_CONFIG_NOSYSTEM", "1"))
}

#[track_caller]
fn git_ok(dir: &Path, args: &[&str]) -> String {
    let run = git(dir, args);
    assert_eq!(
        run.code,
        Some(0),
        "git {args:?} in {}:\n{}{}",
        dir.display(),
        run.stdout,
        run.stderr
    );
    run.stdout
}

/// A server without an embedded agent, one repository, and a push URL with git credentials.
struct Hosted {
    sandbox: Sandbox,
    server: RunningServer,
    name: &'static str,
    url: String,
}

impl Hosted {
    fn start(name: &'static str) -> Hosted {
        let sandbox = Sandbox::new();
        let server =
            RunningServer::start_with(&sandbox.path("data"), "127.0.0.1:0", &["--no-local-agent"]);
        server.json(&["codecommit", "create-repository", "--repository-name", name]);
        let data = server.data_dir.to_str().unwrap().to_owned();
        let credentials = bounded(&mut sandbox.slipway(&[
            "git-credentials",
            "create",
            "--user",
            "admin",
            "--data-dir",
            &data,
        ]));
        credentials.expect_code(0);
        let url = GitCredentials::parse(&credentials.stdout).url(&server.endpoint, name);
        Hosted { sandbox, server, name, url }
    }

    /// A local repository with one commit on `main`, pushed to the server; returns its path
    /// and the commit.
    fn push_base(&self) -> (PathBuf, String) {
        let base = self.sandbox.path("base");
        std::fs::create_dir_all(&base).unwrap();
        git_ok(&base, &["init", "-q", "-b", "main"]);
        std::fs::write(base.join("README.md"), "base\n").unwrap();
        git_ok(&base, &["add", "README.md"]);
        git_ok(&base, &["commit", "-q", "-m", "base"]);
        git_ok(&base, &["push", "-q", &self.url, "main"]);
        let commit = git_ok(&base, &["rev-parse", "HEAD"]).trim().to_owned();
        (base, commit)
    }

    /// `count` clones of `base`, each with one commit of its own on top; returns each clone's
    /// path and commit.
    fn clones(&self, base: &Path, count: usize) -> Vec<(PathBuf, String)> {
        let clients = self.sandbox.path("clients");
        std::fs::create_dir_all(&clients).unwrap();
        // Two at a time: there are two cores.
        let prepare = |i: usize| {
            let name = format!("c{i:02}");
            git_ok(&clients, &["clone", "-q", "--shared", base.to_str().unwrap(), &name]);
            let dir = clients.join(&name);
            std::fs::write(dir.join(format!("file-{i:02}.txt")), format!("clone {i}\n")).unwrap();
            git_ok(&dir, &["add", "."]);
            git_ok(&dir, &["commit", "-q", "-m", &format!("commit of clone {i}")]);
            let commit = git_ok(&dir, &["rev-parse", "HEAD"]).trim().to_owned();
            (dir, commit)
        };
        let mut clones = Vec::with_capacity(count);
        for pair in (0..count).collect::<Vec<_>>().chunks(2) {
            let done: Vec<_> = std::thread::scope(|scope| {
                let handles: Vec<_> =
                    pair.iter().map(|&i| scope.spawn(move || prepare(i))).collect();
                handles.into_iter().map(|it| it.join().unwrap()).collect()
            });
            clones.extend(done);
        }
        clones
    }

    /// Runs one `git push -q URL <refspec>` from each clone at the same time; returns each
    /// push's result, in the clones' order.
    fn push_all(&self, pushes: &[(PathBuf, String)]) -> Vec<Run> {
        let barrier = std::sync::Barrier::new(pushes.len());
        std::thread::scope(|scope| {
            let handles: Vec<_> = pushes
                .iter()
                .map(|(dir, refspec)| {
                    let barrier = &barrier;
                    scope.spawn(move || {
                        barrier.wait();
                        git(dir, &["push", "-q", &self.url, refspec])
                    })
                })
                .collect();
            handles.into_iter().map(|it| it.join().unwrap()).collect()
        })
    }

    /// The repository's ref events as `(sequence number, body)`, in the store's order.
    fn events(&self) -> Vec<(i64, Value)> {
        let url = format!("sqlite:{}/slipway.db", self.server.data_dir.display());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let store = Store::connect(&url).await.unwrap();
            let query = ListQuery {
                kind: "ref-event".to_owned(),
                parent: Some(self.name.to_owned()),
                descending: false,
                after: None,
                limit: 1000,
            };
            let page = store.list(&query).await.unwrap();
            store.close().await;
            assert!(page.next.is_none(), "more than one page of events");
            page.documents
                .into_iter()
                .map(|it| {
                    let seq = it
                        .key
                        .strip_prefix(&format!("{}/", self.name))
                        .and_then(|it| it.parse::<i64>().ok())
                        .unwrap_or_else(|| panic!("a ref event's key: {}", it.key));
                    assert_eq!(it.key.len(), self.name.len() + 1 + 12, "{}", it.key);
                    assert_eq!(it.sort, seq, "{}", it.key);
                    (seq, it.body)
                })
                .collect()
        })
    }

    /// The server's bare repository.
    fn bare(&self) -> PathBuf {
        self.server.data_dir.join("repos").join(format!("{}.git", self.name))
    }

    /// `git fsck --strict` of the bare repository finds nothing wrong (unreachable objects
    /// of rejected pushes are not wrong).
    #[track_caller]
    fn assert_fsck_clean(&self) {
        let bare = self.bare();
        let run =
            git(&bare, &["--git-dir", bare.to_str().unwrap(), "fsck", "--strict", "--no-progress"]);
        let problems: Vec<&str> = run
            .stdout
            .lines()
            .chain(run.stderr.lines())
            .filter(|line| !line.starts_with("dangling ") && !line.starts_with("unreachable "))
            .collect();
        assert!(
            run.code == Some(0) && problems.is_empty(),
            "git fsck --strict ({:?}):\n{}{}",
            run.code,
            run.stdout,
            run.stderr
        );
    }
}

fn field<'a>(event: &'a Value, name: &str) -> &'a str {
    event[name].as_str().unwrap_or_else(|| panic!("{name} of {event}"))
}

/// The sequence numbers are unique and have no gaps, from 1.
#[track_caller]
fn assert_contiguous(events: &[(i64, Value)]) {
    let mut seqs: Vec<i64> = events.iter().map(|(seq, _)| *seq).collect();
    seqs.sort_unstable();
    let expected: Vec<i64> = (1..=events.len() as i64).collect();
    assert_eq!(seqs, expected, "the events' sequence numbers");
}

#[test]
fn fifty_concurrent_pushes_to_different_branches_are_fifty_events() {
    const BRANCHES: usize = 50;
    let hosted = Hosted::start("fanout");
    let (base, base_commit) = hosted.push_base();
    let clones = hosted.clones(&base, BRANCHES);
    let pushes: Vec<(PathBuf, String)> = clones
        .iter()
        .enumerate()
        .map(|(i, (dir, _))| (dir.clone(), format!("HEAD:refs/heads/branch-{i:02}")))
        .collect();

    let results = hosted.push_all(&pushes);
    let failed: Vec<String> = results
        .iter()
        .enumerate()
        .filter(|(_, run)| run.code != Some(0))
        .map(|(i, run)| format!("branch-{i:02} ({:?}): {}", run.code, run.stderr.trim()))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {BRANCHES} pushes failed:\n{}",
        failed.len(),
        failed.join("\n")
    );

    let events = hosted.events();
    assert_eq!(events.len(), BRANCHES + 1, "one event per push: {events:#?}");
    assert_contiguous(&events);
    let (first_seq, first) = &events[0];
    assert_eq!(*first_seq, 1);
    assert_eq!(
        (field(first, "ref"), field(first, "event"), field(first, "newCommit")),
        ("refs/heads/main", "created", base_commit.as_str())
    );
    for (i, (_, commit)) in clones.iter().enumerate() {
        let name = format!("refs/heads/branch-{i:02}");
        let mine: Vec<&Value> =
            events.iter().map(|(_, it)| it).filter(|it| field(it, "ref") == name).collect();
        assert_eq!(mine.len(), 1, "the events of {name}: {mine:#?}");
        let event = mine[0];
        assert_eq!(field(event, "event"), "created", "{event}");
        assert_eq!(field(event, "newCommit"), commit.as_str(), "{event}");
        assert_eq!(field(event, "oldCommit"), "0".repeat(40), "{event}");
        assert_eq!(field(event, "repositoryName"), "fanout", "{event}");
        assert_eq!(field(event, "user"), "admin", "{event}");
    }
    let heads = git_ok(&base, &["ls-remote", "--heads", &hosted.url]);
    assert_eq!(heads.lines().count(), BRANCHES + 1, "{heads}");
    hosted.assert_fsck_clean();
}

#[test]
fn twenty_racing_pushes_to_one_branch_are_one_chain_of_events() {
    const RACERS: usize = 20;
    let hosted = Hosted::start("race");
    let (base, base_commit) = hosted.push_base();
    let clones = hosted.clones(&base, RACERS);
    let pushes: Vec<(PathBuf, String)> =
        clones.iter().map(|(dir, _)| (dir.clone(), "HEAD:refs/heads/main".to_owned())).collect();

    let results = hosted.push_all(&pushes);
    let accepted: Vec<&str> = results
        .iter()
        .zip(&clones)
        .filter(|(run, _)| run.code == Some(0))
        .map(|(_, (_, commit))| commit.as_str())
        .collect();
    // A rejected push is git's ordinary answer (a non-fast-forward, or a lock lost to another
    // push); a push that neither succeeded nor said so is not.
    for (i, run) in results.iter().enumerate() {
        assert!(
            matches!(run.code, Some(0) | Some(1)),
            "racer {i} ended oddly ({:?}):\n{}",
            run.code,
            run.stderr
        );
    }
    assert!(!accepted.is_empty(), "no push won the race: {results:#?}");

    let events = hosted.events();
    assert_contiguous(&events);
    let (_, first) = &events[0];
    assert_eq!(
        (field(first, "ref"), field(first, "event"), field(first, "newCommit")),
        ("refs/heads/main", "created", base_commit.as_str())
    );
    let updates: Vec<&Value> = events[1..].iter().map(|(_, it)| it).collect();
    assert_eq!(
        updates.len(),
        accepted.len(),
        "one event per accepted push ({} accepted): {updates:#?}",
        accepted.len()
    );
    let mut previous = base_commit.clone();
    for event in &updates {
        assert_eq!(field(event, "ref"), "refs/heads/main", "{event}");
        assert_eq!(field(event, "event"), "updated", "{event}");
        assert_eq!(field(event, "oldCommit"), previous, "the events do not chain: {updates:#?}");
        let new = field(event, "newCommit");
        assert!(accepted.contains(&new), "{new} is no accepted push's commit: {updates:#?}");
        new.clone_into(&mut previous);
    }
    let main = git_ok(
        &hosted.bare(),
        &["--git-dir", hosted.bare().to_str().unwrap(), "rev-parse", "refs/heads/main"],
    );
    assert_eq!(main.trim(), previous, "main is not the last event's commit");
    hosted.assert_fsck_clean();
}
