//! `POST /` through the router: replayed bodies, regions, unknown operations, every failure in
//! its protocol's error shape, STS's GetCallerIdentity, and the services not available yet.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::AppState;
use awsapi::sigv4::{SignedRequest, format_amz_date, sign};

mod authorization;

struct Harness {
    state: AppState,
    endpoint: String,
    key: (String, String),
    /// One client for every request (its connections are reused).
    client: reqwest::Client,
    _dir: tempfile::TempDir,
    _serving: tokio::task::JoinHandle<()>,
}

/// A request to send: what is signed, and what is sent instead.
struct Call<'a> {
    region: &'a str,
    service: &'a str,
    content_type: &'a str,
    target: Option<&'a str>,
    body: &'a [u8],
    /// Sent instead of `body` (the signature stays the one over `body`).
    sent_body: Option<&'a [u8]>,
    /// Headers added after signing, as an attacker would.
    unsigned: Vec<(&'a str, String)>,
    /// The access key that signs, instead of the admin's.
    key: Option<&'a (String, String)>,
}

impl<'a> Call<'a> {
    fn json(target: &'a str, body: &'a [u8]) -> Call<'a> {
        let service = match target.split('.').next().unwrap_or_default() {
            "AmazonSSM" => "ssm",
            "secretsmanager" => "secretsmanager",
            "CodeBuild_20161006" => "codebuild",
            "CodeCommit_20150413" => "codecommit",
            _ => "codepipeline",
        };
        Call {
            region: "us-east-1",
            service,
            content_type: "application/x-amz-json-1.1",
            target: Some(target),
            body,
            sent_body: None,
            unsigned: Vec::new(),
            key: None,
        }
    }

    fn query(service: &'a str, body: &'a [u8]) -> Call<'a> {
        Call {
            region: "us-east-1",
            service,
            content_type: "application/x-www-form-urlencoded; charset=utf-8",
            target: None,
            body,
            sent_body: None,
            unsigned: Vec::new(),
            key: None,
        }
    }
}

struct Answer {
    status: u16,
    content_type: String,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        assert_eq!(self.content_type, "application/x-amz-json-1.1", "{}", self.text);
        serde_json::from_str(&self.text).unwrap_or_else(|err| panic!("{err}: {}", self.text))
    }

    fn error_type(&self) -> String {
        self.json()["__type"]
            .as_str()
            .unwrap_or_else(|| panic!("no __type: {}", self.text))
            .to_owned()
    }
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
            client: reqwest::Client::new(),
            _dir: dir,
            _serving: serving,
        }
    }

    fn host(&self) -> String {
        self.endpoint.trim_start_matches("http://").to_owned()
    }

    async fn send(&self, call: Call<'_>) -> Answer {
        self.send_to("POST", "/", call).await
    }

    async fn send_to(&self, method: &str, path: &str, call: Call<'_>) -> Answer {
        let amz_date = format_amz_date(engine::clock::now_ms() / 1000);
        let mut headers = vec![
            ("content-type".to_owned(), call.content_type.to_owned()),
            ("host".to_owned(), self.host()),
            ("x-amz-date".to_owned(), amz_date.clone()),
        ];
        if let Some(target) = call.target {
            headers.push(("x-amz-target".to_owned(), target.to_owned()));
        }
        let lent: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (&**k, &**v)).collect();
        let request = SignedRequest { method, path, query: "", headers: &lent, body: call.body };
        let (key, secret) = call.key.unwrap_or(&self.key);
        let authorization = sign(&request, key, secret, call.region, call.service, &amz_date);
        headers.push(("authorization".to_owned(), authorization));
        for (name, value) in call.unsigned {
            headers.push((name.to_owned(), value));
        }
        let mut builder = self.client.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}{path}", self.endpoint),
        );
        for (name, value) in &headers {
            builder = builder.header(name, value);
        }
        let response =
            builder.body(call.sent_body.unwrap_or(call.body).to_vec()).send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|it| it.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Answer { status, content_type, text: response.text().await.unwrap() }
    }
}

