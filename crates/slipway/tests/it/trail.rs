//! The audit trail end to end: real `aws` CLI calls (one with a wrong secret, one that fails),
//! a real `git push` and fetch, a console sign-in; then `aws cloudtrail lookup-events` finds
//! each with CloudTrail's fields, and the console's audit page lists them.

use std::io::{Read, Write};
use std::net::TcpStream;

use serde_json::Value;

use crate::Sandbox;
use crate::server::RunningServer;
use crate::support::{commit, git_ok, push_url};

/// `aws cloudtrail lookup-events` for the events named `name`: the records (the parsed
/// `CloudTrailEvent`s) and the summaries, newest first.
fn lookup(server: &RunningServer, name: &str) -> Vec<(Value, Value)> {
    let attribute = format!("AttributeKey=EventName,AttributeValue={name}");
    let answer = server.json(&["cloudtrail", "lookup-events", "--lookup-attributes", &attribute]);
    answer["Events"]
        .as_array()
        .unwrap_or_else(|| panic!("no Events in {answer}"))
        .iter()
        .map(|summary| {
            let record =
                serde_json::from_str(summary["CloudTrailEvent"].as_str().unwrap()).unwrap();
            (summary.clone(), record)
        })
        .collect()
}

#[test]
fn the_audit_trail_records_api_calls_git_and_the_console() {
    let sandbox = Sandbox::new();
    let server =
        RunningServer::start_with(&sandbox.path("data"), "127.0.0.1:0", &["--no-local-agent"]);

    // Calls that succeed, one that fails, one refused for its signature.
    server.json(&["codecommit", "create-repository", "--repository-name", "web"]);
    let put =
        ["ssm", "put-parameter", "--name", "db", "--value", "s3cret", "--type", "SecureString"];
    server.json(&put);
    let missing = server.aws(&["codecommit", "get-repository", "--repository-name", "nothing"]);
    assert_ne!(missing.code, Some(0));
    let admin = std::fs::read_to_string(server.credentials()).unwrap();
    let key_line = admin.lines().find(|it| it.starts_with("aws_secret_access_key")).unwrap();
    let wrong = sandbox.path("wrong-credentials");
    std::fs::write(&wrong, admin.replace(key_line, "aws_secret_access_key = wrong")).unwrap();
    let refused = server.aws_with(&wrong, &["codecommit", "list-repositories"]);
    assert!(refused.stderr.contains("InvalidSignatureException"), "{refused:?}");

    // A push and a clone.
    let work = sandbox.path("work");
    std::fs::create_dir_all(&work).unwrap();
    git_ok(&work, &["init", "-q", "-b", "main"]);
    commit(&work, "README.md", "hello\n", "first");
    let url = push_url(&sandbox, &server, "web");
    git_ok(&work, &["push", "-q", &url, "main"]);
    git_ok(sandbox.dir.path(), &["clone", "-q", &url, "copy"]);

    let created = lookup(&server, "CreateRepository");
    assert_eq!(created.len(), 1);
    let (summary, record) = &created[0];
    assert_eq!(summary["EventName"], "CreateRepository");
    assert_eq!(summary["EventSource"], "codecommit.amazonaws.com");
    assert_eq!(summary["Username"], "admin");
    assert_eq!(summary["ReadOnly"], "false");
    assert!(summary["AccessKeyId"].as_str().is_some_and(|it| !it.is_empty()), "{summary}");
    assert_eq!(summary["Resources"][0]["ResourceType"], "AWS::CodeCommit::Repository");
    assert_eq!(summary["EventId"], record["eventID"]);
    assert_eq!(record["eventType"], "AwsApiCall");
    assert_eq!(record["awsRegion"], "us-east-1");
    assert_eq!(record["sourceIPAddress"], "127.0.0.1");
    assert!(record["userAgent"].as_str().unwrap().starts_with("aws-cli/"), "{record}");
    assert_eq!(record["userIdentity"]["type"], "IAMUser");
    assert_eq!(record["userIdentity"]["arn"], "arn:aws:iam::000000000000:user/admin");
    // The user's unique id, as GetUser names it.
    let admin: Value = server.json(&["iam", "get-user", "--user-name", "admin"]);
    assert_eq!(record["userIdentity"]["principalId"], admin["User"]["UserId"], "{record}");
    assert_eq!(record["requestParameters"]["repositoryName"], "web");
    assert!(record.get("errorCode").is_none());

    let (_, put) = &lookup(&server, "PutParameter")[0];
    assert_eq!(put["requestParameters"]["Value"], "HIDDEN_DUE_TO_SECURITY_REASONS");
    assert!(!put.to_string().contains("s3cret"));

    let (summary, failed) = &lookup(&server, "GetRepository")[0];
    assert_eq!(summary["ReadOnly"], "true");
    assert_eq!(failed["errorCode"], "RepositoryDoesNotExistException");
    assert!(failed["errorMessage"].as_str().is_some());

    let (_, refused) = &lookup(&server, "ListRepositories")[0];
    assert_eq!(refused["errorCode"], "InvalidSignatureException");
    assert_eq!(refused["userIdentity"]["type"], "Unknown");

    let pushes = lookup(&server, "GitPush");
    assert_eq!(pushes.len(), 1, "{pushes:?}");
    let (summary, push) = &pushes[0];
    assert_eq!(summary["EventSource"], "codecommit.amazonaws.com");
    assert_eq!(summary["Username"], "admin");
    assert_eq!(push["readOnly"], false);
    assert_eq!(push["requestParameters"]["repositoryName"], "web");
    assert!(push["userAgent"].as_str().unwrap().starts_with("git/"), "{push}");
    let pulls = lookup(&server, "GitPull");
    assert!(!pulls.is_empty());
    assert_eq!(pulls[0].1["readOnly"], true);

    // Time ranges and paging, as the CLI sends them.
    let future =
        server.json(&["cloudtrail", "lookup-events", "--start-time", "2999-01-01T00:00:00Z"]);
    assert_eq!(future["Events"], Value::Array(Vec::new()));
    let bad = server.aws(&[
        "cloudtrail",
        "lookup-events",
        "--start-time",
        "2030-01-02T00:00:00Z",
        "--end-time",
        "2030-01-01T00:00:00Z",
    ]);
    assert!(bad.stderr.contains("InvalidTimeRangeException"), "{bad:?}");
    let paged = server.json(&["cloudtrail", "lookup-events", "--page-size", "2"]);
    let names: Vec<&str> = paged["Events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|it| it["EventName"].as_str())
        .collect();
    assert!(names.len() > 5, "{names:?}");

    // The console: a sign-in, then the audit page.
    let address = server.endpoint.trim_start_matches("http://").to_owned();
    let cookie = sign_in(&server, &address);
    let page = request(&address, "GET", "/console/audit?event=GitPush", Some(&cookie), "");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("GitPush"), "{page}");
    assert!(!page.contains("CreateRepository"), "{page}");
    let page = request(&address, "GET", "/console/audit", Some(&cookie), "");
    assert!(page.contains("ConsoleLogin") && page.contains("CreateRepository"), "{page}");
    let (_, login) = &lookup(&server, "ConsoleLogin")[0];
    assert_eq!(login["eventType"], "AwsConsoleSignIn");
    assert_eq!(login["responseElements"]["ConsoleLogin"], "Success");
}

