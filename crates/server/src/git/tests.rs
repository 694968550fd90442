//! Unit tests of git hosting: the pkt-line readers, the credential-helper password, the
//! protocol header, and the routes driven by the real `git` (and `aws` credential helper)
//! against a server on loopback, with their audit events (a `codecommit:References` deny, a
//! push the `pre-receive` hook refuses).

// The tests start git and aws themselves.
#![allow(clippy::disallowed_methods)]

use std::process::Command;

use axum::http::{HeaderMap, HeaderValue};
use codecommit::git::init_bare;
use engine::kinds::{GIT_CREDENTIAL, REF_EVENT};
use engine::store::{Document, ListQuery, Write};
use serde_json::json;

use super::auth::{
    access_key_id, basic_credentials, codecommit_signature, host_name, percent_decode,
    session_credentials, split_codecommit_password,
};
use super::pkt::{CommandParser, Pkt, RefCommand, RefStatus, next_pkt, parse_report};
use super::*;

const ZERO: &str = "0000000000000000000000000000000000000000";
const A: &str = "1111111111111111111111111111111111111111";
const B: &str = "2222222222222222222222222222222222222222";
const C: &str = "3333333333333333333333333333333333333333";

fn pkt(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:04x}", data.len() + 4).into_bytes();
    out.extend_from_slice(data);
    out
}

fn command(old: &str, new: &str, name: &str) -> RefCommand {
    RefCommand { old: old.to_owned(), new: new.to_owned(), name: name.to_owned() }
}

/// A receive-pack request: commands (the first with capabilities), flush, then "pack" bytes.
fn push_request() -> Vec<u8> {
    let mut request = Vec::new();
    request.extend(pkt(format!("shallow {C}").as_bytes()));
    request.extend(pkt(
        format!("{ZERO} {A} refs/heads/main\0 report-status side-band-64k quiet object-format=sha1 agent=git/2.47.3\n")
            .as_bytes(),
    ));
    request.extend(pkt(format!("{A} {B} refs/heads/feature/x\n").as_bytes()));
    request.extend(pkt(format!("{C} {ZERO} refs/tags/v1").as_bytes()));
    request.extend(b"0000");
    request.extend(b"PACK\0\0\0\x02 and the rest of a pack, which is not pkt-lines at all 0000");
    request
}

#[test]
fn receive_pack_commands_are_read_with_capabilities_deletes_and_several_refs() {
    let mut parser = CommandParser::new();
    parser.feed(&push_request());
    assert!(parser.is_done());
    let (commands, capabilities) = parser.finish().unwrap();
    assert_eq!(
        commands,
        vec![
            command(ZERO, A, "refs/heads/main"),
            command(A, B, "refs/heads/feature/x"),
            command(C, ZERO, "refs/tags/v1"),
        ]
    );
    assert_eq!(
        capabilities,
        ["report-status", "side-band-64k", "quiet", "object-format=sha1", "agent=git/2.47.3"]
    );
    assert_eq!(
        commands.iter().map(RefCommand::event).collect::<Vec<_>>(),
        ["created", "updated", "deleted"]
    );
}

#[test]
fn receive_pack_commands_are_read_whatever_the_chunks() {
    let request = push_request();
    let mut whole = CommandParser::new();
    whole.feed(&request);
    let expected = whole.finish().unwrap();
    for size in [1, 2, 3, 5, 7, 64, 100] {
        let mut parser = CommandParser::new();
        for chunk in request.chunks(size) {
            parser.feed(chunk);
        }
        assert_eq!(parser.finish().unwrap(), expected, "chunks of {size} bytes");
    }
}

#[test]
fn an_unfinished_or_malformed_command_list_gives_no_commands() {
    let request = push_request();
    let mut cut = CommandParser::new();
    cut.feed(&request[..60]);
    assert!(!cut.is_done());
    assert!(cut.finish().is_none());

    for bad in [
        pkt(b"not a command\n"),
        pkt(format!("{A} {B}\n").as_bytes()),
        pkt(format!("{A} xyz refs/heads/main\n").as_bytes()),
        b"zzzz".to_vec(),
        b"0003".to_vec(),
    ] {
        let mut parser = CommandParser::new();
        parser.feed(&bad);
        parser.feed(b"0000");
        assert!(parser.finish().is_none(), "{:?}", String::from_utf8_lossy(&bad));
    }
    let mut empty = CommandParser::new();
    empty.feed(b"0000");
    assert_eq!(empty.finish(), Some((vec![], vec![])));
}

