//! Git over smart HTTP against `slipway server`: the real `git` clones, fetches and pushes a
//! repository created with `aws codecommit create-repository`, with HTTPS git credentials
//! (`slipway git-credentials create`) and with `aws codecommit credential-helper`; pushes
//! become ref events in the server's store.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use engine::store::{ListQuery, Store};
use serde_json::Value;

use crate::support::GitCredentials;
use crate::{Run, Sandbox};

const ZERO: &str = "0000000000000000000000000000000000000000";

/// `slipway server` on a free loopback port, without its embedded agent (git needs none).
struct GitServer {
    child: Child,
    endpoint: String,
    data_dir: PathBuf,
    /// Client-side files: work trees, `HOME`, the aws CLI's files.
    scratch: PathBuf,
}

impl GitServer {
    fn start(sandbox: &Sandbox) -> GitServer {
        let data_dir = sandbox.path("data");
        let mut child = Command::new(env!("CARGO_BIN_EXE_slipway"))
            .args(["server", "--listen", "127.0.0.1:0", "--no-local-agent", "--data-dir"])
            .arg(&data_dir)
            .env_remove("SLIPWAY_DATABASE_URL")
            .env_remove("SLIPWAY_BLOB_URL")
            .env_remove("SLIPWAY_REGION")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().expect("the server prints where it listens").unwrap();
        let endpoint = first.strip_prefix("Slipway is listening on ").expect(&first).to_owned();
        // Keep reading its output so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let scratch = sandbox.path("clients");
        std::fs::create_dir_all(scratch.join("home")).unwrap();
        GitServer { child, endpoint, data_dir, scratch }
    }

    fn host(&self) -> &str {
        self.endpoint.trim_start_matches("http://")
    }

    /// `aws <args>` with the admin's key, against the server.
    fn aws(&self, args: &[&str]) -> Run {
        let output = Command::new("aws")
            .args(args)
            .args(["--endpoint-url", &self.endpoint, "--region", "us-east-1", "--output", "json"])
            .env("AWS_SHARED_CREDENTIALS_FILE", self.data_dir.join("admin-credentials"))
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_PAGER", "")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .stdin(Stdio::null())
            .output()
            .expect("the aws CLI is installed (cargo xtask test installs it)");
        Run::from(output)
    }

    fn create_repository(&self, name: &str) {
        let run = self.aws(&["codecommit", "create-repository", "--repository-name", name]);
        run.expect_code(0);
    }

    /// New HTTPS git credentials of the admin, from `slipway git-credentials create`.
    fn git_credentials(&self, sandbox: &Sandbox) -> GitCredentials {
        let data = self.data_dir.to_str().unwrap();
        let run = Run::from(
            sandbox
                .slipway(&["git-credentials", "create", "--user", "admin", "--data-dir", data])
                .output()
                .unwrap(),
        );
        run.expect_code(0);
        GitCredentials::parse(&run.stdout)
    }

    /// The clone URL, with credentials when given.
    fn url(&self, repo: &str, credentials: Option<&GitCredentials>) -> String {
        match credentials {
            Some(credentials) => credentials.url(&self.endpoint, repo),
            None => format!("{}/v1/repos/{repo}", self.endpoint),
        }
    }

    /// `git <args>` in `cwd` (under the scratch directory), with no configuration but ours.
    fn git(&self, cwd: &str, args: &[&str]) -> Run {
        let cwd = self.scratch.join(cwd);
        std::fs::create_dir_all(&cwd).unwrap();
        let output = Command::new("git")
            .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
            .args(["-c", "init.defaultBranch=main"])
            .args(args)
            .current_dir(&cwd)
            .env("HOME", self.scratch.join("home"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", self.data_dir.join("admin-credentials"))
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_REGION")
            .stdin(Stdio::null())
            .output()
            .expect("git is installed");
        Run::from(output)
    }

    #[track_caller]
    fn git_ok(&self, cwd: &str, args: &[&str]) -> String {
        let run = self.git(cwd, args);
        assert_eq!(run.code, Some(0), "git {args:?}:\n{}{}", run.stdout, run.stderr);
        run.stdout
    }

    /// Writes `file` in the work tree `work`, commits it and returns the commit.
    fn commit(&self, work: &str, file: &str, content: &[u8]) -> String {
        std::fs::write(self.scratch.join(work).join(file), content).unwrap();
        self.git_ok(work, &["add", "."]);
        self.git_ok(work, &["commit", "-q", "-m", &format!("{file} changed")]);
        self.git_ok(work, &["rev-parse", "HEAD"]).trim().to_owned()
    }

    /// The ref events of `repo`, read from the server's own database next to it.
    fn events(&self, repo: &str) -> Vec<Value> {
        let url = format!("sqlite:{}", self.data_dir.join("slipway.db").display());
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let store = Store::connect(&url).await.unwrap();
            let query = ListQuery {
                kind: "ref-event".to_owned(),
                parent: Some(repo.to_owned()),
                descending: false,
                after: None,
                limit: 1000,
            };
            let page = store.list(&query).await.unwrap();
            store.close().await;
            page.documents.into_iter().map(|it| it.body).collect()
        })
    }