/// Signs in as the admin over raw HTTP; the session cookie.
fn sign_in(server: &RunningServer, address: &str) -> String {
    let file = std::fs::read_to_string(server.credentials()).unwrap();
    let password = file
        .lines()
        .find_map(|line| line.strip_prefix("# Console password of user admin: "))
        .unwrap()
        .to_owned();
    let page = request(address, "GET", "/console/login", None, "");
    let cookie = cookie(&page);
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).unwrap() + marker.len();
    let csrf = page[start..].split('"').next().unwrap();
    let body = format!("user=admin&password={password}&csrf={csrf}");
    let response = request(address, "POST", "/console/login", Some(&cookie), &body);
    assert!(response.starts_with("HTTP/1.1 303"), "{response}");
    self::cookie(&response)
}

/// The `name=value` of the cookie a response sets.
fn cookie(response: &str) -> String {
    response
        .lines()
        .find_map(|line| line.strip_prefix("set-cookie: "))
        .and_then(|it| it.split(';').next())
        .unwrap_or_else(|| panic!("no cookie: {response}"))
        .to_owned()
}

/// A raw HTTP/1.1 request with a form body; the whole response.
fn request(address: &str, method: &str, path: &str, cookie: Option<&str>, body: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    let cookie = cookie.map(|it| format!("Cookie: {it}\r\n")).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\n{cookie}\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}
