//! The web console in a real browser (headless Chromium): signing in with the admin's console
//! password, the repositories list, HTTPS git credentials generated and revoked on the
//! Security credentials page and used by the real `git`, changing the password, and a
//! read-only user's console without what they may not do; and, over raw HTTP, that forms
//! posted without the session's anti-forgery token change nothing.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;

use crate::browser::Browser;
use crate::server::RunningServer;
use crate::support::{GitCredentials, git};
use crate::{Run, Sandbox};

/// The console password the first start wrote into the admin's credentials file.
fn admin_console_password(server: &RunningServer) -> String {
    let file = std::fs::read_to_string(server.credentials()).unwrap();
    file.lines()
        .find_map(|line| line.strip_prefix("# Console password of user admin: "))
        .unwrap_or_else(|| panic!("no console password in the credentials file:\n{file}"))
        .to_owned()
}

fn sign_in(browser: &mut Browser, user: &str, password: &str) {
    browser.fill("input[name=user]", user);
    browser.fill("input[name=password]", password);
    browser.click("role=button[name=\"Sign in\"]");
}

#[test]
fn git_credentials_are_generated_and_revoked_in_the_console() {
    let sandbox = Sandbox::new();
    let server =
        RunningServer::start_with(&sandbox.path("data"), "127.0.0.1:0", &["--no-local-agent"]);
    server
        .aws(&[
            "codecommit",
            "create-repository",
            "--repository-name",
            "demo",
            "--repository-description",
            "The <b>demo</b> & more",
        ])
        .expect_code(0);
    let password = admin_console_password(&server);
    let mut browser = Browser::start();

    // Signed out, the server's root leads to the sign-in page, which comes back afterwards.
    browser.goto(&format!("{}/", server.endpoint));
    assert!(browser.url().contains("/console/login?next=/console/"), "{}", browser.url());
    sign_in(&mut browser, "admin", "not the password");
    assert_eq!(browser.text("role=alert"), "The user name or password is not correct.");
    sign_in(&mut browser, "admin", &password);
    assert_eq!(browser.url(), format!("{}/console/", server.endpoint));
    assert_eq!(browser.text("#signed-in-user"), "admin");

    // The repositories list, with the description shown as text, not markup.
    assert_eq!(browser.text("td.name"), "demo");
    assert_eq!(browser.text("td.name + td"), "The <b>demo</b> & more");
    let clone_url = format!("{}/v1/repos/demo", server.endpoint);
    assert_eq!(browser.text("td code"), clone_url);

    // Generate credentials: the password is on the page this once.
    browser.click("nav a[href=\"/console/security\"]");
    assert_eq!(browser.count("#git-credentials tbody tr"), 0);
    browser.click("role=button[name=\"Generate credentials\"]");
    let credentials = GitCredentials {
        username: browser.text("#git-username"),
        password: browser.text("#git-password"),
    };
    assert!(credentials.username.starts_with("admin-at-"), "{credentials:?}");
    assert_eq!(credentials.password.len(), 40);

    // Real git works with them.
    let work = sandbox.path("work");
    std::fs::create_dir_all(&work).unwrap();
    let url = credentials.url(&server.endpoint, "demo");
    git(&work, &["init", "-q", "-b", "main"]).expect_code(0);
    crate::support::commit(&work, "README.md", "hello\n", "first");
    git(&work, &["push", "-q", &url, "main"]).expect_code(0);

    // The repository's page shows what was pushed: its files and commits.
    browser.goto(&format!("{}/console/", server.endpoint));
    browser.click("role=link[name=\"demo\"]");
    assert_eq!(browser.text("#repository-name"), "demo");
    assert_eq!(browser.text("#commits tbody tr td:nth-child(2)"), "first");
    browser.click("role=link[name=\"README.md\"]");
    assert_eq!(browser.text("#file-content"), "hello");

    // The list shows them as active; revoking them there makes git refuse them.
    browser.goto(&format!("{}/console/security", server.endpoint));
    let row = format!("tr[data-git-user=\"{}\"]", credentials.username);
    assert_eq!(browser.text(&format!("{row} td:nth-child(3)")), "Active");
    browser.click(&format!("role=button[name=\"Revoke {}\"]", credentials.username));
    assert!(browser.text("role=status").starts_with("Revoked the git credentials"));
    assert_eq!(browser.text(&format!("{row} td:nth-child(3)")), "Revoked");
    assert_eq!(browser.count(&format!("{row} button")), 0);
    let refused = git(&work, &["ls-remote", &url]);
    assert_ne!(refused.code, Some(0), "{refused:?}");
    assert!(refused.stderr.contains("Authentication failed"), "{}", refused.stderr);

    // A new password: the old one stops working, the new one signs in.
    browser.fill("input[name=current]", &password);
    browser.fill("input[name=new]", "a new console password");
    browser.fill("input[name=confirm]", "a new console password");
    browser.click("role=button[name=\"Change password\"]");
    assert_eq!(browser.text("role=status"), "Your console password is changed.");
    browser.click("role=button[name=\"Sign out\"]");
    assert!(browser.url().ends_with("/console/login"), "{}", browser.url());
    browser.goto(&format!("{}/console/security", server.endpoint));
    assert!(browser.url().contains("/console/login?next=/console/security"));
    sign_in(&mut browser, "admin", &password);
    assert_eq!(browser.text("role=alert"), "The user name or password is not correct.");
    sign_in(&mut browser, "admin", "a new console password");
    assert_eq!(browser.url(), format!("{}/console/security", server.endpoint));

    // A user with AWSCodeCommitReadOnly sees what it lets them do: the repositories and their
    // own credentials in the menu, not the builds nor the audit trail; no button to generate
    // git credentials, no password form.
    let data = server.data_dir.to_str().unwrap();
    sandbox.slipway(&["user", "create", "reader", "--data-dir", data]).status().unwrap();
    let attach = ["user", "attach-policy", "reader", "AWSCodeCommitReadOnly", "--data-dir", data];
    sandbox.slipway(&attach).status().unwrap();
    let mut child = sandbox
        .slipway(&["user", "set-password", "reader", "--data-dir", data])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "the reader's password").unwrap();
    Run::from(child.wait_with_output().unwrap()).expect_code(0);
    browser.click("role=button[name=\"Sign out\"]");
    sign_in(&mut browser, "reader", "the reader's password");
    assert_eq!(browser.text("#signed-in-user"), "reader");
    assert_eq!(browser.count("nav a[href=\"/console/\"]"), 1);
    assert_eq!(browser.count("nav a[href=\"/console/security\"]"), 1);
    assert_eq!(browser.count("nav a[href=\"/console/builds\"]"), 0);
    assert_eq!(browser.count("nav a[href=\"/console/audit\"]"), 0);
    assert_eq!(browser.text("td.name"), "demo");
    browser.click("nav a[href=\"/console/security\"]");
    assert_eq!(browser.count("role=button[name=\"Generate credentials\"]"), 0);
    assert_eq!(browser.count("role=button[name=\"Change password\"]"), 0);
}

