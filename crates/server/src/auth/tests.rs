//! The one authentication path (each kind of credential, and wrong, expired and missing ones)
//! and the one authorization decision (a table of principal × action × resource).

use axum::http::{HeaderMap, HeaderValue, Method, Uri};
use engine::store::{Document, Write};
use serde_json::json;

use super::*;
use awsapi::sigv4::{format_amz_date, sign};

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", crate::base64_codec::encode(format!("{user}:{password}").as_bytes()))
}

async fn state() -> (AppState, tempfile::TempDir, (String, String)) {
    let (state, dir) = crate::test_state("us-east-1").await;
    let keys = state.identity.create_access_key("admin", 0).await.unwrap();
    (state, dir, (keys.access_key_id, keys.secret_access_key))
}

/// The admin's unique id (`AIDA…`), which authentication carries for the audit trail.
async fn admin_id(state: &AppState) -> Arc<str> {
    let id = state.identity.user_id("admin", engine::clock::now_ms()).await;
    assert!(id.starts_with("AIDA"), "{id}");
    id
}

async fn via(state: &AppState, route: Route<'_>, map: &HeaderMap) -> Result<Principal, AuthError> {
    authenticate(state, route, &RequestParts::headers(map)).await
}

/// A SigV4-signed `POST /` for `service`, signed `skew` seconds from now with `secret`.
fn signed_post(key: &str, secret: &str, service: &str, skew: i64, body: &[u8]) -> HeaderMap {
    let amz_date = format_amz_date(engine::clock::now_ms() / 1000 + skew);
    let mut pairs = vec![
        ("host".to_owned(), "127.0.0.1:1".to_owned()),
        ("x-amz-date".to_owned(), amz_date.clone()),
        ("x-amz-target".to_owned(), "CodeBuild_20161006.ListProjects".to_owned()),
    ];
    let lent: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let request = SignedRequest { method: "POST", path: "/", query: "", headers: &lent, body };
    let authorization = sign(&request, key, secret, "us-east-1", service, &amz_date);
    pairs.push(("authorization".to_owned(), authorization));
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    headers(&pairs)
}

async fn sigv4(state: &AppState, map: &HeaderMap, body: &[u8]) -> Result<Principal, AuthError> {
    let (method, uri) = (Method::POST, Uri::from_static("/"));
    let route = Route::Aws { signing_name: "codebuild" };
    authenticate(state, route, &RequestParts::new(&method, &uri, map, body)).await
}

#[tokio::test]
async fn sigv4_signs_in_a_user_and_refuses_wrong_expired_and_missing_signatures() {
    let (state, _dir, (key, secret)) = state().await;
    let body = b"{}";
    let good = signed_post(&key, &secret, "codebuild", 0, body);
    assert_eq!(
        sigv4(&state, &good, body).await.unwrap(),
        Principal::User {
            name: "admin".into(),
            user_id: admin_id(&state).await,
            via: SignIn::SigV4 { access_key_id: key.clone() }
        }
    );
    // Another body than the one signed, a wrong secret, an old signature, another service.
    let replayed = sigv4(&state, &good, b"{\"x\":1}").await;
    assert!(
        matches!(replayed, Err(AuthError::Signature(SignatureError::Mismatch))),
        "{replayed:?}"
    );
    let wrong = signed_post(&key, "not-the-secret", "codebuild", 0, body);
    assert!(matches!(
        sigv4(&state, &wrong, body).await,
        Err(AuthError::Signature(SignatureError::Mismatch))
    ));
    let old = signed_post(&key, &secret, "codebuild", -3600, body);
    assert!(matches!(
        sigv4(&state, &old, body).await,
        Err(AuthError::Signature(SignatureError::Expired { .. }))
    ));
    let other = signed_post(&key, &secret, "codecommit", 0, body);
    assert!(matches!(
        sigv4(&state, &other, body).await,
        Err(AuthError::Signature(SignatureError::WrongService(_)))
    ));
    let unknown = signed_post("AKIAUNKNOWN0000000", &secret, "codebuild", 0, body);
    assert!(matches!(
        sigv4(&state, &unknown, body).await,
        Err(AuthError::Signature(SignatureError::UnknownKey))
    ));
    let missing = headers(&[("host", "127.0.0.1:1")]);
    assert!(matches!(
        sigv4(&state, &missing, body).await,
        Err(AuthError::Signature(SignatureError::Missing))
    ));
}

/// The credential helper's password for `repo`, signed `skew` seconds from now.
fn helper_password(secret: &str, repo: &str, skew: i64) -> String {
    let stamp = format_amz_date(engine::clock::now_ms() / 1000 + skew);
    let timestamp = stamp.trim_end_matches('Z');
    let path = format!("/v1/repos/{repo}");
    let signature =
        git_auth::codecommit_signature(secret, "us-east-1", timestamp, "127.0.0.1", &path);
    format!("{timestamp}Z{signature}")
}