/// A body streamed in chunks of `size` bytes.
fn chunked(bytes: &[u8], size: usize) -> Body {
    let chunks: Vec<Result<Bytes, std::io::Error>> =
        bytes.chunks(size).map(|it| Ok(Bytes::copy_from_slice(it))).collect();
    Body::from_stream(futures::stream::iter(chunks))
}

/// Everything a request body gives, to its end.
async fn drain(mut body: RequestBody) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(data) = body.next().await {
        out.extend_from_slice(&data);
    }
    out
}

#[tokio::test]
async fn a_push_s_commands_are_read_before_git_and_git_gets_every_byte() {
    let request = push_request();
    let mut gzipped = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzipped.write_all(&request).unwrap();
    let gzipped = gzipped.finish().unwrap();
    for (bytes, gzip) in [(&request, false), (&gzipped, true)] {
        for size in [1, 7, 64, 1 << 16] {
            let mut body = RequestBody::new(chunked(bytes, size), gzip);
            let (head, (commands, _)) = read_commands(&mut body).await.unwrap();
            let names: Vec<&str> = commands.iter().map(|it| it.name.as_str()).collect();
            assert_eq!(names, ["refs/heads/main", "refs/heads/feature/x", "refs/tags/v1"]);
            // What was read for the commands, then the rest: the request, whole.
            let mut seen = head;
            seen.extend(drain(body).await);
            assert_eq!(seen, request, "gzip {gzip}, chunks of {size}");
        }
    }
}

#[tokio::test]
async fn a_push_whose_commands_cannot_be_read_is_refused_whole() {
    for bad in [pkt(b"not a command\n"), push_request()[..60].to_vec()] {
        let mut body = RequestBody::new(chunked(&bad, 16), false);
        let refused = read_commands(&mut body).await.unwrap_err();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    }
    // The probe git sends before a large push: no commands, nothing to refuse.
    let mut probe = RequestBody::new(chunked(b"0000", 4), false);
    let (_, (commands, _)) = read_commands(&mut probe).await.unwrap();
    assert!(commands.is_empty());
}

#[test]
fn pkt_lines_are_split() {
    assert_eq!(next_pkt(b"00"), Ok(None));
    assert_eq!(next_pkt(b"0000rest"), Ok(Some((Pkt::Flush, 4))));
    assert_eq!(next_pkt(b"0001"), Ok(Some((Pkt::Special, 4))));
    assert_eq!(next_pkt(b"0009hello!"), Ok(Some((Pkt::Data(b"hello"), 9))));
    assert_eq!(next_pkt(b"0009hel"), Ok(None));
    assert_eq!(next_pkt(b"ffff"), Err(()));
    assert_eq!(next_pkt(b"00g0"), Err(()));
    // A length is four hex digits, never a signed number.
    assert_eq!(next_pkt(b"+00ahello!"), Err(()));
}

#[test]
fn receive_pack_reports_are_read_with_and_without_side_band() {
    let mut report = Vec::new();
    report.extend(pkt(b"unpack ok\n"));
    report.extend(pkt(b"ok refs/heads/main\n"));
    report.extend(pkt(b"ng refs/heads/x non-fast-forward\n"));
    report.extend(pkt(b"option refname refs/heads/main\n"));
    report.extend(b"0000");
    let expected = vec![
        RefStatus { name: "refs/heads/main".to_owned(), ok: true, reason: String::new() },
        RefStatus {
            name: "refs/heads/x".to_owned(),
            ok: false,
            reason: "non-fast-forward".to_owned(),
        },
    ];
    assert_eq!(parse_report(&report, false), Some(expected.clone()));

    // Side band: band 1 carries the report, in pieces; band 2 is progress.
    let mut muxed = Vec::new();
    muxed.extend(pkt(b"\x02Resolving deltas: 100%\n"));
    for piece in report.chunks(7) {
        let mut band = vec![1u8];
        band.extend_from_slice(piece);
        muxed.extend(pkt(&band));
    }
    muxed.extend(b"0000");
    assert_eq!(parse_report(&muxed, true), Some(expected));

    assert_eq!(parse_report(&report[..20], false), None);
    assert_eq!(parse_report(b"0000", false), None);
}