#[test]
fn console_forms_need_the_sessions_token() {
    let sandbox = Sandbox::new();
    let server =
        RunningServer::start_with(&sandbox.path("data"), "127.0.0.1:0", &["--no-local-agent"]);
    let password = admin_console_password(&server);
    let address = server.endpoint.trim_start_matches("http://").to_owned();

    // Without a session, a page sends the browser to sign in.
    let response = request(&address, "GET", "/console/security", None, "");
    assert!(response.starts_with("HTTP/1.1 303"), "{response}");
    assert!(response.contains("location: /console/login?next=/console/security"), "{response}");

    // A sign-in form not served by the console (another site's) signs nobody in.
    let form = format!("user=admin&password={password}&next=%2Fconsole%2Fsecurity");
    let response = request(&address, "POST", "/console/login", None, &form);
    assert!(response.starts_with("HTTP/1.1 403"), "{response}");
    assert!(!response.contains("slipway_session="), "{response}");
    let forged = format!("{form}&csrf=forged");
    let response =
        request(&address, "POST", "/console/login", Some("slipway_sign_in=other"), &forged);
    assert!(response.starts_with("HTTP/1.1 403"), "{response}");

    let response = sign_in_raw(&address, &form);
    assert!(response.starts_with("HTTP/1.1 303"), "{response}");
    assert!(response.contains("location: /console/security\r\n"), "{response}");
    let cookie = session_cookie(&response);
    assert!(response.contains("HttpOnly; SameSite=Lax"), "{response}");

    // With the session's cookie but a forged or missing token: refused, nothing created.
    for body in ["csrf=forged", ""] {
        let response =
            request(&address, "POST", "/console/security/git-credentials", Some(&cookie), body);
        assert!(
            response.starts_with("HTTP/1.1 403") || response.starts_with("HTTP/1.1 422"),
            "{response}"
        );
    }
    let page = request(&address, "GET", "/console/security", Some(&cookie), "");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("cache-control: no-store"), "{page}");
    assert!(page.contains("You have no git credentials."), "{page}");

    // Signed out, a page with a query comes back whole after signing in.
    let response = request(&address, "GET", "/console/repositories/x?ref=main&path=src", None, "");
    assert!(
        response.contains(
            "location: /console/login?next=/console/repositories/x%3Fref%3Dmain%26path%3Dsrc"
        ),
        "{response}"
    );

    // Repository pages: an empty one says how to push; an unknown one is not found.
    server.aws(&["codecommit", "create-repository", "--repository-name", "empty"]).expect_code(0);
    let page = request(&address, "GET", "/console/repositories/empty", Some(&cookie), "");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("This repository is empty."), "{page}");
    let page = request(&address, "GET", "/console/repositories/nothing", Some(&cookie), "");
    assert!(page.starts_with("HTTP/1.1 404"), "{page}");

    // Another user, with a password set by `slipway user set-password`, cannot revoke the
    // admin's credentials.
    let data = server.data_dir.to_str().unwrap();
    sandbox.slipway(&["user", "create", "bob", "--data-dir", data]).status().unwrap();
    let attach = ["user", "attach-policy", "bob", "AdministratorAccess", "--data-dir", data];
    sandbox.slipway(&attach).status().unwrap();
    let set_password = |password: &str| {
        let mut child = sandbox
            .slipway(&["user", "set-password", "bob", "--data-dir", data])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        Run::from(child.wait_with_output().unwrap())
    };
    let short = set_password("short");
    short.expect_code(2);
    assert!(short.stderr.contains("8 to 128 characters"), "{}", short.stderr);
    set_password("bob's password").expect_code(0);
    let form = "user=bob&password=bob%27s+password";
    let response = sign_in_raw(&address, form);
    assert!(response.starts_with("HTTP/1.1 303"), "{response}");
    let bob = session_cookie(&response);
    let page = request(&address, "GET", "/console/security", Some(&bob), "");
    let csrf = hidden_csrf(&page);
    let admins = crate::support::git_credentials(&sandbox, &server, "admin");
    let path = format!("/console/security/git-credentials/{}/revoke", admins.username);
    let response = request(&address, "POST", &path, Some(&bob), &format!("csrf={csrf}"));
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
    let response = request(&address, "POST", &path, Some(&cookie), &format!("csrf={csrf}"));
    assert!(response.starts_with("HTTP/1.1 403"), "a token of bob's session: {response}");
    let admin_page = request(&address, "GET", "/console/security", Some(&cookie), "");
    assert!(admin_page.contains(&admins.username) && admin_page.contains("Active"));
}