#[tokio::test]
async fn git_takes_the_helper_password_and_git_credentials_and_refuses_wrong_ones() {
    let (state, _dir, (key, secret)) = state().await;
    let git = Route::Git { repository: "app" };
    let with = |user: &str, password: &str| {
        headers(&[("host", "127.0.0.1:8080"), ("authorization", &basic(user, password))])
    };
    let helper = with(&key, &helper_password(&secret, "app", 0));
    assert_eq!(
        via(&state, git, &helper).await.unwrap(),
        Principal::User {
            name: "admin".into(),
            user_id: admin_id(&state).await,
            via: SignIn::GitHelper { access_key_id: key.clone() }
        }
    );
    // Signed for another repository, too long ago, with another secret.
    let elsewhere = via(&state, Route::Git { repository: "other" }, &helper).await;
    assert!(matches!(elsewhere, Err(AuthError::Invalid(_))), "{elsewhere:?}");
    let stale = with(&key, &helper_password(&secret, "app", -3600));
    assert!(matches!(via(&state, git, &stale).await, Err(AuthError::Invalid(_))));
    let forged = with(&key, &helper_password("not-the-secret", "app", 0));
    assert!(matches!(via(&state, git, &forged).await, Err(AuthError::Invalid(_))));

    let (name, password) = state.identity.create_git_credentials("admin", 0).await.unwrap();
    assert_eq!(
        via(&state, git, &with(&name, &password)).await.unwrap(),
        Principal::User {
            name: "admin".into(),
            user_id: admin_id(&state).await,
            via: SignIn::GitCredentials { git_user_name: name.clone() }
        }
    );
    let wrong = via(&state, git, &with(&name, "not-the-password")).await;
    assert!(matches!(wrong, Err(AuthError::Invalid(_))), "{wrong:?}");
    state.identity.revoke_git_credentials(&name).await.unwrap();
    assert!(matches!(via(&state, git, &with(&name, &password)).await, Err(AuthError::Invalid(_))));
    assert!(matches!(via(&state, git, &HeaderMap::new()).await, Err(AuthError::Missing)));
}

/// A build in progress on `agent_id` and a git token for it, written as a lease writes them.
async fn running_build_with_token(state: &AppState, agent_id: &str, token: &str) {
    let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(token.as_bytes()));
    let document = |kind: &str, key: &str, parent: Option<&str>, body| Document {
        kind: kind.to_owned(),
        key: key.to_owned(),
        parent: parent.map(str::to_owned),
        sort: 0,
        version: 0,
        body,
    };
    let build = json!({
        "id": "proj:1", "buildStatus": "IN_PROGRESS", "buildComplete": false, "serviceRole": "ci",
        codebuild::builds::INTERNAL: { "agentId": agent_id },
    });
    let token = json!({
        "buildId": "proj:1", "agentId": agent_id, "user": "admin",
        "expiresMs": engine::clock::now_ms() + 600_000,
    });
    state
        .store
        .apply(vec![
            Write::Put(document(engine::kinds::BUILD, "proj:1", None, build)),
            Write::Put(document("build-token", &hash, Some("proj:1"), token)),
        ])
        .await
        .unwrap();
}

#[tokio::test]
async fn git_takes_agent_and_build_tokens_while_they_are_valid() {
    let (state, _dir, _) = state().await;
    let git = Route::Git { repository: "app" };
    let bearer = |token: &str| headers(&[("authorization", &format!("Bearer {token}"))]);
    let agent = crate::agent_api::create_token(&state, "builder").await.unwrap();
    let Principal::Agent { name, .. } = via(&state, git, &bearer(&agent)).await.unwrap() else {
        panic!("not an agent");
    };
    assert_eq!(name, "builder");
    running_build_with_token(&state, "agent-1", "slb_build").await;
    assert_eq!(
        via(&state, git, &bearer("slb_build")).await.unwrap(),
        Principal::Build {
            build_id: "proj:1".into(),
            initiator: "admin".into(),
            service_role: "ci".into()
        }
    );
    assert!(matches!(via(&state, git, &bearer("slb_unknown")).await, Err(AuthError::Invalid(_))));
    // The build ends: its token is worth nothing.
    let mut build = state.store.get(engine::kinds::BUILD, "proj:1").await.unwrap().unwrap();
    build.body["buildStatus"] = json!("SUCCEEDED");
    build.body["buildComplete"] = json!(true);
    let version = build.version;
    state
        .store
        .apply(vec![Write::Update { document: build, expected_version: version }])
        .await
        .unwrap();
    assert!(matches!(via(&state, git, &bearer("slb_build")).await, Err(AuthError::Invalid(_))));
}

