//! Tests of the console's helpers: where signing in may lead, how times are shown.

use super::*;

#[test]
fn after_signing_in_only_console_paths_are_followed() {
    assert_eq!(safe_next(Some("/console/security")), "/console/security");
    assert_eq!(safe_next(Some("/console/%C3%A9?a=b%20c")), "/console/%C3%A9?a=b%20c");
    assert_eq!(
        safe_next(Some("/console/repositories/x?ref=main&path=src")),
        "/console/repositories/x?ref=main&path=src"
    );
    for bad in [
        None,
        Some("https://evil.example/"),
        Some("//evil.example/"),
        Some("/console/\\x"),
        Some("/v1/repos"),
        Some("/console/\n"),
        Some("/console/é"),
        Some("/console/%zz"),
        Some("/console/%C"),
        Some("/console/a b"),
        Some("/console/../v1/repos"),
        Some("/console/%2e%2e/v1"),
        Some("/console//evil.example"),
    ] {
        assert_eq!(safe_next(bad), "/console/", "{bad:?}");
    }
}

#[test]
fn times_and_query_values_are_written_plainly() {
    assert_eq!(display_time(0), "1970-01-01 00:00 UTC");
    assert_eq!(display_time(1_795_376_400_000), "2026-11-22 19:40 UTC");
    assert_eq!(percent_encode("/console/a b&c=d"), "/console/a%20b%26c%3Dd");
}

#[test]
fn folder_paths_become_crumbs_and_git_dates_read_plainly() {
    let crumbs: Vec<(String, String)> =
        crumbs("/src/app/").into_iter().map(|it| (it.name, it.path)).collect();
    assert_eq!(
        crumbs,
        [("src".to_owned(), "src".to_owned()), ("app".to_owned(), "src/app".to_owned())]
    );
    assert!(super::crumbs("").is_empty());
    assert_eq!(git_date("1795376400 +0100"), "2026-11-22 19:40 UTC");
    assert_eq!(git_date("not a date"), "not a date");
}

#[test]
fn a_redirect_to_anything_never_panics() {
    for location in ["/console/é", "/console/\n", "\u{0}"] {
        let response = redirect(location);
        assert_eq!(response.headers()[LOCATION], "/console/", "{location:?}");
    }
}

#[tokio::test]
async fn failed_sign_ins_are_counted_for_the_address_they_come_from() {
    let (state, _dir) = crate::test_state("us-east-1").await;
    let (endpoint, _serving) = crate::serve_for_test(state.clone()).await;
    let from: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    let client = reqwest::Client::builder().local_address(from).build().unwrap();
    let page = client.get(format!("{endpoint}/console/login")).send().await.unwrap();
    let cookie = page.headers()[SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_owned();
    let html = page.text().await.unwrap();
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).unwrap() + marker.len();
    let csrf = html[start..].split('"').next().unwrap().to_owned();
    let refused = client
        .post(format!("{endpoint}/console/login"))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs([("user", "admin"), ("password", "wrong"), ("csrf", &csrf)])
                .finish(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let now = engine::clock::now_ms();
    assert_eq!(state.sign_ins.failures(from, "admin", now), 1);
    let elsewhere: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    assert_eq!(state.sign_ins.failures(elsewhere, "admin", now), 0);
}