/// Signs in as a browser does: GETs the form (its anti-forgery token and pre-session
/// cookie), then POSTs `form` with both; the POST's response.
fn sign_in_raw(address: &str, form: &str) -> String {
    let page = request(address, "GET", "/console/login", None, "");
    let cookie = session_cookie(&page);
    assert!(cookie.starts_with("slipway_sign_in="), "{page}");
    let body = format!("{form}&csrf={}", hidden_csrf(&page));
    request(address, "POST", "/console/login", Some(&cookie), &body)
}

#[test]
fn a_malformed_next_never_breaks_signing_in() {
    let sandbox = Sandbox::new();
    let server =
        RunningServer::start_with(&sandbox.path("data"), "127.0.0.1:0", &["--no-local-agent"]);
    let password = admin_console_password(&server);
    let address = server.endpoint.trim_start_matches("http://").to_owned();
    for next in ["/console/%C3%A9", "/console/%FF", "%2Fconsole%2F%25zz", "/console/%E2%82"] {
        let page = request(&address, "GET", &format!("/console/login?next={next}"), None, "");
        assert!(page.starts_with("HTTP/1.1 200") || page.starts_with("HTTP/1.1 400"), "{page}");
        let response =
            sign_in_raw(&address, &format!("user=admin&password={password}&next={next}"));
        assert!(response.starts_with("HTTP/1.1 303"), "{next}: {response}");
        assert!(response.contains("location: /console/\r\n"), "{next}: {response}");
        // Signed in, the sign-in page sends the browser on: to the console's home.
        let cookie = session_cookie(&response);
        let page =
            request(&address, "GET", &format!("/console/login?next={next}"), Some(&cookie), "");
        assert!(page.contains("location: /console/\r\n"), "{next}: {page}");
    }
}