#[tokio::test]
async fn the_agent_api_takes_only_agent_tokens() {
    let (state, _dir, (key, secret)) = state().await;
    let token = crate::agent_api::create_token(&state, "builder").await.unwrap();
    let bearer = |token: &str| headers(&[("authorization", &format!("Bearer {token}"))]);
    let Principal::Agent { name, token_hash } =
        via(&state, Route::Agent, &bearer(&token)).await.unwrap()
    else {
        panic!("not an agent");
    };
    assert_eq!((name.as_str(), token_hash.len()), ("builder", 64));
    running_build_with_token(&state, "agent-1", "slb_build").await;
    for refused in [
        bearer("slb_build"),
        bearer("slw_unknown"),
        headers(&[("authorization", &basic(&key, &secret))]),
    ] {
        let result = via(&state, Route::Agent, &refused).await;
        assert!(matches!(result, Err(AuthError::Invalid(_) | AuthError::Missing)), "{result:?}");
    }
    assert!(matches!(via(&state, Route::Agent, &HeaderMap::new()).await, Err(AuthError::Missing)));
}

#[tokio::test]
async fn logs_take_an_access_key_as_basic_credentials() {
    let (state, _dir, (key, secret)) = state().await;
    let with = |password: &str| headers(&[("authorization", &basic(&key, password))]);
    assert_eq!(
        via(&state, Route::Logs, &with(&secret)).await.unwrap(),
        Principal::User {
            name: "admin".into(),
            user_id: admin_id(&state).await,
            via: SignIn::LogsAccessKey { access_key_id: key.clone() }
        }
    );
    assert!(matches!(via(&state, Route::Logs, &with("wrong")).await, Err(AuthError::Invalid(_))));
    state.identity.revoke_access_key(&key).await.unwrap();
    assert!(matches!(via(&state, Route::Logs, &with(&secret)).await, Err(AuthError::Invalid(_))));
    let garbage = headers(&[("authorization", "Basic !!!")]);
    assert!(matches!(via(&state, Route::Logs, &garbage).await, Err(AuthError::Invalid(_))));
    assert!(matches!(via(&state, Route::Logs, &HeaderMap::new()).await, Err(AuthError::Missing)));
}

#[tokio::test]
async fn the_console_takes_a_live_session_cookie() {
    let (state, _dir, _) = state().await;
    let now = engine::clock::now_ms();
    let (session, token) =
        crate::console::session::create(&state.store, "admin", now).await.unwrap();
    let cookie = |token: &str| headers(&[("cookie", &format!("other=1; slipway_session={token}"))]);
    assert_eq!(
        via(&state, Route::Console, &cookie(&token)).await.unwrap(),
        Principal::User {
            name: "admin".into(),
            user_id: admin_id(&state).await,
            via: SignIn::ConsoleSession { csrf: session.csrf }
        }
    );
    assert!(matches!(
        via(&state, Route::Console, &cookie("forged")).await,
        Err(AuthError::Missing)
    ));
    // A session from 13 hours ago has expired (they last 12).
    let (_, old) =
        crate::console::session::create(&state.store, "admin", now - 13 * 3_600_000).await.unwrap();
    assert!(matches!(via(&state, Route::Console, &cookie(&old)).await, Err(AuthError::Missing)));
    assert!(matches!(
        via(&state, Route::Console, &HeaderMap::new()).await,
        Err(AuthError::Missing)
    ));
}

/// One action on one resource: through [`authorize`] for an ARN, through
/// [`authorize_agent_api`] for the agent API.
async fn ask(
    state: &AppState,
    principal: &Principal,
    action: &str,
    resource: &Resource<'_>,
) -> Result<(), Denied> {
    match resource {
        Resource::Arn(arn) => {
            let facts = RequestFacts {
                action: action.to_owned(),
                resources: vec![(*arn).to_owned()],
                context: Vec::new(),
            };
            authorize(state, principal, &facts).await
        }
        _ => authorize_agent_api(principal, action, resource),
    }
}

/// CodeBuild's trust policy for a project's service role.
pub(crate) const TRUST_CODEBUILD: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"codebuild.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// A role `name` with the trust policy `trust` and the inline policy `policy`.
pub(crate) async fn role(state: &AppState, name: &str, trust: &str, policy: &str) {
    let create = iam::roles::CreateRoleRequest {
        path: None,
        role_name: name.into(),
        assume_role_policy_document: trust.into(),
        description: None,
        max_session_duration: None,
        permissions_boundary: None,
        tags: Vec::new(),
    };
    iam::roles::create_role(&state.identity, create, 0).await.unwrap();
    let put = iam::policies::PutRolePolicyRequest {
        role_name: name.into(),
        policy_name: "git".into(),
        policy_document: policy.into(),
    };
    iam::policies::put_role_policy(&state.identity, put).await.unwrap();
}

/// A build token of the build `p:1`, acting as the role `role`.
fn build_token(role: &str) -> Principal {
    Principal::Build {
        build_id: "p:1".into(),
        initiator: "alice".into(),
        service_role: role.into(),
    }
}

/// The reading of a build's log, as the log routes ask it (BatchGetBuilds on its project).
const READ_BUILD_LOG: &str = "codebuild:BatchGetBuilds";