#[tokio::test]
async fn a_captured_get_parameter_replayed_with_another_body_is_refused() {
    let harness = Harness::start().await;
    harness.state.secrets_store.put_parameter("public", "hello", false).await.unwrap();
    harness.state.secrets_store.put_parameter("db-password", "s3cret", false).await.unwrap();
    let captured = br#"{"Name":"public"}"#;
    let answer = harness.send(Call::json("AmazonSSM.GetParameter", captured)).await;
    assert_eq!(answer.json()["Parameter"]["Value"], "hello");

    // The attacker sends the captured signature with another body, and a payload hash header
    // (not among the signed headers) that claims the captured body's hash.
    let swapped = br#"{"Name":"db-password"}"#;
    let mut call = Call::json("AmazonSSM.GetParameter", captured);
    call.sent_body = Some(swapped);
    call.unsigned.push(("x-amz-content-sha256", hex::encode(Sha256::digest(captured))));
    let answer = harness.send(call).await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert_eq!(answer.error_type(), "InvalidSignatureException");
    assert!(!answer.text.contains("s3cret"), "{}", answer.text);

    // UNSIGNED-PAYLOAD is S3's, not SSM's.
    let mut call = Call::json("AmazonSSM.GetParameter", captured);
    call.sent_body = Some(swapped);
    call.unsigned.push(("x-amz-content-sha256", "UNSIGNED-PAYLOAD".to_owned()));
    let answer = harness.send(call).await;
    assert_eq!(answer.error_type(), "InvalidSignatureException");
    assert!(!answer.text.contains("s3cret"), "{}", answer.text);
}

#[tokio::test]
async fn a_request_signed_for_another_region_is_refused() {
    let harness = Harness::start().await;
    let mut call = Call::json("CodeBuild_20161006.ListProjects", b"{}");
    call.region = "eu-west-1";
    let answer = harness.send(call).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.error_type(), "InvalidSignatureException");
    let message = answer.json()["message"].as_str().unwrap().to_owned();
    assert!(message.contains("valid region") && message.contains("us-east-1"), "{message}");
    let answer = harness.send(Call::json("CodeBuild_20161006.ListProjects", b"{}")).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
}

#[tokio::test]
async fn unknown_ssm_and_secrets_manager_operations_are_unknown_operations() {
    let harness = Harness::start().await;
    for target in ["AmazonSSM.DescribeParameters", "secretsmanager.ListSecrets"] {
        let answer = harness.send(Call::json(target, b"{}")).await;
        assert_eq!(answer.error_type(), "UnknownOperationException", "{target}: {}", answer.text);
    }
}

#[tokio::test]
async fn every_failure_of_post_answers_json_with_a_type() {
    let harness = Harness::start().await;
    // No target, a target without an operation, and a wrong content type.
    let mut call = Call::json("", b"{}");
    call.target = None;
    call.content_type = "text/plain";
    assert_eq!(harness.send(call).await.error_type(), "UnknownOperationException");
    assert_eq!(
        harness.send(Call::json("CodeBuild_20161006", b"{}")).await.error_type(),
        "UnknownOperationException"
    );
    let mut call = Call::json("CodeBuild_20161006.ListProjects", b"{}");
    call.content_type = "text/plain";
    assert_eq!(harness.send(call).await.status, 200);
    // Malformed JSON and a body that is no object.
    for body in [&b"{not json"[..], b"[1]"] {
        let answer = harness.send(Call::json("CodeBuild_20161006.ListProjects", body)).await;
        assert_eq!(answer.error_type(), "SerializationException", "{}", answer.text);
    }
}

#[tokio::test]
async fn services_not_available_yet_say_so_in_their_clients_protocol() {
    let harness = Harness::start().await;
    for (target, name) in [
        ("CodePipeline_20150709.ListPipelines", "CodePipeline"),
        ("CodeDeploy_20141006.ListApplications", "CodeDeploy"),
    ] {
        let answer = harness.send(Call::json(target, b"{}")).await;
        assert_eq!(answer.error_type(), "UnknownOperationException");
        let message = answer.json()["message"].as_str().unwrap().to_owned();
        assert!(
            message.contains(&format!("{name} is not available on this server yet")),
            "{message}"
        );
    }

    let answer =
        harness.send(Call::query("iam", b"Action=ListInstanceProfiles&Version=2010-05-08")).await;
    assert_eq!((answer.status, answer.content_type.as_str()), (400, "text/xml"), "{}", answer.text);
    assert!(answer.text.contains("<ErrorResponse"), "{}", answer.text);
    assert!(answer.text.contains("<Code>InvalidAction</Code>"), "{}", answer.text);
    assert!(
        answer
            .text
            .contains("The IAM action ListInstanceProfiles is not available on this server yet"),
        "{}",
        answer.text
    );

    let mut call = Call::query("s3", b"");
    call.content_type = "application/xml";
    // A request signed for S3 is S3's, on any path, and answered in S3's XML: this one was
    // signed as the JSON services sign, without S3's payload header.
    let answer = harness.send_to("GET", "/some-bucket", call).await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert!(answer.text.contains("<Code>InvalidRequest</Code>"), "{}", answer.text);
    assert!(answer.text.contains("x-amz-content-sha256"), "{}", answer.text);
}

