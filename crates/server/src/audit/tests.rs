//! The audit trail at the edge: API calls (allowed, failed, unauthenticated), LookupEvents
//! over the router, Query calls, console sign-ins and actions, with the peer address and the
//! user agent.

use serde_json::{Value, json};

use crate::AppState;
use awsapi::sigv4::{SignedRequest, format_amz_date, sign};

struct Harness {
    state: AppState,
    endpoint: String,
    key: (String, String),
    _dir: tempfile::TempDir,
    _serving: tokio::task::JoinHandle<()>,
}

impl Harness {
    async fn start() -> Harness {
        let (state, dir) = crate::test_state("us-east-1").await;
        let keys = state.identity.create_access_key("admin", 0).await.unwrap();
        let (endpoint, serving) = crate::serve_for_test(state.clone()).await;
        Harness {
            state,
            endpoint,
            key: (keys.access_key_id, keys.secret_access_key),
            _dir: dir,
            _serving: serving,
        }
    }

    /// A signed request (`target` for JSON 1.1, none for the Query protocol): its status and
    /// body.
    async fn call(&self, service: &str, target: Option<&str>, body: &str) -> (u16, String) {
        let host = self.endpoint.trim_start_matches("http://").to_owned();
        let amz_date = format_amz_date(engine::clock::now_ms() / 1000);
        let content_type = if target.is_some() {
            "application/x-amz-json-1.1"
        } else {
            "application/x-www-form-urlencoded; charset=utf-8"
        };
        let mut headers = vec![
            ("content-type".to_owned(), content_type.to_owned()),
            ("host".to_owned(), host),
            ("x-amz-date".to_owned(), amz_date.clone()),
        ];
        if let Some(target) = target {
            headers.push(("x-amz-target".to_owned(), target.to_owned()));
        }
        let lent: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (&**k, &**v)).collect();
        let request = SignedRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &lent,
            body: body.as_bytes(),
        };
        let authorization =
            sign(&request, &self.key.0, &self.key.1, "us-east-1", service, &amz_date);
        headers.push(("authorization".to_owned(), authorization));
        headers.push(("user-agent".to_owned(), "aws-cli/2.0 test".to_owned()));
        let mut builder = reqwest::Client::new().post(format!("{}/", self.endpoint));
        for (name, value) in &headers {
            builder = builder.header(name, value);
        }
        let response = builder.body(body.to_owned()).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// The admin's unique id (`AIDA…`).
    async fn admin_id(&self) -> String {
        let (user, _) = self.state.identity.user("admin").await.unwrap().unwrap();
        assert!(user.user_id.starts_with("AIDA"), "{}", user.user_id);
        user.user_id
    }

    async fn lookup(&self, input: Value) -> Value {
        let target = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents";
        let (status, text) = self.call("cloudtrail", Some(target), &input.to_string()).await;
        assert_eq!(status, 200, "{text}");
        serde_json::from_str(&text).unwrap()
    }

    /// The records of the events named `name`, newest first.
    async fn records(&self, name: &str) -> Vec<Value> {
        let input = json!({ "LookupAttributes": [{ "AttributeKey": "EventName", "AttributeValue": name }] });
        let answer = self.lookup(input).await;
        answer["Events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|it| serde_json::from_str(it["CloudTrailEvent"].as_str().unwrap()).unwrap())
            .collect()
    }
}

