//! CodeCommit repository triggers end to end: the `aws` CLI configures them, real git pushes
//! fire them, and small loopback HTTP receivers in the test record what arrives.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::Sandbox;
use crate::server::RunningServer;
use crate::support::{self, git};

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    /// Header names in lower case.
    headers: Vec<(String, String)>,
    body: String,
    at: Instant,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }
}

/// An HTTP receiver on 127.0.0.1 that answers with `statuses` in turn, then 200s, and keeps
/// every request. It serves at most 20 connections, so its thread cannot outlive the test
/// by looping for ever.
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start(statuses: &[u16]) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let statuses = Mutex::new(statuses.iter().copied().collect::<VecDeque<u16>>());
        let log = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(20) {
                let Ok(mut stream) = stream else { continue };
                stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let Some(request) = read_request(&mut stream) else { continue };
                log.lock().unwrap().push(request);
                let status = statuses.lock().unwrap().pop_front().unwrap_or(200);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} Status\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
            }
        });
        Receiver { url, received }
    }

    fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits (at most `limit`) until `n` requests have arrived.
    fn wait_for(&self, n: usize, limit: Duration) -> Vec<Received> {
        let start = Instant::now();
        while self.requests().len() < n && start.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.requests()
    }
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<Received> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_owned();
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':')?;
        headers.push((name.trim().to_lowercase(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length.min(1 << 20)];
    reader.read_exact(&mut body).ok()?;
    Some(Received { path, headers, body: String::from_utf8(body).ok()?, at: Instant::now() })
}

fn is_signature(value: &str) -> bool {
    value
        .strip_prefix("sha256=")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[test]
fn triggers_deliver_signed_notifications_for_selected_pushes() {
    let sandbox = Sandbox::new();
    let server =
        RunningServer::start_with(&sandbox.path("data"), "127.0.0.1:0", &["--no-local-agent"]);
    server.json(&["codecommit", "create-repository", "--repository-name", "demo"]);

    let live = Receiver::start(&[]);
    let flaky = Receiver::start(&[500, 500]);
    let triggers = json!([
        {
            "name": "main-only",
            "destinationArn": live.url,
            "customData": "hello",
            "branches": ["main"],
            "events": ["all"],
        },
        {
            "name": "flaky",
            "destinationArn": flaky.url,
            "branches": ["main"],
            "events": ["createReference"],
        },
    ]);
    let triggers_text = triggers.to_string();
    let put = server.json(&[
        "codecommit",
        "put-repository-triggers",
        "--repository-name",
        "demo",
        "--triggers",
        &triggers_text,
    ]);
    let configuration_id = put["configurationId"].as_str().unwrap().to_owned();
    assert_eq!(configuration_id.len(), 36, "{put}");
    let got = server.json(&["codecommit", "get-repository-triggers", "--repository-name", "demo"]);
    assert_eq!(got, json!({ "configurationId": configuration_id, "triggers": triggers }));

    // SNS topics have no meaning here.
    let sns = json!([{
        "name": "sns", "destinationArn": "arn:aws:sns:us-east-1:000000000000:topic",
        "branches": [], "events": ["all"],
    }])
    .to_string();
    let refused = server.aws(&[
        "codecommit",
        "put-repository-triggers",
        "--repository-name",
        "demo",
        "--triggers",
        &sns,
    ]);
    assert!(
        refused.stderr.contains("(InvalidRepositoryTriggerDestinationArnException)"),
        "{}",
        refused.stderr
    );

    // One push creates two branches; only main is selected.
    let credentials = support::git_credentials(&sandbox, &server, "admin");
    let url = credentials.url(&server.endpoint, "demo");
    let work = sandbox.path("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]).expect_code(0);
    std::fs::write(work.join("README.md"), "hello\n").unwrap();
    git(&work, &["add", "README.md"]).expect_code(0);
    git(&work, &["commit", "-q", "-m", "first commit"]).expect_code(0);
    git(&work, &["push", "-q", &url, "main", "main:feature"]).expect_code(0);
    let commit = git(&work, &["rev-parse", "HEAD"]).stdout.trim().to_owned();

    let requests = live.wait_for(1, Duration::from_secs(10));
    assert_eq!(requests.len(), 1, "{requests:?}");
    let request = &requests[0];
    assert_eq!(request.path, "/hook");
    assert_eq!(request.header("content-type"), "application/json");
    assert!(is_signature(request.header("x-slipway-signature")), "{request:?}");
    let delivery = request.header("x-slipway-delivery");
    assert!(delivery.starts_with("demo/") && delivery.ends_with("/main-only"), "{delivery}");
    let body: Value = serde_json::from_str(&request.body).unwrap();
    let record = &body["Records"][0];
    assert_eq!(record["eventSource"], "aws:codecommit");
    assert_eq!(record["eventSourceARN"], "arn:aws:codecommit:us-east-1:000000000000:demo");
    assert_eq!(record["eventTriggerName"], "main-only");
    assert_eq!(record["eventTriggerConfigId"], configuration_id.as_str());
    assert_eq!(record["customData"], "hello");
    assert_eq!(
        record["codecommit"]["references"],
        json!([{ "ref": "refs/heads/main", "commit": commit, "created": true }])
    );

    // The flaky receiver answers 500 twice: the third attempt, 1 s + 2 s later, gets it.
    let attempts = flaky.wait_for(3, Duration::from_secs(12));
    assert_eq!(attempts.len(), 3, "{attempts:?}");
    assert!(attempts[2].at - attempts[0].at >= Duration::from_millis(2500), "{attempts:?}");
    for attempt in &attempts {
        assert_eq!(attempt.body, attempts[0].body, "every attempt sends the same body");
        assert_eq!(
            attempt.header("x-slipway-signature"),
            attempts[0].header("x-slipway-signature")
        );
        assert!(attempt.header("x-slipway-delivery").ends_with("/flaky"));
    }
    // Nothing more: feature was not selected and the delivered events are not sent again.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(live.requests().len(), 1);
    assert_eq!(flaky.requests().len(), 3);

    // TestRepositoryTriggers: the live receiver succeeds, a closed port fails.
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook", listener.local_addr().unwrap())
    };
    let tested = json!([
        { "name": "main-only", "destinationArn": live.url, "branches": [], "events": ["all"] },
        { "name": "dead", "destinationArn": closed, "branches": [], "events": ["all"] },
    ])
    .to_string();
    let result = server.json(&[
        "codecommit",
        "test-repository-triggers",
        "--repository-name",
        "demo",
        "--triggers",
        &tested,
    ]);
    assert_eq!(result["successfulExecutions"], json!(["main-only"]), "{result}");
    assert_eq!(result["failedExecutions"][0]["trigger"], "dead", "{result}");
    assert!(!result["failedExecutions"][0]["failureMessage"].as_str().unwrap().is_empty());
    let requests = live.requests();
    assert_eq!(requests.len(), 2);
    assert!(is_signature(requests[1].header("x-slipway-signature")));
    assert!(requests[1].header("x-slipway-delivery").starts_with("test/"));
}