#[tokio::test]
async fn sts_get_caller_identity_names_the_signer() {
    let harness = Harness::start().await;
    let body = b"Action=GetCallerIdentity&Version=2011-06-15";
    let answer = harness.send(Call::query("sts", body)).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(answer.text.contains("<Account>000000000000</Account>"), "{}", answer.text);
    assert!(
        answer.text.contains("<Arn>arn:aws:iam::000000000000:user/admin</Arn>"),
        "{}",
        answer.text
    );
    // The user's unique id (AIDA…), as STS answers it; not the signing key.
    assert!(answer.text.contains("<UserId>AIDA"), "{}", answer.text);
    assert!(!answer.text.contains(&harness.key.0), "{}", answer.text);

    // Its signature is checked like any other, and refusals are XML too.
    let mut call = Call::query("sts", body);
    call.sent_body = Some(b"Action=GetCallerIdentity&Version=2011-06-15&X=1");
    let answer = harness.send(call).await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert!(answer.text.contains("<Code>SignatureDoesNotMatch</Code>"), "{}", answer.text);
    let mut call = Call::query("sts", body);
    call.region = "eu-west-1";
    let answer = harness.send(call).await;
    assert!(answer.text.contains("<Code>SignatureDoesNotMatch</Code>"), "{}", answer.text);
    assert!(answer.text.contains("us-east-1"), "{}", answer.text);
}

#[tokio::test]
async fn iam_answers_its_xml_with_its_statuses() {
    let harness = Harness::start().await;
    let send = |body: &'static [u8]| harness.send(Call::query("iam", body));
    let created = send(b"Action=CreateUser&Version=2010-05-08&UserName=ada&Path=%2Feng%2F").await;
    assert_eq!(
        (created.status, created.content_type.as_str()),
        (200, "text/xml"),
        "{}",
        created.text
    );
    assert!(
        created.text.contains(
            "<CreateUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
             <CreateUserResult><User><Path>/eng/</Path><UserName>ada</UserName><UserId>AIDA"
        ),
        "{}",
        created.text
    );
    assert!(created.text.contains("<Arn>arn:aws:iam::000000000000:user/eng/ada</Arn>"));
    assert!(created.text.contains("<ResponseMetadata><RequestId>"), "{}", created.text);

    let deleted = send(b"Action=DeleteGroup&Version=2010-05-08&GroupName=none").await;
    assert_eq!(deleted.status, 404, "{}", deleted.text);
    assert!(
        deleted.text.contains(
            "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error>\
             <Type>Sender</Type><Code>NoSuchEntity</Code>"
        ),
        "{}",
        deleted.text
    );
    let again = send(b"Action=CreateUser&Version=2010-05-08&UserName=ada").await;
    assert_eq!(again.status, 409, "{}", again.text);
    assert!(again.text.contains("<Code>EntityAlreadyExists</Code>"), "{}", again.text);
    let missing = send(b"Action=TagUser&Version=2010-05-08&UserName=ada").await;
    assert_eq!(missing.status, 400, "{}", missing.text);
    assert!(missing.text.contains("<Code>ValidationError</Code>"), "{}", missing.text);
    assert!(missing.text.contains("at &apos;Tags&apos;"), "{}", missing.text);
    let done = send(b"Action=DeleteUser&Version=2010-05-08&UserName=ada").await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert!(done.text.contains("<DeleteUserResponse"), "{}", done.text);
    assert!(!done.text.contains("<DeleteUserResult>"), "{}", done.text);
    // Signed for STS, an IAM action is STS's business.
    let sts = harness.send(Call::query("sts", b"Action=ListUsers&Version=2010-05-08")).await;
    assert!(sts.text.contains("<Code>InvalidAction</Code>"), "{}", sts.text);
}