/// The body of a response, whole.
async fn body_bytes(response: Response) -> Vec<u8> {
    axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec()
}

#[tokio::test]
async fn a_refused_push_is_answered_as_git_reports_refused_refs() {
    let commands = [command("0", "a", "refs/heads/main"), command("a", "b", "refs/heads/topic/é")];
    let reason = "User: arn:aws:iam::000000000000:user/bob is not authorized\nto push";
    let refused = vec![
        RefStatus {
            name: "refs/heads/main".to_owned(),
            ok: false,
            reason: reason.replace('\n', " "),
        },
        RefStatus {
            name: "refs/heads/topic/é".to_owned(),
            ok: false,
            reason: reason.replace('\n', " "),
        },
    ];
    let capabilities = |names: &[&str]| names.iter().map(|it| (*it).to_owned()).collect::<Vec<_>>();
    for (asked, sideband) in [
        (capabilities(&["report-status"]), false),
        (capabilities(&["report-status-v2", "side-band-64k"]), true),
        (capabilities(&["report-status", "side-band"]), true),
    ] {
        let response = refused_push(&commands, &asked, reason);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/x-git-receive-pack-result"
        );
        let body = body_bytes(response).await;
        assert_eq!(parse_report(&body, sideband), Some(refused.clone()), "{asked:?}");
        // The reason is on the refs' lines, as one line.
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("ng refs/heads/main User: arn:"), "{text}");
        assert!(text.contains("authorized to push"), "{text}");
    }
    // A client that asked for no report gets the reason with a 403.
    let response = refused_push(&commands, &[], reason);
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[test]
fn the_credential_helper_password_is_the_one_awscli_computes() {
    // Computed once with awscli 1.45.11's own `CodeCommitGetCommand.sign_request`, given
    // `protocol=http host=127.0.0.1:8123 path=v1/repos/demo`, the AWS documentation's example
    // key and `get_current_datetime` patched to 2026-03-14 15:09:26.
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    let host = host_name("127.0.0.1:8123");
    assert_eq!(host, "127.0.0.1");
    assert_eq!(
        codecommit_signature(secret, "us-east-1", "20260314T150926", host, "/v1/repos/demo"),
        "a02742df7f94ad875a3ba4eba7f88377899e4e51e498d093650a26f901045640"
    );
    assert_eq!(
        codecommit_signature(secret, "eu-west-3", "20260314T150926", host, "/v1/repos/demo"),
        "c7cb879114adb662251377d1dfb2404ab4a5a387a2ddc82d4ea69dd42c0c4acc"
    );

    let password =
        "20260314T150926Za02742df7f94ad875a3ba4eba7f88377899e4e51e498d093650a26f901045640";
    let split = split_codecommit_password(password).unwrap();
    assert_eq!(split.timestamp, "20260314T150926");
    assert_eq!(split.seconds, awsapi::sigv4::parse_amz_date("20260314T150926Z").unwrap());
    assert_eq!(split.signature, &password[16..]);
    // Generated git passwords and near misses are not helper passwords.
    assert!(split_codecommit_password("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN").is_none());
    assert!(split_codecommit_password(&password.replace('Z', "X")).is_none());
    assert!(split_codecommit_password(&password.replace('a', "A")).is_none());
    assert!(split_codecommit_password(&password[..79]).is_none());

    assert_eq!(access_key_id("AKIAIOSFODNN7EXAMPLE").as_deref(), Some("AKIAIOSFODNN7EXAMPLE"));
    assert_eq!(access_key_id("AKIA%49OSFODNN7EXAMPLE").as_deref(), Some("AKIAIOSFODNN7EXAMPLE"));
    // Temporary credentials (`%<session token>`) are the session's key and token.
    assert_eq!(access_key_id("ASIAIOSFODNN7EXAMPLE%FQoGZXIvYXdzEJr"), None);
    assert_eq!(
        session_credentials("ASIAIOSFODNN7EXAMPLE%FQoGZXIvYXdzEJr+/="),
        Some(("ASIAIOSFODNN7EXAMPLE", "FQoGZXIvYXdzEJr+/="))
    );
    assert_eq!(session_credentials("ASIAIOSFODNN7EXAMPLE%"), None);
    assert_eq!(session_credentials("AKIA%49OSFODNN7EXAMPLE"), None);
    assert_eq!(session_credentials("ASIAIOSFODNN7EXAMPLE"), None);
    assert_eq!(access_key_id("admin-at-123456"), None);
}