#[tokio::test]
async fn api_calls_are_recorded_with_their_outcome_and_origin() {
    let harness = Harness::start().await;
    let (status, _) = harness
        .call(
            "ssm",
            Some("AmazonSSM.PutParameter"),
            r#"{"Name":"db","Value":"s3cret","Type":"SecureString"}"#,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = harness
        .call("codebuild", Some("CodeBuild_20161006.BatchGetProjects"), r#"{"names":["nope"]}"#)
        .await;
    assert_eq!(status, 200);
    let (status, _) =
        harness.call("codebuild", Some("CodeBuild_20161006.StopBuild"), r#"{"id":"web:1"}"#).await;
    assert_eq!(status, 400);

    let put = harness.records("PutParameter").await;
    assert_eq!(put.len(), 1);
    let record = &put[0];
    assert_eq!(record["eventSource"], "ssm.amazonaws.com");
    assert_eq!(record["eventType"], "AwsApiCall");
    assert_eq!(record["readOnly"], false);
    assert_eq!(record["userIdentity"]["type"], "IAMUser");
    assert_eq!(record["userIdentity"]["userName"], "admin");
    // The user's unique id, as GetUser names it, not their name.
    assert_eq!(record["userIdentity"]["principalId"], harness.admin_id().await.as_str());
    assert_eq!(record["userIdentity"]["accessKeyId"], harness.key.0.as_str());
    assert_eq!(record["requestParameters"]["Name"], "db");
    assert_eq!(record["requestParameters"]["Value"], cloudtrail::event::HIDDEN);
    assert_eq!(record["sourceIPAddress"], "127.0.0.1");
    assert_eq!(record["userAgent"], "aws-cli/2.0 test");
    assert_eq!(record["resources"][0]["type"], "AWS::SSM::Parameter");
    assert!(record.get("errorCode").is_none());
    assert!(!record.to_string().contains("s3cret"));

    let batch = harness.records("BatchGetProjects").await;
    assert_eq!(batch[0]["readOnly"], true);

    let stop = harness.records("StopBuild").await;
    assert_eq!(stop[0]["errorCode"], "ResourceNotFoundException", "{}", stop[0]);
    assert!(stop[0]["errorMessage"].as_str().is_some());
}

#[tokio::test]
async fn a_call_with_a_bad_signature_is_recorded_as_unknown() {
    let mut harness = Harness::start().await;
    let secret = std::mem::replace(&mut harness.key.1, "wrong".to_owned());
    let (status, _) =
        harness.call("codebuild", Some("CodeBuild_20161006.ListProjects"), "{}").await;
    harness.key.1 = secret;
    assert_eq!(status, 400);
    let records = harness.records("ListProjects").await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["userIdentity"]["type"], "Unknown");
    assert_eq!(records[0]["userIdentity"]["accessKeyId"], harness.key.0.as_str());
    assert_eq!(records[0]["errorCode"], "InvalidSignatureException");
}

#[tokio::test]
async fn lookup_events_answers_the_models_errors_and_is_itself_recorded() {
    let harness = Harness::start().await;
    let target = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents";
    let (status, text) = harness.call("cloudtrail", Some(target), r#"{"MaxResults":99}"#).await;
    assert_eq!(status, 400);
    assert!(text.contains("InvalidMaxResultsException"), "{text}");
    let records = harness.records("LookupEvents").await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["eventSource"], "cloudtrail.amazonaws.com");
    assert_eq!(records[0]["readOnly"], true);
    assert_eq!(records[0]["errorCode"], "InvalidMaxResultsException");
    let unknown = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.CreateTrail";
    let (status, text) = harness.call("cloudtrail", Some(unknown), "{}").await;
    assert_eq!(status, 400);
    assert!(text.contains("UnknownOperationException"), "{text}");
}

#[tokio::test]
async fn query_calls_are_recorded() {
    let harness = Harness::start().await;
    let (status, text) =
        harness.call("sts", None, "Action=GetCallerIdentity&Version=2011-06-15").await;
    assert_eq!(status, 200, "{text}");
    let records = harness.records("GetCallerIdentity").await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["eventSource"], "sts.amazonaws.com");
    assert_eq!(records[0]["userIdentity"]["userName"], "admin");
    assert_eq!(records[0]["requestParameters"], json!({}));
}

/// The first cookie a response sets, as a `Cookie` header's value.
fn cookie_of(response: &reqwest::Response) -> String {
    let set = response.headers()["set-cookie"].to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}

/// The anti-forgery token of a page's first form.
fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).unwrap() + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