#[tokio::test]
async fn a_pull_request_named_by_id_is_asked_on_its_repository_and_destination() {
    let (state, _dir) = crate::test_state("us-east-1").await;
    let document = engine::store::Document {
        kind: engine::kinds::PULL_REQUEST.to_owned(),
        key: "7".to_owned(),
        parent: Some("app".to_owned()),
        sort: 7,
        version: 0,
        body: serde_json::json!({
            "pullRequestId": "7",
            "pullRequestTargets": [{
                "repositoryName": "app", "destinationReference": "refs/heads/main",
            }],
        }),
    };
    state.store.apply(vec![engine::store::Write::Insert(document)]).await.unwrap();
    let repository = format!("arn:aws:codecommit:us-east-1:{}:app", state.account);
    let input = serde_json::json!({ "pullRequestId": "7", "repositoryName": "app" });
    let facts = super::request_facts(&state, "codecommit", "MergePullRequestByFastForward", &input)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(facts.resources, std::slice::from_ref(&repository));
    assert_eq!(
        facts.context,
        [("codecommit:References".to_owned(), vec!["refs/heads/main".to_owned()])]
    );
    let input = serde_json::json!({ "pullRequestId": "7" });
    let facts = super::request_facts(&state, "codecommit", "GetPullRequest", &input)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(facts.resources, [repository]);
    // A pull request that does not exist names no repository: the request is asked on `*`.
    let input = serde_json::json!({ "pullRequestId": "8" });
    let facts = super::request_facts(&state, "codecommit", "GetPullRequest", &input)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(facts.resources, ["*"]);
    // An operation the reference does not know has no facts: the service answers it.
    let unknown = super::request_facts(&state, "codebuild", "Frobnicate", &input).await.unwrap();
    assert_eq!(unknown, None);
}

#[tokio::test]
async fn get_access_key_last_used_reads_the_audit_trail() {
    let harness = Harness::start().await;
    let ask =
        format!("Action=GetAccessKeyLastUsed&Version=2010-05-08&AccessKeyId={}", harness.key.0);
    let never = harness.send(Call::query("iam", ask.as_bytes())).await;
    assert_eq!(never.status, 200, "{}", never.text);
    assert!(
        never.text.contains(
            "<AccessKeyLastUsed><ServiceName>N/A</ServiceName><Region>N/A</Region></AccessKeyLastUsed>"
        ),
        "{}",
        never.text
    );
    // That call is in the trail once it is written: the key was last used for IAM, here.
    assert!(harness.state.audit.flush(std::time::Duration::from_secs(60)).await);
    let used = harness.send(Call::query("iam", ask.as_bytes())).await;
    assert!(used.text.contains("<UserName>admin</UserName>"), "{}", used.text);
    assert!(used.text.contains("<LastUsedDate>"), "{}", used.text);
    assert!(
        used.text.contains("<ServiceName>iam</ServiceName><Region>us-east-1</Region>"),
        "{}",
        used.text
    );
}

#[tokio::test]
async fn sts_assume_role_and_get_session_token_answer_their_xml() {
    let harness = Harness::start().await;
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/admin"},"Action":"sts:AssumeRole"}]}"#;
    let create = format!(
        "Action=CreateRole&Version=2010-05-08&RoleName=deployer&AssumeRolePolicyDocument={}",
        urlencoding(trust)
    );
    let created = harness.send(Call::query("iam", create.as_bytes())).await;
    assert_eq!(created.status, 200, "{}", created.text);
    let arn = "arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fdeployer";
    let assume = format!(
        "Action=AssumeRole&Version=2011-06-15&RoleArn={arn}&RoleSessionName=release&DurationSeconds=900"
    );
    let assumed = harness.send(Call::query("sts", assume.as_bytes())).await;
    assert_eq!(assumed.status, 200, "{}", assumed.text);
    for part in [
        "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult><Credentials><AccessKeyId>ASIA",
        "<SessionToken>",
        "<Expiration>",
        "<Arn>arn:aws:sts::000000000000:assumed-role/deployer/release</Arn>",
        ":release</AssumedRoleId>",
    ] {
        assert!(assumed.text.contains(part), "{part}: {}", assumed.text);
    }
    // Too long for the role; an unknown role, refused like an untrusted caller.
    let long = assume.replace("DurationSeconds=900", "DurationSeconds=7200");
    let refused = harness.send(Call::query("sts", long.as_bytes())).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(refused.text.contains("<Code>ValidationError</Code>"), "{}", refused.text);
    let other = assume.replace("deployer", "nobody");
    let refused = harness.send(Call::query("sts", other.as_bytes())).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert!(refused.text.contains("<Code>AccessDenied</Code>"), "{}", refused.text);
    assert!(
        refused.text.contains(
            "User: arn:aws:iam::000000000000:user/admin is not authorized to perform: \
             sts:AssumeRole on resource: arn:aws:iam::000000000000:role/nobody"
        ),
        "{}",
        refused.text
    );

    let token = harness
        .send(Call::query("sts", b"Action=GetSessionToken&Version=2011-06-15&DurationSeconds=900"))
        .await;
    assert_eq!(token.status, 200, "{}", token.text);
    assert!(token.text.contains("<GetSessionTokenResult><Credentials><AccessKeyId>ASIA"));
    // GetSessionToken needs no permission, but an explicit deny refuses it.
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"sts:GetSessionToken","Resource":"*"}]}"#;
    let put = format!(
        "Action=PutUserPolicy&Version=2010-05-08&UserName=admin&PolicyName=no-tokens&PolicyDocument={}",
        urlencoding(deny)
    );
    let put = harness.send(Call::query("iam", put.as_bytes())).await;
    assert_eq!(put.status, 200, "{}", put.text);
    let refused =
        harness.send(Call::query("sts", b"Action=GetSessionToken&Version=2011-06-15")).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert!(refused.text.contains("with an explicit deny"), "{}", refused.text);
    let unknown =
        harness.send(Call::query("sts", b"Action=AssumeRoleWithSAML&Version=2011-06-15")).await;
    assert!(unknown.text.contains("<Code>InvalidAction</Code>"), "{}", unknown.text);
}