/// A `%` must be followed by two hex digits: `%+1` (which `u8::from_str_radix` reads as 1),
/// a cut-off `%4` and non-UTF-8 results are refused, not guessed at.
#[test]
fn user_names_with_malformed_escapes_are_refused() {
    assert_eq!(percent_decode("AKIA%49%4f").as_deref(), Some("AKIAIO"));
    assert_eq!(percent_decode("AKIA"), Some("AKIA".to_owned()));
    for malformed in ["AKIA%+1", "AKIA%+F", "AKIA%4", "AKIA%", "AKIA%zz", "AKIA%FF"] {
        assert_eq!(percent_decode(malformed), None, "{malformed}");
    }
}

#[test]
fn basic_credentials_are_decoded() {
    let mut headers = HeaderMap::new();
    // base64("admin-at-123456:pass:word")
    headers.insert(
        "authorization",
        HeaderValue::from_static("Basic YWRtaW4tYXQtMTIzNDU2OnBhc3M6d29yZA=="),
    );
    assert_eq!(
        basic_credentials(&headers),
        Some(("admin-at-123456".to_owned(), "pass:word".to_owned()))
    );
    headers.insert("authorization", HeaderValue::from_static("Bearer YWRtaW4="));
    assert_eq!(basic_credentials(&headers), None);
}

#[test]
fn only_plain_git_protocol_values_reach_git() {
    assert_eq!(allowed_git_protocol("version=2"), Some("version=2"));
    assert_eq!(
        allowed_git_protocol("version=2:object-format=sha256"),
        Some("version=2:object-format=sha256")
    );
    assert_eq!(allowed_git_protocol("version=1"), Some("version=1"));
    for bad in ["", "version=2 ", "version=2;rm -rf", "a\nb", "version=2\0", "$(id)", "x/y"] {
        assert_eq!(allowed_git_protocol(bad), None, "{bad:?}");
    }
    assert!(is_v2(Some("version=2")));
    assert!(is_v2(Some("object-format=sha1:version=2")));
    assert!(!is_v2(Some("version=1")));
    assert!(!is_v2(Some("version=22")));
    assert!(!is_v2(None));
    assert_eq!(pkt_line("# service=git-upload-pack\n"), "001e# service=git-upload-pack\n");
}

/// A server on loopback with its state, and a scratch directory for clients.
struct Harness {
    state: AppState,
    endpoint: String,
    dir: tempfile::TempDir,
    _serving: tokio::task::JoinHandle<()>,
}

impl Harness {
    async fn start() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::test_config(dir.path(), "eu-west-3");
        let server = crate::Server::open(&config).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let app = crate::app(server.state.clone());
        let serving = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        Harness { state: server.state, endpoint, dir, _serving: serving }
    }

    /// What CodeCommit's CreateRepository does, as far as git hosting cares.
    async fn create_repository(&self, name: &str) {
        let document = Document {
            kind: REPOSITORY.to_owned(),
            key: name.to_owned(),
            parent: None,
            sort: 0,
            version: 0,
            body: json!({ "repositoryName": name }),
        };
        self.state.store.apply(vec![Write::Insert(document)]).await.unwrap();
        init_bare(&repo_path(&self.state, name), "main").await.unwrap();
    }

    fn url(&self, name: &str, user: &str, password: &str) -> String {
        let host = self.endpoint.trim_start_matches("http://");
        format!("http://{user}:{password}@{host}/v1/repos/{name}")
    }

    /// `git <args>` in `cwd` (relative to the scratch directory), with no configuration but
    /// ours.
    fn git(&self, cwd: &str, args: &[&str]) -> (bool, String) {
        let cwd = self.dir.path().join(cwd);
        std::fs::create_dir_all(&cwd).unwrap();
        let output = Command::new("git")
            .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
            .args(["-c", "init.defaultBranch=main", "-c", "protocol.version=2"])
            .args(args)
            .current_dir(&cwd)
            .env("HOME", self.dir.path().join("home"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", self.dir.path().join("aws-credentials"))
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_REGION")
            .env_remove("AWS_DEFAULT_REGION")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("git is installed");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), text)
    }

    #[track_caller]
    fn git_ok(&self, cwd: &str, args: &[&str]) -> String {
        let (ok, text) = self.git(cwd, args);
        assert!(ok, "git {args:?} failed:\n{text}");
        text
    }

    async fn events(&self, repo: &str) -> Vec<serde_json::Value> {
        let query = ListQuery {
            kind: REF_EVENT.to_owned(),
            parent: Some(repo.to_owned()),
            descending: false,
            after: None,
            limit: 1000,
        };
        let page = self.state.store.list(&query).await.unwrap();
        page.documents.into_iter().map(|it| it.body).collect()
    }
}