#[tokio::test]
async fn console_sign_ins_and_actions_are_recorded() {
    let harness = Harness::start().await;
    harness.state.identity.set_password("admin", "correct horse battery").await.unwrap();
    let client =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let endpoint = &harness.endpoint;
    let login = format!("{endpoint}/console/login");
    let page = client.get(&login).send().await.unwrap();
    let pre_session = cookie_of(&page);
    let csrf = csrf_of(&page.text().await.unwrap());
    let post = |url: String, cookie: String, body: String| {
        client
            .post(url)
            .header("cookie", cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let body = form(&[("user", "admin"), ("password", "wrong"), ("csrf", &csrf)]);
    let refused = post(login.clone(), pre_session.clone(), body).await.unwrap();
    assert_eq!(refused.status(), 401);
    let body = form(&[("user", "my-password-by-mistake"), ("password", "x"), ("csrf", &csrf)]);
    let refused = post(login.clone(), pre_session.clone(), body).await.unwrap();
    assert_eq!(refused.status(), 401);
    let body = form(&[("user", "admin"), ("password", "correct horse battery"), ("csrf", &csrf)]);
    let signed_in = post(login.clone(), pre_session, body).await.unwrap();
    assert_eq!(signed_in.status(), 303);
    let session = cookie_of(&signed_in);

    let sign_ins = harness.records("ConsoleLogin").await;
    assert_eq!(sign_ins.len(), 3);
    assert_eq!(sign_ins[0]["responseElements"]["ConsoleLogin"], "Success");
    assert_eq!(sign_ins[0]["eventType"], "AwsConsoleSignIn");
    assert_eq!(sign_ins[0]["userIdentity"]["type"], "IAMUser");
    let admin_id = harness.admin_id().await;
    assert_eq!(sign_ins[0]["userIdentity"]["principalId"], admin_id.as_str());
    assert_eq!(sign_ins[0]["sourceIPAddress"], "127.0.0.1");
    assert_eq!(sign_ins[1]["userIdentity"]["userName"], cloudtrail::event::HIDDEN);
    assert!(!sign_ins[1].to_string().contains("my-password-by-mistake"));
    assert_eq!(sign_ins[2]["responseElements"]["ConsoleLogin"], "Failure");
    assert_eq!(sign_ins[2]["errorMessage"], "Failed authentication");
    assert_eq!(sign_ins[2]["userIdentity"]["userName"], "admin");
    assert!(!sign_ins[2].to_string().contains("wrong"));

    // A console action: creating git credentials, with the session's token.
    let get = |url: String| client.get(url).header("cookie", session.clone()).send();
    let security = format!("{endpoint}/console/security");
    let page = get(security.clone()).await.unwrap().text().await.unwrap();
    let csrf = csrf_of(&page);
    let body = form(&[("csrf", &csrf)]);
    let created = post(format!("{security}/git-credentials"), session.clone(), body).await.unwrap();
    assert_eq!(created.status(), 200);
    let actions = harness.records("CreateServiceSpecificCredential").await;
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0]["eventType"], "AwsConsoleAction");
    assert_eq!(actions[0]["eventSource"], "iam.amazonaws.com");
    assert_eq!(actions[0]["userIdentity"]["userName"], "admin");
    assert_eq!(actions[0]["userIdentity"]["principalId"], admin_id.as_str());
    assert!(actions[0].get("errorCode").is_none());

    // The audit page lists them, and filters.
    let audit = format!("{endpoint}/console/audit");
    let page = get(audit.clone()).await.unwrap().text().await.unwrap();
    assert!(page.contains("ConsoleLogin"), "{page}");
    assert!(page.contains("CreateServiceSpecificCredential"));
    assert!(page.contains("href=\"/console/audit\""));
    let filtered = get(format!("{audit}?event=ConsoleLogin")).await.unwrap().text().await.unwrap();
    assert!(filtered.contains("ConsoleLogin"));
    assert!(!filtered.contains("CreateServiceSpecificCredential"));
    let nobody = get(format!("{audit}?user=nobody")).await.unwrap().text().await.unwrap();
    assert!(nobody.contains("No events."));
}

/// A build's git token is its project's service role's CodeBuild session, as CloudTrail
/// writes a build's calls: `AssumedRole`, `<role id>:AWSCodeBuild-<build uuid>`, the role as
/// the session's issuer; its `Username` in LookupEvents is the session's name.
#[tokio::test]
async fn a_build_token_is_its_service_roles_codebuild_session() {
    let (state, _dir) = crate::test_state("us-east-1").await;
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"codecommit:GitPull","Resource":"*"}]}"#;
    crate::auth::tests::role(&state, "ci", crate::auth::tests::TRUST_CODEBUILD, policy).await;
    let (role, _) = state.identity.role("ci").await.unwrap().unwrap();
    let uuid = "6f1c1d6e-8a4a-4f7e-9b1e-0c2d3e4f5a6b";
    let token = crate::auth::Principal::Build {
        build_id: format!("web:{uuid}"),
        initiator: "alice".to_owned(),
        service_role: "ci".to_owned(),
    };
    let identity = super::identity(&state, &token).await;
    let session = format!("AWSCodeBuild-{uuid}");
    assert_eq!(
        serde_json::to_value(&identity).unwrap(),
        json!({
            "type": "AssumedRole",
            "principalId": format!("{}:{session}", role.role_id),
            "arn": format!("arn:aws:sts::000000000000:assumed-role/ci/{session}"),
            "accountId": "000000000000",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": role.role_id,
                    "arn": "arn:aws:iam::000000000000:role/ci",
                    "accountId": "000000000000",
                    "userName": "ci",
                },
                "attributes": { "mfaAuthenticated": "false" },
            },
        })
    );
    assert!(role.role_id.starts_with("AROA"), "{}", role.role_id);
    assert_eq!(identity.lookup_name(), Some(session.as_str()));
    // A role that does not exist is named by the project's setting, without an id.
    let gone = crate::auth::Principal::Build {
        build_id: format!("web:{uuid}"),
        initiator: "alice".to_owned(),
        service_role: "arn:aws:iam::000000000000:role/team/missing".to_owned(),
    };
    let identity = super::identity(&state, &gone).await;
    assert_eq!(identity.principal_id, None);
    assert_eq!(
        identity.arn.as_deref(),
        Some(format!("arn:aws:sts::000000000000:assumed-role/missing/{session}").as_str())
    );
    let issuer = &identity.session_context.unwrap()["sessionIssuer"];
    assert_eq!(issuer["arn"], "arn:aws:iam::000000000000:role/team/missing");
}