/// The text of the first `<tag>` of an XML answer.
fn xml_text<'a>(xml: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let start = xml.find(&open).unwrap_or_else(|| panic!("no {tag} in {xml}")) + open.len();
    let end = xml[start..].find(&format!("</{tag}>")).unwrap() + start;
    &xml[start..end]
}

/// With a role's session (`aws iam get-user` with assumed-role credentials), the IAM
/// operations that default to the calling user need a user name: IAM's `ValidationError`,
/// whatever the role may do; named, they answer as for anyone.
#[tokio::test]
async fn a_role_session_must_name_the_user_of_operations_that_default_to_the_caller() {
    let harness = Harness::start().await;
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/admin"},"Action":"sts:AssumeRole"}]}"#;
    let create = format!(
        "Action=CreateRole&Version=2010-05-08&RoleName=auditor&AssumeRolePolicyDocument={}",
        urlencoding(trust)
    );
    assert_eq!(harness.send(Call::query("iam", create.as_bytes())).await.status, 200);
    let all = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#;
    let put = format!(
        "Action=PutRolePolicy&Version=2010-05-08&RoleName=auditor&PolicyName=iam&PolicyDocument={}",
        urlencoding(all)
    );
    assert_eq!(harness.send(Call::query("iam", put.as_bytes())).await.status, 200);
    let assume = "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fauditor&RoleSessionName=look";
    let assumed = harness.send(Call::query("sts", assume.as_bytes())).await;
    assert_eq!(assumed.status, 200, "{}", assumed.text);
    let key = (
        xml_text(&assumed.text, "AccessKeyId").to_owned(),
        xml_text(&assumed.text, "SecretAccessKey").to_owned(),
    );
    let token = xml_text(&assumed.text, "SessionToken").to_owned();
    let as_role = |body: String| {
        let (harness, key, token) = (&harness, &key, token.clone());
        async move {
            let mut call = Call::query("iam", body.as_bytes());
            call.key = Some(key);
            call.unsigned = vec![("x-amz-security-token", token)];
            harness.send(call).await
        }
    };
    for action in [
        "GetUser",
        "ListAccessKeys",
        "CreateAccessKey",
        "ListSSHPublicKeys",
        "ListServiceSpecificCredentials",
        "GetLoginProfile",
    ] {
        let refused = as_role(format!("Action={action}&Version=2010-05-08")).await;
        assert_eq!(refused.status, 400, "{action}: {}", refused.text);
        assert!(refused.text.contains("<Code>ValidationError</Code>"), "{}", refused.text);
        assert!(
            refused.text.contains(
                "<Message>Must specify userName when calling with non-User credentials</Message>"
            ),
            "{action}: {}",
            refused.text
        );
    }
    let named = as_role("Action=GetUser&Version=2010-05-08&UserName=admin".to_owned()).await;
    assert_eq!(named.status, 200, "{}", named.text);
    assert!(named.text.contains("<UserName>admin</UserName>"), "{}", named.text);
    let every = "Action=ListServiceSpecificCredentials&Version=2010-05-08&AllUsers=true";
    let every = as_role(every.to_owned()).await;
    assert_eq!(every.status, 200, "{}", every.text);
    // A user's own call still defaults to them.
    let own = harness.send(Call::query("iam", b"Action=GetUser&Version=2010-05-08")).await;
    assert!(own.text.contains("<UserName>admin</UserName>"), "{}", own.text);
}

/// `text` percent-encoded for a form.
fn urlencoding(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