/// The `name=value` of the session cookie a sign-in response sets.
fn session_cookie(response: &str) -> String {
    response
        .lines()
        .find_map(|line| line.strip_prefix("set-cookie: "))
        .and_then(|it| it.split(';').next())
        .unwrap_or_else(|| panic!("no session cookie: {response}"))
        .to_owned()
}

/// The anti-forgery token in a page's forms.
fn hidden_csrf(page: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).expect("a form with a token") + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

/// A raw HTTP/1.1 request with a form body; the whole response (headers in lower case, as
/// the server sends them).
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

#[test]
fn builds_are_shown_with_their_phases_and_logs() {
    let sandbox = Sandbox::new();
    let server = RunningServer::start(&sandbox.path("data"));
    let buildspec = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo \"<b>hello</b> from the build\"\n      - exit 3\n";
    let source = serde_json::json!({ "type": "NO_SOURCE", "buildspec": buildspec }).to_string();
    server.create_project("shown", &source);
    let id = crate::server::start(&server, "shown", &[]);
    let finished = crate::server::wait_for_build(&server, &id);
    assert_eq!(finished["buildStatus"], "FAILED");
    let password = admin_console_password(&server);
    let mut browser = Browser::start();
    browser.goto(&format!("{}/console/builds", server.endpoint));
    sign_in(&mut browser, "admin", &password);
    let row = format!("tr[data-build=\"{id}\"]");
    assert_eq!(browser.text(&format!("{row} td:nth-child(2)")), "shown");
    assert_eq!(browser.text(&format!("{row} td:nth-child(3)")), "FAILED");
    browser.click(&format!("{row} a"));
    assert_eq!(browser.text("#build-status"), "FAILED");
    assert_eq!(browser.text("tr[data-phase=\"BUILD\"] td:nth-child(2)"), "FAILED");
    let context = browser.text("tr[data-phase=\"BUILD\"] td:nth-child(4)");
    assert!(context.contains("exit status 3"), "{context}");
    // The log is text: the command's markup is shown, not rendered.
    let log = browser.text("#build-log");
    assert!(log.contains("<b>hello</b> from the build"), "{log}");
    browser.click("text=whole log as text");
    assert!(browser.text("body").contains("<b>hello</b> from the build"));
}