#[tokio::test]
async fn authorize_allows_what_each_principal_may_do() {
    let (state, _dir, _) = state().await;
    state.identity.create_user("alice", 0).await.unwrap();
    state.identity.attach_policy_to_user("alice", "AdministratorAccess").await.unwrap();
    let user = |via| Principal::User { name: "alice".into(), user_id: "".into(), via };
    let sigv4 = user(SignIn::SigV4 { access_key_id: "AKIA1".into() });
    let console = user(SignIn::ConsoleSession { csrf: "c".into() });
    let git_user = user(SignIn::GitCredentials { git_user_name: "alice-at-1".into() });
    let agent = Principal::Agent { name: "builder".into(), token_hash: "h1".into() };
    let git = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["codecommit:GitPull","codecommit:GitPush","codecommit:GetFile"],"Resource":"*"}]}"#;
    role(&state, "ci", TRUST_CODEBUILD, git).await;
    let build = build_token("ci");
    let repo = Resource::Arn("arn:aws:codecommit:us-east-1:000000000000:app");
    let project = Resource::Arn("arn:aws:codebuild:us-east-1:000000000000:project/p");
    let any = Resource::Arn("*");
    let me = Resource::Arn("arn:aws:iam::000000000000:user/alice");
    let own_agent = Resource::Agent { id: "agent-1", registered_with: "h1" };
    let other_agent = Resource::Agent { id: "agent-2", registered_with: "h2" };
    let table: &[(&Principal, &str, Resource<'_>, bool)] = &[
        (&sigv4, "codebuild:StartBuild", project, true),
        (&sigv4, "codecommit:CreateRepository", any, true),
        (&sigv4, "ssm:GetParameter", any, true),
        (&console, "codecommit:GetFile", repo, true),
        (&git_user, GIT_PUSH, repo, true),
        (&git_user, GIT_PULL, repo, true),
        (&sigv4, READ_BUILD_LOG, any, true),
        (&console, "iam:ChangePassword", me, true),
        (&console, "iam:CreateServiceSpecificCredential", me, true),
        (&agent, "iam:ChangePassword", me, false),
        (&build, "iam:CreateServiceSpecificCredential", me, false),
        (&sigv4, AGENT_LEASE, own_agent, false),
        (&sigv4, AGENT_REGISTER, Resource::Agents, false),
        (&agent, AGENT_REGISTER, Resource::Agents, true),
        (&agent, AGENT_UPLOAD_REPORT, Resource::Agents, true),
        (&agent, AGENT_LEASE, own_agent, true),
        (&agent, AGENT_FINISH, own_agent, true),
        (&agent, AGENT_EVENTS, other_agent, false),
        (&agent, GIT_PULL, repo, true),
        (&agent, GIT_PUSH, repo, false),
        (&agent, "codebuild:StartBuild", project, false),
        (&agent, READ_BUILD_LOG, any, false),
        (&build, GIT_PULL, repo, true),
        (&build, GIT_PUSH, repo, true),
        (&build, GIT_PULL, any, false),
        (&build, "codecommit:GetFile", repo, false),
        (&build, "codebuild:StartBuild", project, false),
        (&build, AGENT_LEASE, own_agent, false),
        (&build, READ_BUILD_LOG, any, false),
    ];
    for (principal, action, resource, allowed) in table {
        let result = ask(&state, principal, action, resource).await;
        assert_eq!(result.is_ok(), *allowed, "{principal:?} {action} {resource}: {result:?}");
    }
    // The refusals say why, as the routes answer them.
    let push = ask(&state, &agent, GIT_PUSH, &repo).await.unwrap_err();
    assert_eq!(push.message, "agents may fetch, not push");
    let stolen = ask(&state, &agent, AGENT_EVENTS, &other_agent).await.unwrap_err();
    assert_eq!(stolen.message, "agent agent-2 was registered with another agent token");
    let denied = ask(&state, &build, "codebuild:StartBuild", &project).await.unwrap_err();
    assert_eq!(
        denied.message,
        "Build token of p:1 is not authorized to perform: codebuild:StartBuild on resource: \
         arn:aws:codebuild:us-east-1:000000000000:project/p"
    );
}

#[tokio::test]
async fn a_request_is_refused_whole_for_one_resource_it_may_not_reach() {
    let (state, _dir, _) = state().await;
    let git = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"codecommit:GitPull","Resource":"*"}]}"#;
    role(&state, "ci", TRUST_CODEBUILD, git).await;
    let build = build_token("ci");
    let repo = |name: &str| format!("arn:aws:codecommit:us-east-1:000000000000:{name}");
    // A build's token reaches the repositories its role may: any here; `*` is none.
    let facts = |resources: Vec<String>| RequestFacts {
        action: GIT_PULL.to_owned(),
        resources,
        context: Vec::new(),
    };
    assert!(authorize(&state, &build, &facts(vec![repo("a"), repo("b")])).await.is_ok());
    let denied =
        authorize(&state, &build, &facts(vec![repo("a"), "*".to_owned()])).await.unwrap_err();
    assert_eq!(
        denied.message,
        "Build token of p:1 is not authorized to perform: codecommit:GitPull on resource: *"
    );
    // No resource at all is asked as `*`.
    assert!(authorize(&state, &build, &facts(Vec::new())).await.is_err());
}

