//! Tests of the console's helpers: where signing in may lead, how times are shown; and its
//! pages as a limited user: only what they may read, only the forms they may use.

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

/// A user whose only permissions are `statements` (an inline policy), signed in to the
/// console: the cookie header their browser sends.
async fn signed_in_with(
    state: &crate::AppState,
    user: &str,
    statements: serde_json::Value,
) -> String {
    state.identity.create_user(user, engine::clock::now_ms()).await.unwrap();
    let document = serde_json::json!({ "Version": "2012-10-17", "Statement": statements });
    let put = iam::policies::PutUserPolicyRequest {
        user_name: user.into(),
        policy_name: "console".into(),
        policy_document: document.to_string(),
    };
    iam::policies::put_user_policy(&state.identity, put).await.unwrap();
    let (_, token) =
        super::session::create(&state.store, user, engine::clock::now_ms()).await.unwrap();
    super::session::set_cookie(&token).split(';').next().unwrap().to_owned()
}

/// The page at `path` as the browser with `cookie` gets it: its status and HTML.
async fn page(endpoint: &str, cookie: &str, path: &str) -> (u16, String) {
    let client = reqwest::Client::new();
    let response =
        client.get(format!("{endpoint}{path}")).header("cookie", cookie).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn a_limited_user_sees_only_what_they_may_read_and_the_forms_they_may_use() {
    use serde_json::json;
    let (state, _dir) = crate::test_state("us-east-1").await;
    let admin = crate::aws::Caller {
        user: "admin".to_owned(),
        access_key_id: String::new(),
        host: String::new(),
    };
    // Two projects with a build each, two repositories.
    for project in ["allowed", "hidden"] {
        let input = json!({
            "name": project,
            "source": { "type": "NO_SOURCE", "buildspec": "version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n" },
            "artifacts": { "type": "NO_ARTIFACTS" },
            "environment": { "type": "LINUX_CONTAINER", "image": "i", "computeType": "BUILD_GENERAL1_SMALL" },
            "serviceRole": "r",
        });
        crate::aws::codebuild::call(&state, &admin, "CreateProject", input).await.unwrap();
        let input = json!({ "projectName": project });
        crate::aws::codebuild::call(&state, &admin, "StartBuild", input).await.unwrap();
    }
    for repository in ["open", "closed"] {
        let input = json!({ "repositoryName": repository });
        crate::aws::codecommit::call(&state, &admin, "CreateRepository", input).await.unwrap();
    }
    let project = "arn:aws:codebuild:us-east-1:000000000000:project/allowed";
    let cookie = signed_in_with(
        &state,
        "carol",
        json!([
            { "Effect": "Allow", "Action": ["codebuild:ListBuilds", "codecommit:ListRepositories"], "Resource": "*" },
            { "Effect": "Allow", "Action": "codebuild:BatchGetBuilds", "Resource": project },
            { "Effect": "Allow", "Action": "codecommit:GetRepository", "Resource": "arn:aws:codecommit:us-east-1:000000000000:open" },
            {
                "Effect": "Allow",
                "Action": ["iam:ListServiceSpecificCredentials", "iam:UpdateServiceSpecificCredential"],
                "Resource": "arn:aws:iam::000000000000:user/${aws:username}"
            },
        ]),
    )
    .await;
    let (endpoint, serving) = crate::serve_for_test(state.clone()).await;

    // The builds page lists the allowed project's build, not the other's (it used to fail
    // whole); the menu has no audit trail.
    let (status, html) = page(&endpoint, &cookie, "/console/builds").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("data-build=\"allowed:"), "{html}");
    assert!(!html.contains("hidden:"), "{html}");
    assert!(html.contains("href=\"/console/builds\""), "{html}");
    assert!(html.contains("href=\"/console/security\""), "{html}");
    assert!(!html.contains("href=\"/console/audit\""), "{html}");
    // The repositories she may open, only.
    let (status, html) = page(&endpoint, &cookie, "/console/").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("/console/repositories/open"), "{html}");
    assert!(!html.contains("/console/repositories/closed"), "{html}");
    // No button to generate git credentials, nor a password form; revoking is allowed.
    state.identity.create_git_credentials("carol", engine::clock::now_ms()).await.unwrap();
    let (status, html) = page(&endpoint, &cookie, "/console/security").await;
    assert_eq!(status, 200, "{html}");
    assert!(!html.contains("action=\"/console/security/git-credentials\""), "{html}");
    assert!(!html.contains("action=\"/console/security/password\""), "{html}");
    assert!(html.contains("/revoke\""), "{html}");
    // The admin sees every form and link.
    let admin_cookie = {
        let (_, token) =
            super::session::create(&state.store, "admin", engine::clock::now_ms()).await.unwrap();
        super::session::set_cookie(&token).split(';').next().unwrap().to_owned()
    };
    let (_, html) = page(&endpoint, &admin_cookie, "/console/security").await;
    assert!(html.contains("action=\"/console/security/git-credentials\""), "{html}");
    assert!(html.contains("action=\"/console/security/password\""), "{html}");
    assert!(html.contains("href=\"/console/audit\""), "{html}");
    let (_, html) = page(&endpoint, &admin_cookie, "/console/builds").await;
    assert!(
        html.contains("data-build=\"allowed:") && html.contains("data-build=\"hidden:"),
        "{html}"
    );
    // A form posted anyway is still refused by the operation.
    let html = page(&endpoint, &cookie, "/console/security").await.1;
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).unwrap() + marker.len();
    let csrf = html[start..].split('"').next().unwrap().to_owned();
    let refused = reqwest::Client::new()
        .post(format!("{endpoint}/console/security/git-credentials"))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    serving.abort();
}