    /// A raw request, for the status and headers git does not show.
    fn request(&self, method: &str, path: &str, authorization: Option<&str>) -> String {
        let mut stream = TcpStream::connect(self.host()).unwrap();
        let authorization =
            authorization.map(|it| format!("Authorization: {it}\r\n")).unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{authorization}Content-Length: 0\r\nConnection: close\r\n\r\n",
            self.host()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn summary(events: &[Value]) -> Vec<(String, String, String, String)> {
    events
        .iter()
        .map(|it| {
            let field = |name: &str| it[name].as_str().unwrap_or_default().to_owned();
            (field("event"), field("ref"), field("oldCommit"), field("newCommit"))
        })
        .collect()
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn git_clones_fetches_and_pushes_with_git_credentials() {
    let sandbox = Sandbox::new();
    let server = GitServer::start(&sandbox);
    server.create_repository("demo");
    let credentials = server.git_credentials(&sandbox);
    assert!(credentials.username.starts_with("admin-at-"), "{credentials:?}");
    let url = server.url("demo", Some(&credentials));

    // Without credentials: a challenge, so that git asks for them.
    let refs = "/v1/repos/demo/info/refs?service=git-upload-pack";
    let response = server.request("GET", refs, None);
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    assert!(response.contains("www-authenticate: Basic realm=\"slipway\""), "{response}");
    let anonymous = server.git("", &["ls-remote", &server.url("demo", None)]);
    assert_ne!(anonymous.code, Some(0));
    let basic = format!(
        "Basic {}",
        base64(format!("{}:{}", credentials.username, credentials.password).as_bytes())
    );
    let response = server.request("GET", refs, Some(&basic));
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("content-type: application/x-git-upload-pack-advertisement"));
    assert!(response.contains("cache-control: no-cache"), "{response}");

    // An empty repository clones; a first commit pushes.
    let cloned = server.git("", &["clone", &url, "work"]);
    assert_eq!(cloned.code, Some(0), "{}", cloned.stderr);
    assert!(cloned.stderr.contains("empty repository"), "{}", cloned.stderr);
    let first = server.commit("work", "a.txt", b"one");
    server.git_ok("work", &["push", "-q", "origin", "main"]);

    // Protocol v2 (git's default), v0 and a shallow clone.
    server.git_ok("", &["-c", "protocol.version=2", "clone", "-q", &url, "v2"]);
    server.git_ok("", &["-c", "protocol.version=0", "clone", "-q", &url, "v0"]);
    let second = server.commit("work", "a.txt", b"two");
    server.git_ok("work", &["push", "-q", "origin", "main"]);
    server.git_ok("", &["clone", "-q", "--depth", "1", &url, "shallow"]);
    assert_eq!(server.git_ok("shallow", &["rev-list", "--count", "HEAD"]).trim(), "1");
    assert_eq!(server.git_ok("shallow", &["rev-parse", "HEAD"]).trim(), second);
    for (clone, protocol) in [("v2", "2"), ("v0", "0")] {
        assert_eq!(server.git_ok(clone, &["rev-parse", "HEAD"]).trim(), first);
        server.git_ok(clone, &["-c", &format!("protocol.version={protocol}"), "pull", "-q"]);
        assert_eq!(server.git_ok(clone, &["rev-parse", "HEAD"]).trim(), second, "{clone}");
    }

    // One push of two branches records its events in the order of the commands.
    server.git_ok("work", &["push", "-q", "origin", "main:refs/heads/one", "main:refs/heads/two"]);
    server.git_ok("work", &["push", "-q", "origin", "--delete", "one"]);
    let events = server.events("demo");
    let expected: Vec<(String, String, String, String)> = [
        ("created", "refs/heads/main", ZERO, first.as_str()),
        ("updated", "refs/heads/main", first.as_str(), second.as_str()),
        ("created", "refs/heads/one", ZERO, second.as_str()),
        ("created", "refs/heads/two", ZERO, second.as_str()),
        ("deleted", "refs/heads/one", second.as_str(), ZERO),
    ]
    .iter()
    .map(|(a, b, c, d)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned(), (*d).to_owned()))
    .collect();
    assert_eq!(summary(&events), expected);
    assert!(events.iter().all(|it| it["user"] == "admin" && it["repositoryName"] == "demo"));
    let remote = server.git_ok("work", &["ls-remote", "origin"]);
    assert!(remote.contains("refs/heads/two") && !remote.contains("refs/heads/one"), "{remote}");

    // A wrong password is refused and changes nothing.
    server.commit("work", "a.txt", b"three");
    let wrong = server.url(
        "demo",
        Some(&GitCredentials { username: credentials.username.clone(), password: "x".repeat(40) }),
    );
    let refused = server.git("work", &["push", &wrong, "main"]);
    assert_ne!(refused.code, Some(0));
    assert!(refused.stderr.contains("Authentication failed"), "{}", refused.stderr);
    assert_eq!(
        server.git_ok("work", &["ls-remote", "origin", "main"]).split('\t').next(),
        Some(second.as_str())
    );
    assert_eq!(server.events("demo").len(), 5);

    // A repository that does not exist.
    let missing = server.git("", &["ls-remote", &server.url("nope", Some(&credentials))]);
    assert_ne!(missing.code, Some(0));
    assert!(missing.stderr.contains("not found"), "{}", missing.stderr);
    let response =
        server.request("GET", "/v1/repos/nope/info/refs?service=git-upload-pack", Some(&basic));
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");

    // A fetch after many local commits: git gzips the negotiation.
    for i in 0..40 {
        server.commit("v0", "local.txt", format!("local {i}").as_bytes());
    }
    server.git_ok("v0", &["fetch", "-q", "origin"]);
    assert_eq!(server.git_ok("v0", &["rev-parse", "origin/two"]).trim(), second);
}

#[test]
fn the_aws_credential_helper_clones_and_pushes() {
    let sandbox = Sandbox::new();
    let server = GitServer::start(&sandbox);
    server.create_repository("helped");
    // As CodeCommit's documentation configures it, with the region from the environment.
    let helper = [
        "-c",
        "credential.helper=!aws codecommit credential-helper --ignore-host-check $@",
        "-c",
        "credential.UseHttpPath=true",
    ];
    let url = server.url("helped", None);
    server.git_ok("", &[&helper[..], &["clone", "-q", &url, "work"]].concat());
    let commit = server.commit("work", "readme.md", b"hello");
    server.git_ok("work", &[&helper[..], &["push", "-q", "origin", "main"]].concat());
    server.git_ok("", &[&helper[..], &["clone", "-q", &url, "again"]].concat());
    assert_eq!(server.git_ok("again", &["rev-parse", "HEAD"]).trim(), commit);
    let events = server.events("helped");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["user"], "admin");
    assert_eq!(events[0]["newCommit"], commit.as_str());