/// A build token reaches what its build's service role allows: with the request's condition
/// keys (`codecommit:References`), and nothing when the role is missing or does not trust
/// CodeBuild.
#[tokio::test]
async fn a_build_token_acts_as_its_service_role() {
    let (state, _dir, _) = state().await;
    let repo = "arn:aws:codecommit:us-east-1:000000000000:app".to_owned();
    let pull_and_push_features = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"codecommit:GitPull","Resource":"*"},{"Effect":"Allow","Action":"codecommit:GitPush","Resource":"*","Condition":{"StringLike":{"codecommit:References":"refs/heads/feature/*"}}}]}"#;
    role(&state, "ci", TRUST_CODEBUILD, pull_and_push_features).await;
    let pipeline_trust = TRUST_CODEBUILD.replace("codebuild", "codepipeline");
    role(&state, "pipeline", &pipeline_trust, pull_and_push_features).await;
    let facts = |action: &str, refs: &[&str]| RequestFacts {
        action: action.to_owned(),
        resources: vec![repo.clone()],
        context: if refs.is_empty() {
            Vec::new()
        } else {
            vec![(
                "codecommit:References".to_owned(),
                refs.iter().map(|it| (*it).to_owned()).collect(),
            )]
        },
    };
    let ci = build_token("ci");
    let by_arn = build_token("arn:aws:iam::000000000000:role/ci");
    for build in [&ci, &by_arn] {
        assert!(authorize(&state, build, &facts(GIT_PULL, &[])).await.is_ok());
        let feature = facts(GIT_PUSH, &["refs/heads/feature/x"]);
        assert!(authorize(&state, build, &feature).await.is_ok());
    }
    let main = authorize(&state, &ci, &facts(GIT_PUSH, &["refs/heads/main"])).await.unwrap_err();
    assert_eq!(
        main.message,
        "User: arn:aws:iam::000000000000:role/ci is not authorized to perform: codecommit:GitPush \
         on resource: arn:aws:codecommit:us-east-1:000000000000:app because no identity-based \
         policy allows the codecommit:GitPush action"
    );
    let missing = authorize(&state, &build_token("any"), &facts(GIT_PULL, &[])).await.unwrap_err();
    assert_eq!(
        missing.message,
        "Role arn:aws:iam::000000000000:role/any does not exist, so the build may not reach \
         arn:aws:codecommit:us-east-1:000000000000:app (codecommit:GitPull)"
    );
    let untrusted =
        authorize(&state, &build_token("pipeline"), &facts(GIT_PULL, &[])).await.unwrap_err();
    assert!(
        untrusted.message.starts_with(
            "Role arn:aws:iam::000000000000:role/pipeline does not trust codebuild.amazonaws.com"
        ),
        "{}",
        untrusted.message
    );
}