fn commit(harness: &Harness, work: &str, file: &str, content: &str) -> String {
    let path = harness.dir.path().join(work).join(file);
    std::fs::write(path, content).unwrap();
    harness.git_ok(work, &["add", "."]);
    harness.git_ok(work, &["commit", "-q", "-m", content]);
    harness.git_ok(work, &["rev-parse", "HEAD"]).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_clones_and_pushes_with_git_credentials_and_pushes_become_events() {
    let harness = Harness::start().await;
    harness.create_repository("demo").await;
    harness.state.identity.create_user("alice", 0).await.unwrap();
    harness.state.identity.attach_policy_to_user("alice", "AWSCodeCommitPowerUser").await.unwrap();
    let (user, password) = harness.state.identity.create_git_credentials("alice", 0).await.unwrap();
    assert!(user.starts_with("alice-at-") && user.len() == "alice-at-".len() + 6, "{user}");
    assert_eq!(password.len(), 40);
    let stored = harness.state.store.get(GIT_CREDENTIAL, &user).await.unwrap().unwrap();
    assert_eq!(stored.body["userName"], "alice");
    assert!(!stored.body.to_string().contains(&password));
    assert!(harness.state.identity.create_git_credentials("nobody", 0).await.is_err());
    let url = harness.url("demo", &user, &password);

    let (_, text) = harness.git("", &["clone", &url, "work"]);
    assert!(text.contains("empty repository"), "{text}");
    let first = commit(&harness, "work", "a.txt", "one");
    harness.git_ok("work", &["push", "-q", "origin", "main"]);
    let second = commit(&harness, "work", "a.txt", "two");
    harness.git_ok("work", &["push", "-q", "origin", "main", "main:refs/heads/feature"]);
    harness.git_ok("work", &["push", "-q", "origin", ":refs/heads/feature"]);

    let events = harness.events("demo").await;
    let summary: Vec<(&str, &str, &str, &str)> = events
        .iter()
        .map(|it| {
            (
                it["event"].as_str().unwrap(),
                it["ref"].as_str().unwrap(),
                it["oldCommit"].as_str().unwrap(),
                it["newCommit"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("created", "refs/heads/main", ZERO, first.as_str()),
            ("updated", "refs/heads/main", first.as_str(), second.as_str()),
            ("created", "refs/heads/feature", ZERO, second.as_str()),
            ("deleted", "refs/heads/feature", second.as_str(), ZERO),
        ]
    );
    assert!(events.iter().all(|it| it["user"] == "alice" && it["repositoryName"] == "demo"));

    // Clones in v2, v0 and shallow see what was pushed.
    harness.git_ok("", &["clone", "-q", &url, "v2"]);
    harness.git_ok("", &["-c", "protocol.version=0", "clone", "-q", &url, "v0"]);
    harness.git_ok("", &["clone", "-q", "--depth", "1", &url, "shallow"]);
    for clone in ["v2", "v0", "shallow"] {
        assert_eq!(harness.git_ok(clone, &["rev-parse", "HEAD"]).trim(), second, "{clone}");
    }
    assert_eq!(harness.git_ok("shallow", &["rev-list", "--count", "HEAD"]).trim(), "1");

    // A wrong password, unknown or revoked credentials: refused, and nothing changes.
    commit(&harness, "work", "a.txt", "three");
    let wrong = harness.url("demo", &user, "x".repeat(40).as_str());
    let (ok, text) = harness.git("work", &["push", &wrong, "main"]);
    assert!(!ok && text.contains("Authentication failed"), "{text}");
    harness.state.identity.revoke_git_credentials(&user).await.unwrap();
    let (ok, text) = harness.git("work", &["push", &url, "main"]);
    assert!(!ok && text.contains("Authentication failed"), "{text}");
    assert_eq!(harness.events("demo").await.len(), 4);
    let bare = repo_path(&harness.state, "demo");
    let bare = bare.to_str().unwrap();
    assert_eq!(harness.git_ok("", &["--git-dir", bare, "rev-parse", "main"]).trim(), second);

    // An unknown repository is a 404 for whoever may ask.
    let (user, password) = harness.state.identity.create_git_credentials("alice", 0).await.unwrap();
    let (ok, text) = harness.git("", &["ls-remote", &harness.url("nope", &user, &password)]);
    assert!(!ok && text.contains("not found"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_authenticates_with_the_aws_credential_helper() {
    let harness = Harness::start().await;
    harness.create_repository("demo").await;
    let keys = harness.state.identity.create_access_key("admin", 0).await;
    // `Server::open` created admin and a key; make a second one for the helper.
    let keys = keys.unwrap();
    std::fs::write(
        harness.dir.path().join("aws-credentials"),
        format!(
            "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            keys.access_key_id, keys.secret_access_key
        ),
    )
    .unwrap();
    let host = harness.endpoint.trim_start_matches("http://");
    let url = format!("http://{host}/v1/repos/demo");
    let helper = |region: &str| {
        format!(
            "credential.helper=!aws --region {region} codecommit credential-helper --ignore-host-check $@"
        )
    };
    let helper_here = helper("eu-west-3");
    let args = ["-c", &helper_here, "-c", "credential.UseHttpPath=true"];
    harness.git_ok("", &[&args[..], &["clone", "-q", &url, "work"]].concat());
    commit(&harness, "work", "eu-west-3.txt", "eu-west-3");
    harness.git_ok("work", &[&args[..], &["push", "-q", "origin", "main"]].concat());
    let events = harness.events("demo").await;
    assert_eq!(events.len(), 1);
    assert!(events.iter().all(|it| it["user"] == "admin"));

    // A password signed for another region than the server's (eu-west-3) is refused, even
    // us-east-1's, as the API refuses a request signed for it.
    for region in ["ap-south-1", "us-east-1"] {
        let helper = helper(region);
        let (ok, text) = harness.git(
            "",
            &["-c", &helper, "-c", "credential.UseHttpPath=true", "clone", &url, "refused"],
        );
        assert!(!ok && text.contains("Authentication failed"), "{region}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzipped_fetches_and_concurrent_pushes_work() {
    let harness = Harness::start().await;
    harness.create_repository("demo").await;
    harness.state.identity.create_user("bob", 0).await.unwrap();
    harness.state.identity.attach_policy_to_user("bob", "AWSCodeCommitPowerUser").await.unwrap();
    let (user, password) = harness.state.identity.create_git_credentials("bob", 0).await.unwrap();
    let url = harness.url("demo", &user, &password);
    harness.git_ok("", &["init", "-q", "work"]);
    commit(&harness, "work", "a.txt", "base");
    harness.git_ok("work", &["push", "-q", &url, "main"]);

    // Many local commits make a negotiation larger than 1 KiB, which git gzips.
    harness.git_ok("", &["clone", "-q", &url, "many"]);
    for i in 0..60 {
        commit(&harness, "many", "n.txt", &format!("local {i}"));
    }
    let remote = commit(&harness, "work", "b.txt", "remote");
    harness.git_ok("work", &["push", "-q", &url, "main"]);
    harness.git_ok("many", &["fetch", "-q", "origin"]);
    assert_eq!(harness.git_ok("many", &["rev-parse", "origin/main"]).trim(), remote);

    // Pushes at the same time each record their own events.
    let pushes: Vec<_> = (0..4)
        .map(|i| {
            let (dir, url) = (harness.dir.path().join("work"), url.clone());
            let home = harness.dir.path().join("home");
            std::thread::spawn(move || {
                Command::new("git")
                    .args(["push", "-q", &url, &format!("main:refs/heads/b{i}")])
                    .current_dir(dir)
                    .env("HOME", home)
                    .env("GIT_CONFIG_NOSYSTEM", "1")
                    .env("GIT_CONFIG_GLOBAL", "/dev/null")
                    .env("GIT_TERMINAL_PROMPT", "0")
                    .output()
                    .unwrap()
            })
        })
        .collect();
    for push in pushes {
        let output = push.join().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    let events = harness.events("demo").await;
    let mut refs: Vec<&str> = events[2..].iter().map(|it| it["ref"].as_str().unwrap()).collect();
    refs.sort();
    assert_eq!(refs, ["refs/heads/b0", "refs/heads/b1", "refs/heads/b2", "refs/heads/b3"]);
    assert!(events[2..].iter().all(|it| it["event"] == "created" && it["newCommit"] == remote));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_holds_every_ref_and_the_commit_asked_for() {
    let harness = Harness::start().await;
    harness.create_repository("demo").await;
    harness.state.identity.create_user("carol", 0).await.unwrap();
    harness.state.identity.attach_policy_to_user("carol", "AWSCodeCommitPowerUser").await.unwrap();
    let (user, password) = harness.state.identity.create_git_credentials("carol", 0).await.unwrap();
    let url = harness.url("demo", &user, &password);
    harness.git_ok("", &["init", "-q", "work"]);
    let first = commit(&harness, "work", "a.txt", "one");
    harness.git_ok("work", &["tag", "-a", "v1", "-m", "v1"]);
    harness.git_ok("work", &["checkout", "-q", "-b", "side"]);
    let side = commit(&harness, "work", "a.txt", "side");
    harness.git_ok("work", &["push", "-q", &url, "main", "side", "v1"]);
    // A commit no ref names any more is still there to build.
    harness.git_ok("work", &["push", "-q", &url, ":side"]);

    let mut headers = HeaderMap::new();
    let basic = crate::base64_codec::encode(format!("{user}:{password}").as_bytes());
    headers.insert("authorization", HeaderValue::from_str(&format!("Basic {basic}")).unwrap());
    let get = |commit: &str, headers: HeaderMap| {
        let query = vec![("commit".to_owned(), commit.to_owned())];
        bundle(
            State(harness.state.clone()),
            None,
            UrlPath("demo".to_owned()),
            Query(query),
            headers,
        )
    };
    let response = get(&side, headers.clone()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    std::fs::write(harness.dir.path().join("source.bundle"), &bytes).unwrap();
    harness.git_ok("", &["clone", "-q", "--no-checkout", "source.bundle", "clone"]);
    assert_eq!(harness.git_ok("clone", &["rev-parse", "origin/main"]).trim(), first);
    assert_eq!(harness.git_ok("clone", &["rev-parse", "v1^{commit}"]).trim(), first);
    assert_eq!(harness.git_ok("clone", &["cat-file", "-t", &side]).trim(), "commit");

    // Not an object id, no credentials, an unknown commit: no bundle.
    assert_eq!(get("main", headers.clone()).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(get(&side, HeaderMap::new()).await.status(), StatusCode::UNAUTHORIZED);
    let unknown = get(&"0".repeat(40), headers).await;
    assert!(axum::body::to_bytes(unknown.into_body(), usize::MAX).await.is_err());
}

#[test]
fn a_push_s_refused_updates_are_its_error() {
    let status = |name: &str, reason: &str| RefStatus {
        name: name.to_owned(),
        ok: reason.is_empty(),
        reason: reason.to_owned(),
    };
    assert_eq!(push_refusal(&[status("refs/heads/main", "")]), None);
    assert_eq!(push_refusal(&[]), None);
    let hook = status("refs/heads/main", "pre-receive hook declined");
    let other = status("refs/heads/x", "non-fast-forward");
    assert_eq!(
        push_refusal(&[status("refs/heads/a", ""), hook.clone()]),
        Some(("AccessDenied", "ng refs/heads/main pre-receive hook declined".to_owned()))
    );
    assert_eq!(
        push_refusal(&[hook, other]),
        Some((
            "RefUpdateFailed",
            "ng refs/heads/main pre-receive hook declined; ng refs/heads/x non-fast-forward"
                .to_owned()
        ))
    );
}

/// The GitPush events of the audit trail, newest first.
async fn git_pushes(harness: &Harness) -> Vec<serde_json::Value> {
    assert!(harness.state.audit.flush(crate::audit::FLUSH_WAIT).await);
    let attribute = cloudtrail::lookup::LookupAttribute {
        attribute_key: Some("EventName".to_owned()),
        attribute_value: Some("GitPush".to_owned()),
    };
    let input = cloudtrail::lookup::LookupEventsInput {
        lookup_attributes: Some(vec![attribute]),
        ..Default::default()
    };
    let found = cloudtrail::lookup::lookup_events(&harness.state.store, input).await.unwrap();
    found.events.iter().map(|it| serde_json::from_str(&it.cloud_trail_event).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_the_pre_receive_hook_refuses_is_recorded_as_refused() {
    let harness = Harness::start().await;
    tokio::spawn(harness.state.audit_flusher.clone().run());
    harness.create_repository("demo").await;
    for user in ["alice", "bob"] {
        harness.state.identity.create_user(user, 0).await.unwrap();
        harness.state.identity.attach_policy_to_user(user, "AWSCodeCommitPowerUser").await.unwrap();
    }
    let (user, password) = harness.state.identity.create_git_credentials("alice", 0).await.unwrap();
    let url = harness.url("demo", &user, &password);
    harness.git_ok("", &["init", "-q", "work"]);
    commit(&harness, "work", "a.txt", "one");
    harness.git_ok("work", &["push", "-q", &url, "main"]);
    // Only bob may force-push to main now: alice's rewrite passes authorization (a policy
    // cannot tell a force push), and the hook refuses it.
    let rule = codecommit::protection::BranchRule {
        branch: "main".to_owned(),
        push: None,
        force_push: Some(vec!["bob".to_owned()]),
        delete: None,
    };
    codecommit::protection::set_rule(harness.state.codecommit(), "demo", rule).await.unwrap();
    harness.git_ok("work", &["commit", "-q", "--amend", "-m", "rewritten"]);
    let (ok, text) = harness.git("work", &["push", "--force", &url, "main"]);
    assert!(!ok && text.contains("pre-receive hook declined"), "{text}");

    let pushes = git_pushes(&harness).await;
    assert_eq!(pushes.len(), 2, "{pushes:?}");
    assert_eq!(pushes[0]["errorCode"], "AccessDenied", "{}", pushes[0]);
    assert_eq!(pushes[0]["errorMessage"], "ng refs/heads/main pre-receive hook declined");
    assert_eq!(pushes[0]["userIdentity"]["userName"], "alice");
    assert!(pushes[1].get("errorCode").is_none(), "{}", pushes[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_references_deny_refuses_a_push_to_main_over_http_and_not_one_to_a_feature() {
    let harness = Harness::start().await;
    tokio::spawn(harness.state.audit_flusher.clone().run());
    harness.create_repository("demo").await;
    harness.state.identity.create_user("alice", 0).await.unwrap();
    harness.state.identity.attach_policy_to_user("alice", "AWSCodeCommitPowerUser").await.unwrap();
    let deny = iam::policies::PutUserPolicyRequest {
        user_name: "alice".into(),
        policy_name: "protect-main".into(),
        policy_document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"codecommit:GitPush","Resource":"*","Condition":{"StringEqualsIfExists":{"codecommit:References":["refs/heads/main"]},"Null":{"codecommit:References":"false"}}}]}"#.into(),
    };
    iam::policies::put_user_policy(&harness.state.identity, deny).await.unwrap();
    let (user, password) = harness.state.identity.create_git_credentials("alice", 0).await.unwrap();
    let url = harness.url("demo", &user, &password);
    harness.git_ok("", &["init", "-q", "work"]);
    let pushed = commit(&harness, "work", "a.txt", "one");
    // main alone, and main among other refs: refused whole, nothing moves.
    for refs in [&["main"][..], &["main", "main:refs/heads/feature"]] {
        let mut args = vec!["push", url.as_str()];
        args.extend_from_slice(refs);
        let (ok, text) = harness.git("work", &args);
        // git shows the refusal on the refs' lines (the request is refused whole).
        assert!(!ok && text.contains("[remote rejected]"), "{refs:?}: {text}");
        assert!(text.contains("with an explicit deny"), "{refs:?}: {text}");
    }
    assert!(harness.events("demo").await.is_empty());
    let refused = git_pushes(&harness).await;
    assert_eq!(refused.len(), 2, "{refused:?}");
    for event in &refused {
        assert_eq!(event["errorCode"], "AccessDenied", "{event}");
        let message = event["errorMessage"].as_str().unwrap();
        assert!(message.contains("with an explicit deny"), "{message}");
    }
    harness.git_ok("work", &["push", "-q", &url, "main:refs/heads/feature"]);
    let events = harness.events("demo").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["ref"], "refs/heads/feature");
    assert_eq!(events[0]["newCommit"], pushed.as_str());
}