    // The password is bound to the repository it was made for.
    let password = Command::new("aws")
        .args(["codecommit", "credential-helper", "--ignore-host-check", "get"])
        .env("AWS_SHARED_CREDENTIALS_FILE", server.data_dir.join("admin-credentials"))
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            let input = format!("protocol=http\nhost={}\npath=v1/repos/other\n", server.host());
            child.stdin.take().unwrap().write_all(input.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    let text = String::from_utf8(password.stdout).unwrap();
    let field = |name: &str| {
        text.lines().find_map(|it| it.strip_prefix(&format!("{name}="))).unwrap().to_owned()
    };
    let basic = format!(
        "Basic {}",
        base64(format!("{}:{}", field("username"), field("password")).as_bytes())
    );
    let response =
        server.request("GET", "/v1/repos/helped/info/refs?service=git-upload-pack", Some(&basic));
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
}

#[test]
fn a_20_mb_push_streams_through() {
    let sandbox = Sandbox::new();
    let server = GitServer::start(&sandbox);
    server.create_repository("big");
    let credentials = server.git_credentials(&sandbox);
    let url = server.url("big", Some(&credentials));
    server.git_ok("", &["init", "-q", "work"]);
    // Incompressible bytes (xorshift), so that the pack is as large as the file.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut data = Vec::with_capacity(20 << 20);
    while data.len() < 20 << 20 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        data.extend_from_slice(&state.to_le_bytes());
    }
    let commit = server.commit("work", "big.bin", &data);
    server.git_ok("work", &["push", "-q", &url, "main"]);
    server.git_ok("", &["clone", "-q", &url, "copy"]);
    assert_eq!(server.git_ok("copy", &["rev-parse", "HEAD"]).trim(), commit);
    assert!(std::fs::read(server.scratch.join("copy/big.bin")).unwrap() == data);
    assert_eq!(server.events("big").len(), 1);
}