/// A user may do what their policies allow and nothing else, with AWS's refusal; a change
/// of their policies applies to the very next request.
#[tokio::test]
async fn users_are_authorized_by_their_policies() {
    let (state, _dir, _) = state().await;
    let identity = &state.identity;
    identity.create_user("bob", 0).await.unwrap();
    let bob = Principal::User {
        name: "bob".into(),
        user_id: "".into(),
        via: SignIn::SigV4 { access_key_id: "AKIA1".into() },
    };
    let project = "arn:aws:codebuild:us-east-1:000000000000:project/p";
    let list = Resource::Arn("*");
    let refused = ask(&state, &bob, "codebuild:ListProjects", &list).await.unwrap_err();
    assert_eq!(
        refused.message,
        "User: arn:aws:iam::000000000000:user/bob is not authorized to perform: \
         codebuild:ListProjects on resource: * because no identity-based policy allows the \
         codebuild:ListProjects action"
    );
    identity.attach_policy_to_user("bob", "AWSCodeBuildReadOnlyAccess").await.unwrap();
    ask(&state, &bob, "codebuild:ListProjects", &list).await.unwrap();
    let create = ask(&state, &bob, "codebuild:CreateProject", &Resource::Arn(project)).await;
    assert!(create.unwrap_err().message.contains("because no identity-based policy allows"));
    // An explicit deny wins over the allow.
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"codebuild:List*","Resource":"*"}]}"#;
    let put = iam::policies::PutUserPolicyRequest {
        user_name: "bob".into(),
        policy_name: "no-list".into(),
        policy_document: deny.into(),
    };
    iam::policies::put_user_policy(identity, put).await.unwrap();
    let denied = ask(&state, &bob, "codebuild:ListProjects", &list).await.unwrap_err();
    assert!(
        denied.message.ends_with("with an explicit deny in an identity-based policy"),
        "{}",
        denied.message
    );
    // Several resources: every one must be allowed; the request's own context keys count.
    let resources =
        vec![project.to_owned(), "arn:aws:codebuild:us-east-1:000000000000:project/q".to_owned()];
    authorize_request(&state, &bob, "codebuild:BatchGetProjects", &resources, &[]).await.unwrap();
    let only_p = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"codebuild:BatchGetProjects","Resource":"*","Condition":{"StringNotEquals":{"aws:SourceIp":"10.0.0.1"}}}]}"#;
    let put = iam::policies::PutUserPolicyRequest {
        user_name: "bob".into(),
        policy_name: "ip".into(),
        policy_document: only_p.into(),
    };
    iam::policies::put_user_policy(identity, put).await.unwrap();
    let from = |ip: &str| vec![("aws:SourceIp".to_owned(), vec![ip.to_owned()])];
    authorize_request(&state, &bob, "codebuild:BatchGetProjects", &resources, &from("10.0.0.1"))
        .await
        .unwrap();
    let elsewhere = authorize_request(
        &state,
        &bob,
        "codebuild:BatchGetProjects",
        &resources,
        &from("10.0.0.2"),
    )
    .await;
    assert!(elsewhere.is_err());
    // A user that does not exist may do nothing; nor may a user the agent API.
    let ghost = Principal::User {
        name: "ghost".into(),
        user_id: "".into(),
        via: SignIn::SigV4 { access_key_id: "AKIA2".into() },
    };
    assert!(ask(&state, &ghost, "codebuild:ListProjects", &list).await.is_err());
    let admin = Principal::User {
        name: "admin".into(),
        user_id: "".into(),
        via: SignIn::SigV4 { access_key_id: "AKIA3".into() },
    };
    ask(&state, &admin, "codebuild:ListProjects", &list).await.unwrap();
    assert!(ask(&state, &admin, AGENT_LEASE, &Resource::Agents).await.is_err());
}

#[tokio::test]
async fn ssh_takes_an_active_key_by_its_id_and_refuses_every_other_pair_alike() {
    use iam::access_keys::Status;
    use iam::ssh_keys::{self, UpdateSSHPublicKeyRequest, UploadSSHPublicKeyRequest};
    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO9ia7OYsWn9cPiT9qcJwYQWUTcYfSHQ5/eWqWfGA2HC ada";
    const OTHER: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMLcBV9L5Dx2lYknQsICcJ7n0cmb2KHZy6NqkXK4VdOh other";
    let (state, _dir, _) = state().await;
    let upload = |body: &str| UploadSSHPublicKeyRequest {
        user_name: "admin".into(),
        ssh_public_key_body: body.into(),
    };
    let uploaded = ssh_keys::upload_ssh_public_key(&state.identity, upload(KEY), 1).await.unwrap();
    let id = uploaded.ssh_public_key.ssh_public_key_id;
    let other = ssh_keys::upload_ssh_public_key(&state.identity, upload(OTHER), 2).await.unwrap();
    let other_id = other.ssh_public_key.ssh_public_key_id;
    let blob = |line: &str| iam::ssh_keys::encoding::PublicKey::parse(line).unwrap().blob;
    let (key, other_key) = (blob(KEY), blob(OTHER));
    let principal = ssh_user(&state, &id, &key).await.unwrap();
    assert_eq!(
        principal,
        Principal::User {
            name: "admin".into(),
            user_id: admin_id(&state).await,
            via: SignIn::Ssh { ssh_public_key_id: id.clone() }
        }
    );
    // Another key of the same user under this id, an unknown id, a truncated key: all alike.
    let refusals = [
        ssh_user(&state, &id, &other_key).await.unwrap_err().to_string(),
        ssh_user(&state, &other_id, &key).await.unwrap_err().to_string(),
        ssh_user(&state, "APKANOSUCHKEY0000000", &key).await.unwrap_err().to_string(),
        ssh_user(&state, &id, &key[..key.len() - 1]).await.unwrap_err().to_string(),
    ];
    assert!(refusals.iter().all(|it| it == &refusals[0]), "{refusals:?}");
    let inactive = UpdateSSHPublicKeyRequest {
        user_name: "admin".into(),
        ssh_public_key_id: id.clone(),
        status: Status::Inactive,
    };
    ssh_keys::update_ssh_public_key(&state.identity, inactive).await.unwrap();
    let refused = ssh_user(&state, &id, &key).await.unwrap_err().to_string();
    assert_eq!(refused, refusals[0]);
    assert!(ssh_user(&state, &other_id, &other_key).await.is_ok());
}