/// The console authorizes with the request's condition keys, as the API does: a deny from
/// outside a network, or over plain HTTP, refuses its pages and its forms (and hides what it
/// would refuse); an allow from the network the browser is in lets them through.
#[tokio::test]
async fn the_console_is_authorized_with_the_requests_address_and_transport() {
    use serde_json::json;
    let (state, _dir) = crate::test_state("us-east-1").await;
    let own = "arn:aws:iam::000000000000:user/${aws:username}";
    let everything = json!({ "Effect": "Allow", "Action": "*", "Resource": "*" });
    // Denied from the loopback network, where the browser is (127.0.0.1).
    let outside = signed_in_with(
        &state,
        "outside",
        json!([everything, {
            "Effect": "Deny", "Action": "*", "Resource": "*",
            "Condition": { "IpAddress": { "aws:SourceIp": "127.0.0.0/8" } },
        }]),
    )
    .await;
    // Denied over plain HTTP.
    let insecure = signed_in_with(
        &state,
        "insecure",
        json!([everything, {
            "Effect": "Deny", "Action": "*", "Resource": "*",
            "Condition": { "Bool": { "aws:SecureTransport": "false" } },
        }]),
    )
    .await;
    // Allowed from the loopback network only.
    let loopback = signed_in_with(
        &state,
        "loopback",
        json!([{
            "Effect": "Allow",
            "Action": ["codecommit:ListRepositories", "iam:ListServiceSpecificCredentials", "iam:CreateServiceSpecificCredential"],
            "Resource": ["*", own],
            "Condition": { "IpAddress": { "aws:SourceIp": "127.0.0.0/8" } },
        }]),
    )
    .await;
    let (endpoint, serving) = crate::serve_for_test(state.clone()).await;
    // Creating git credentials, with the session's token (its pages may be refused).
    let post = |cookie: String| {
        let (endpoint, store) = (endpoint.clone(), state.store.clone());
        async move {
            let mut headers = HeaderMap::new();
            headers.insert("cookie", HeaderValue::from_str(&cookie).unwrap());
            let now = engine::clock::now_ms();
            let session = super::session::from_request(&store, &headers, now).await.unwrap();
            let csrf = session.unwrap().csrf;
            reqwest::Client::new()
                .post(format!("{endpoint}/console/security/git-credentials"))
                .header("cookie", &cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("csrf={csrf}"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    for (who, cookie) in [("outside", &outside), ("insecure", &insecure)] {
        // The API's refusal (AccessDeniedException, a client error), and the console's own
        // (403) for the user's own IAM identity.
        let (status, html) = page(&endpoint, cookie, "/console/").await;
        assert_eq!(status, 400, "{who}: {html}");
        assert!(html.contains("with an explicit deny"), "{who}: {html}");
        let (status, html) = page(&endpoint, cookie, "/console/security").await;
        assert_eq!(status, 403, "{who}: {html}");
        assert!(html.contains("with an explicit deny"), "{who}: {html}");
        assert_eq!(post(cookie.clone()).await, 403, "{who}");
    }
    let (status, html) = page(&endpoint, &loopback, "/console/").await;
    assert_eq!(status, 200, "{html}");
    assert_eq!(post(loopback.clone()).await, 200);
    serving.abort();
}

/// A build's page lists its artifacts and test reports; an artifact kept with the build is
/// downloaded from the console, one in an S3 bucket through a short-lived presigned URL made
/// with the user's own session, and only for a user whose policies allow `s3:GetObject` on it.
#[tokio::test]
async fn a_builds_artifacts_are_downloaded_through_the_console() {
    use futures::stream::StreamExt;
    use serde_json::json;
    let (state, _dir) = crate::test_state("us-east-1").await;
    let admin = crate::aws::Caller {
        user: "admin".to_owned(),
        access_key_id: String::new(),
        host: String::new(),
    };
    let input = json!({
        "name": "web",
        "source": { "type": "NO_SOURCE", "buildspec": "version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n" },
        "artifacts": { "type": "NO_ARTIFACTS" },
        "environment": { "type": "LINUX_CONTAINER", "image": "i", "computeType": "BUILD_GENERAL1_SMALL" },
        "serviceRole": "r",
    });
    crate::aws::codebuild::call(&state, &admin, "CreateProject", input).await.unwrap();
    let started =
        crate::aws::codebuild::call(&state, &admin, "StartBuild", json!({ "projectName": "web" }))
            .await
            .unwrap();
    let started: serde_json::Value = serde_json::from_str(&started).unwrap();
    let id = started["build"]["id"].as_str().unwrap().to_owned();
    // What a finished build would record: a zip kept with the build, and one in a bucket.
    let blob_key = format!("builds/{}/artifacts.zip", id.replace(':', "/"));
    state
        .blobs
        .put(&blob_key, bytes::Bytes::from_static(b"zip kept with the build"))
        .await
        .unwrap();
    let ctx = state.s3();
    s3::buckets::create_bucket(&ctx, "releases", None, 0).await.unwrap();
    let put = s3::objects::PutObject {
        bucket: "releases".to_owned(),
        key: "web/1/site.zip".to_owned(),
        ..Default::default()
    };
    let body = futures::stream::iter([Ok(s3::objects::Chunk::Data(bytes::Bytes::from_static(
        b"zip in a bucket",
    )))]);
    s3::objects::put_object(&ctx, put, body.boxed(), 0).await.unwrap();
    let mut document = state.store.get(engine::kinds::BUILD, &id).await.unwrap().unwrap();
    document.body["artifacts"] = json!({ "location": blob_key });
    document.body["secondaryArtifacts"] = json!([{ "artifactIdentifier": "site", "location": "arn:aws:s3:::releases/web/1/site.zip" }]);
    // And a test report with its totals.
    let report_arn = format!(
        "arn:aws:codebuild:us-east-1:000000000000:report/web-tests:{}",
        id.split(':').nth(1).unwrap()
    );
    document.body["reportArns"] = json!([report_arn]);
    let report = engine::store::Document {
        kind: engine::kinds::REPORT.to_owned(),
        key: report_arn.clone(),
        parent: None,
        sort: 0,
        version: 0,
        body: json!({
            "arn": report_arn,
            "status": "FAILED",
            "testSummary": { "total": 12, "statusCounts": { "SUCCEEDED": 9, "FAILED": 2, "ERROR": 1 } },
        }),
    };
    state
        .store
        .apply(vec![engine::store::Write::Put(document), engine::store::Write::Put(report)])
        .await
        .unwrap();

    let admin_cookie = {
        let (_, token) =
            super::session::create(&state.store, "admin", engine::clock::now_ms()).await.unwrap();
        super::session::set_cookie(&token).split(';').next().unwrap().to_owned()
    };
    let (endpoint, serving) = crate::serve_for_test(state.clone()).await;
    let encoded =
        percent_encoding::utf8_percent_encode(&id, percent_encoding::NON_ALPHANUMERIC).to_string();
    let (status, html) =
        page(&endpoint, &admin_cookie, &format!("/console/builds/{encoded}")).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("data-artifact=\"primary\"") && html.contains("data-artifact=\"site\""),
        "{html}"
    );
    assert!(html.contains("arn:aws:s3:::releases/web/1/site.zip"), "{html}");
    let link = format!("/console/builds/{}/artifacts/1\">Download", id.replace(':', "%3A"));
    assert!(html.contains(&link), "{html}");
    let row = html.split("data-report=\"web-tests:").nth(1).expect("the report's row");
    let cells: Vec<&str> =
        row.split("<td>").skip(3).map(|cell| cell.split('<').next().unwrap()).collect();
    assert_eq!(cells, ["12", "9", "3"], "{row}");

    let client =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let download = |cookie: String, index: usize| {
        let (client, endpoint, encoded) = (client.clone(), endpoint.clone(), encoded.clone());
        async move {
            client
                .get(format!("{endpoint}/console/builds/{encoded}/artifacts/{index}"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
        }
    };
    let kept = download(admin_cookie.clone(), 0).await;
    assert_eq!(kept.status(), 200);
    assert!(kept.headers()["content-disposition"].to_str().unwrap().contains("artifacts.zip"));
    assert_eq!(kept.bytes().await.unwrap(), "zip kept with the build");
    let redirected = download(admin_cookie.clone(), 1).await;
    assert_eq!(redirected.status(), 303);
    let location = redirected.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/releases/web/1/site.zip?X-Amz-Algorithm="), "{location}");
    assert!(
        location.contains("X-Amz-Expires=300") && location.contains("X-Amz-Security-Token="),
        "{location}"
    );
    let fetched = reqwest::get(format!("{endpoint}{location}")).await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.bytes().await.unwrap(), "zip in a bucket");
    // Tampered with, it is refused.
    let tampered = reqwest::get(format!("{endpoint}{}", location.replace("site.zip", "other.zip")))
        .await
        .unwrap();
    assert_eq!(tampered.status(), 403);
    assert_eq!(download(admin_cookie, 2).await.status(), 404);

    // A user who may read the build but not the object gets the kept one, not the other.
    let project = "arn:aws:codebuild:us-east-1:000000000000:project/web";
    let cookie = signed_in_with(
        &state,
        "dora",
        json!([{ "Effect": "Allow", "Action": "codebuild:BatchGetBuilds", "Resource": project }]),
    )
    .await;
    assert_eq!(download(cookie.clone(), 0).await.status(), 200);
    assert_eq!(download(cookie, 1).await.status(), 403);
    serving.abort();
}