/// A SigV4-signed `POST /` for codebuild with a session's key, carrying `token` (if any) as
/// `X-Amz-Security-Token`, signed as the SDKs sign it.
fn session_post(key: &str, secret: &str, token: Option<&str>, body: &[u8]) -> HeaderMap {
    let amz_date = format_amz_date(engine::clock::now_ms() / 1000);
    let mut pairs = vec![
        ("host".to_owned(), "127.0.0.1:1".to_owned()),
        ("x-amz-date".to_owned(), amz_date.clone()),
        ("x-amz-target".to_owned(), "CodeBuild_20161006.ListProjects".to_owned()),
    ];
    if let Some(token) = token {
        pairs.push(("x-amz-security-token".to_owned(), token.to_owned()));
    }
    let lent: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let request = SignedRequest { method: "POST", path: "/", query: "", headers: &lent, body };
    let authorization = sign(&request, key, secret, "us-east-1", "codebuild", &amz_date);
    pairs.push(("authorization".to_owned(), authorization));
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    headers(&pairs)
}

/// The role `reader` (trusting the account, allowed `codebuild:List*`) and a session of it
/// for admin begun at `begun_ms`, lasting `seconds`, with `policy` as its session policy.
async fn reader_session(
    state: &AppState,
    begun_ms: i64,
    seconds: u32,
    policy: Option<&str>,
) -> iam::sessions::Credentials {
    let identity = &state.identity;
    if identity.role("reader").await.unwrap().is_none() {
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole"}]}"#;
        let create = iam::roles::CreateRoleRequest {
            path: None,
            role_name: "reader".into(),
            assume_role_policy_document: trust.into(),
            description: None,
            max_session_duration: None,
            permissions_boundary: None,
            tags: Vec::new(),
        };
        iam::roles::create_role(identity, create, 0).await.unwrap();
        let list = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"codebuild:List*","Resource":"*"}]}"#;
        let put = iam::policies::PutRolePolicyRequest {
            role_name: "reader".into(),
            policy_name: "list".into(),
            policy_document: list.into(),
        };
        iam::policies::put_role_policy(identity, put).await.unwrap();
    }
    let admin = identity.user_policies("admin", 0).await.unwrap().unwrap().principal.clone();
    let input = iam::sessions::AssumeRoleRequest {
        role_arn: "arn:aws:iam::000000000000:role/reader".into(),
        role_session_name: "ci".into(),
        duration_seconds: Some(seconds),
        policy: policy.map(str::to_owned),
        ..iam::sessions::AssumeRoleRequest::default()
    };
    let context = iam::policy::Context::new();
    iam::sessions::assume_role(identity, &admin, false, &context, input, begun_ms)
        .await
        .unwrap()
        .credentials
}

#[tokio::test]
async fn sigv4_takes_a_session_key_with_its_token_only() {
    let (state, _dir, _) = state().await;
    let body = b"{}";
    let now = engine::clock::now_ms();
    let session = reader_session(&state, now, 900, None).await;
    let (key, secret) = (&session.access_key_id, &session.secret_access_key);
    let good = session_post(key, secret, Some(&session.session_token), body);
    let principal = sigv4(&state, &good, body).await.unwrap();
    let Principal::User { name, via: SignIn::Session { access_key_id, session: found }, .. } =
        &principal
    else {
        panic!("not a session: {principal:?}");
    };
    assert_eq!((name.as_str(), access_key_id.as_str()), ("reader/ci", key.as_str()));
    assert_eq!(
        found.principal.as_ref().unwrap().arn,
        "arn:aws:sts::000000000000:assumed-role/reader/ci"
    );
    // Without the token, with another, or with the right token and a wrong secret.
    for token in [None, Some("not-the-token")] {
        let refused = sigv4(&state, &session_post(key, secret, token, body), body).await;
        assert!(
            matches!(refused, Err(AuthError::Signature(SignatureError::UnknownKey))),
            "{refused:?}"
        );
    }
    let forged = session_post(key, "not-the-secret", Some(&session.session_token), body);
    assert!(matches!(
        sigv4(&state, &forged, body).await,
        Err(AuthError::Signature(SignatureError::Mismatch))
    ));
    // A session that has ended: its own error, once the signature holds.
    let ended = reader_session(&state, now - 3_600_000, 900, None).await;
    let old = session_post(
        &ended.access_key_id,
        &ended.secret_access_key,
        Some(&ended.session_token),
        body,
    );
    let refused = sigv4(&state, &old, body).await;
    assert!(
        matches!(refused, Err(AuthError::Signature(SignatureError::ExpiredToken))),
        "{refused:?}"
    );
    // A session's key is no access key for the other routes.
    let logs = headers(&[("authorization", &basic(key, secret))]);
    assert!(matches!(via(&state, Route::Logs, &logs).await, Err(AuthError::Invalid(_))));
}

#[tokio::test]
async fn a_role_session_has_its_roles_policies_within_its_session_policy() {
    let (state, _dir, _) = state().await;
    let now = engine::clock::now_ms();
    let plain = reader_session(&state, now, 900, None).await;
    let principal_of = |credentials: &iam::sessions::Credentials| {
        let state = state.clone();
        let credentials = credentials.clone();
        async move {
            let body = b"{}";
            let map = session_post(
                &credentials.access_key_id,
                &credentials.secret_access_key,
                Some(&credentials.session_token),
                body,
            );
            sigv4(&state, &map, body).await.unwrap()
        }
    };
    let session = principal_of(&plain).await;
    ask(&state, &session, "codebuild:ListProjects", &Resource::Arn("*")).await.unwrap();
    let project = "arn:aws:codebuild:us-east-1:000000000000:project/p";
    let refused = ask(&state, &session, "codebuild:StartBuild", &Resource::Arn(project)).await;
    assert_eq!(
        refused.unwrap_err().message,
        format!(
            "User: arn:aws:sts::000000000000:assumed-role/reader/ci is not authorized to \
             perform: codebuild:StartBuild on resource: {project} because no identity-based \
             policy allows the codebuild:StartBuild action"
        )
    );
    // A session policy narrows the role's policies.
    let narrow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"codebuild:ListReportGroups","Resource":"*"}]}"#;
    let limited = principal_of(&reader_session(&state, now, 900, Some(narrow)).await).await;
    ask(&state, &limited, "codebuild:ListReportGroups", &Resource::Arn("*")).await.unwrap();
    let refused = ask(&state, &limited, "codebuild:ListProjects", &Resource::Arn("*")).await;
    assert!(
        refused
            .unwrap_err()
            .message
            .ends_with("because no session policy allows the codebuild:ListProjects action")
    );
    // Its principal keys are the session's: no aws:username, aws:userid AROA…:ci.
    let keys = policy_principal(&state, &session).await.unwrap();
    assert_eq!(keys.user_name, None);
    assert!(keys.user_id.starts_with("AROA") && keys.user_id.ends_with(":ci"), "{keys:?}");
    // Policies see the session as its role's ARN (aws:PrincipalArn).
    let by_role = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"codebuild:BatchGetProjects","Resource":"*","Condition":{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::000000000000:role/reader"}}}]}"#;
    let put = iam::policies::PutRolePolicyRequest {
        role_name: "reader".into(),
        policy_name: "by-role".into(),
        policy_document: by_role.into(),
    };
    iam::policies::put_role_policy(&state.identity, put).await.unwrap();
    ask(&state, &session, "codebuild:BatchGetProjects", &Resource::Arn(project)).await.unwrap();
    let by_role = iam::policies::RolePolicyRequest {
        role_name: "reader".into(),
        policy_name: "by-role".into(),
    };
    iam::policies::delete_role_policy(&state.identity, by_role).await.unwrap();
    // The role deleted and made again is another role: the old session may do nothing.
    let delete =
        iam::policies::RolePolicyRequest { role_name: "reader".into(), policy_name: "list".into() };
    iam::policies::delete_role_policy(&state.identity, delete).await.unwrap();
    let name = iam::roles::RoleNameRequest { role_name: "reader".into() };
    iam::roles::delete_role(&state.identity, name).await.unwrap();
    reader_session(&state, now, 900, None).await;
    assert!(ask(&state, &session, "codebuild:ListProjects", &Resource::Arn("*")).await.is_err());
}

#[tokio::test]
async fn git_takes_the_helper_password_of_temporary_credentials() {
    let (state, _dir, _) = state().await;
    let session = reader_session(&state, engine::clock::now_ms(), 900, None).await;
    let git = Route::Git { repository: "app" };
    let with = |user: &str, password: &str| {
        headers(&[("host", "127.0.0.1:8080"), ("authorization", &basic(user, password))])
    };
    let password = helper_password(&session.secret_access_key, "app", 0);
    let user = format!("{}%{}", session.access_key_id, session.session_token);
    let principal = via(&state, git, &with(&user, &password)).await.unwrap();
    let Principal::User { name, via: SignIn::Session { access_key_id, .. }, .. } = &principal
    else {
        panic!("not a session: {principal:?}");
    };
    assert_eq!((name.as_str(), access_key_id), ("reader/ci", &session.access_key_id));
    // Another token, no token, another secret.
    let wrong = format!("{}%not-the-token", session.access_key_id);
    assert!(matches!(via(&state, git, &with(&wrong, &password)).await, Err(AuthError::Invalid(_))));
    let bare = with(&session.access_key_id, &password);
    assert!(matches!(via(&state, git, &bare).await, Err(AuthError::Invalid(_))));
    let forged = helper_password("not-the-secret", "app", 0);
    assert!(matches!(via(&state, git, &with(&user, &forged)).await, Err(AuthError::Invalid(_))));
    // An ended session.
    let ended = reader_session(&state, engine::clock::now_ms() - 3_600_000, 900, None).await;
    let user = format!("{}%{}", ended.access_key_id, ended.session_token);
    let password = helper_password(&ended.secret_access_key, "app", 0);
    assert!(matches!(via(&state, git, &with(&user, &password)).await, Err(AuthError::Invalid(_))));
}
