//! Tests of STS sessions: AssumeRole's trust check, durations and session policy,
//! GetSessionToken's, the token check, expiry and the cache.

use super::*;
use crate::roles::{CreateRoleRequest, create_role};
use crate::state_snapshot::{changes, identity, snapshot};

const ACCOUNT: &str = "000000000000";

fn trusting(principal: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{principal}"}},"Action":"sts:AssumeRole"}}]}}"#
    )
}

async fn role(identity: &Identity, name: &str, trust: &str, max: Option<u32>) {
    let request = CreateRoleRequest {
        path: None,
        role_name: name.into(),
        assume_role_policy_document: trust.into(),
        description: None,
        max_session_duration: max,
        permissions_boundary: None,
        tags: Vec::new(),
    };
    create_role(identity, request, 0).await.unwrap();
}

fn user(name: &str) -> Principal {
    Principal {
        arn: format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
        account: ACCOUNT.into(),
        user_name: Some(name.into()),
        user_id: "AIDAEXAMPLE".into(),
    }
}

fn assume(role: &str, session: &str) -> AssumeRoleRequest {
    AssumeRoleRequest {
        role_arn: format!("arn:aws:iam::{ACCOUNT}:role/{role}"),
        role_session_name: session.into(),
        ..AssumeRoleRequest::default()
    }
}

fn code_and_message(err: ApiError) -> (String, String) {
    (err.code, err.message)
}

#[tokio::test]
async fn assume_role_makes_a_session_of_the_role() {
    let (identity, store, _dir) = identity().await;
    role(&identity, "deployer", &trusting(&format!("arn:aws:iam::{ACCOUNT}:user/alice")), None)
        .await;
    let before = snapshot(&store).await;
    let context = Context::new();
    let answer =
        assume_role(&identity, &user("alice"), false, &context, assume("deployer", "s1"), 10_000)
            .await
            .unwrap();
    let key = answer.credentials.access_key_id.clone();
    assert!(key.starts_with("ASIA") && key.len() == 20, "{key}");
    assert_eq!(answer.credentials.expiration, Timestamp(10_000 + 3_600_000));
    assert!(answer.credentials.session_token.len() >= 200);
    assert_eq!(
        answer.assumed_role_user.arn,
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/deployer/s1")
    );
    assert!(answer.assumed_role_user.assumed_role_id.starts_with("AROA"));
    assert!(answer.assumed_role_user.assumed_role_id.ends_with(":s1"));
    let after = snapshot(&store).await;
    assert_eq!(changes(&before, &after), [format!("document sts-session {key} added")]);
    let body = &after[&format!("document sts-session {key}")]["body"];
    // Neither the secret nor the token is stored as such.
    let stored = body.to_string();
    assert!(!stored.contains(&answer.credentials.secret_access_key));
    assert!(!stored.contains(&answer.credentials.session_token));

    let session = identity.session(&key, 10_001).await.unwrap().unwrap();
    assert_eq!(&*session.secret, answer.credentials.secret_access_key);
    assert!(session.token_matches(&answer.credentials.session_token));
    assert!(!session.token_matches("another token"));
    assert!(!session.token_matches(""));
    let principal = session.principal.clone().unwrap();
    assert_eq!(principal.arn, answer.assumed_role_user.arn);
    assert_eq!(principal.user_id, answer.assumed_role_user.assumed_role_id);
    assert_eq!(principal.user_name, None);
    assert!(matches!(&session.acts_as, ActsAs::Role { role_name, .. } if role_name == "deployer"));
    assert!(!session.expired(10_000 + 3_599_999));
    assert!(session.expired(10_000 + 3_600_000));
}

#[tokio::test]
async fn assume_role_refuses_whom_the_trust_policy_does_not_name() {
    let (identity, store, _dir) = identity().await;
    role(&identity, "deployer", &trusting(&format!("arn:aws:iam::{ACCOUNT}:user/alice")), None)
        .await;
    let before = snapshot(&store).await;
    let context = Context::new();
    let denied = |user: &str, role: &str| {
        (
            "AccessDenied".to_owned(),
            format!(
                "User: arn:aws:iam::{ACCOUNT}:user/{user} is not authorized to perform: \
                 sts:AssumeRole on resource: arn:aws:iam::{ACCOUNT}:role/{role}"
            ),
        )
    };
    let bob = user("bob");
    let refused = assume_role(&identity, &bob, false, &context, assume("deployer", "ss"), 0);
    assert_eq!(code_and_message(refused.await.unwrap_err()), denied("bob", "deployer"));
    // A role that does not exist is refused the same way.
    let alice = user("alice");
    let none = assume_role(&identity, &alice, false, &context, assume("nope", "ss"), 0);
    assert_eq!(code_and_message(none.await.unwrap_err()), denied("alice", "nope"));
    // So is the right name at the wrong path.
    let mut wrong_path = assume("deployer", "ss");
    wrong_path.role_arn = format!("arn:aws:iam::{ACCOUNT}:role/other/deployer");
    let err = assume_role(&identity, &user("alice"), false, &context, wrong_path, 0).await;
    assert_eq!(err.unwrap_err().code, "AccessDenied");
    assert_eq!(snapshot(&store).await, before);

    // A trust policy naming the account admits the account's users.
    role(&identity, "any", &trusting(&format!("arn:aws:iam::{ACCOUNT}:root")), None).await;
    assume_role(&identity, &user("bob"), false, &context, assume("any", "ss"), 0).await.unwrap();
}

#[tokio::test]
async fn durations_are_checked_as_sts_does() {
    let (identity, store, _dir) = identity().await;
    let trust = trusting(ACCOUNT);
    role(&identity, "short", &trust, None).await;
    role(&identity, "long", &trust, Some(43_200)).await;
    let context = Context::new();
    let alice = user("alice");
    let with = |role: &str, seconds: u32| AssumeRoleRequest {
        duration_seconds: Some(seconds),
        ..assume(role, "ss")
    };
    let before = snapshot(&store).await;
    let err = assume_role(&identity, &alice, false, &context, with("short", 899), 0).await;
    assert_eq!(
        code_and_message(err.unwrap_err()),
        (
            "ValidationError".to_owned(),
            "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy \
             constraint: Member must have value greater than or equal to 900"
                .to_owned()
        )
    );
    let err = assume_role(&identity, &alice, false, &context, with("long", 43_201), 0).await;
    assert!(err.unwrap_err().message.contains("less than or equal to 43200"));
    let err = assume_role(&identity, &alice, false, &context, with("short", 3_601), 0).await;
    assert_eq!(
        code_and_message(err.unwrap_err()),
        (
            "ValidationError".to_owned(),
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
                .to_owned()
        )
    );
    let err = assume_role(&identity, &alice, true, &context, with("long", 7_200), 0).await;
    assert!(err.unwrap_err().message.contains("role chaining"));
    assert_eq!(snapshot(&store).await, before);
    let long = assume_role(&identity, &alice, false, &context, with("long", 43_200), 0).await;
    assert_eq!(long.unwrap().credentials.expiration, Timestamp(43_200_000));
    let short = assume_role(&identity, &alice, false, &context, with("short", 900), 0).await;
    assert_eq!(short.unwrap().credentials.expiration, Timestamp(900_000));

    let get = |seconds: Option<u32>| GetSessionTokenRequest {
        duration_seconds: seconds,
        ..GetSessionTokenRequest::default()
    };
    crate::users::create_user(
        &identity,
        crate::users::CreateUserRequest {
            path: None,
            user_name: "alice".into(),
            permissions_boundary: None,
            tags: Vec::new(),
        },
        0,
    )
    .await
    .unwrap();
    let default = get_session_token(&identity, "alice", get(None), 0).await.unwrap();
    assert_eq!(default.credentials.expiration, Timestamp(43_200_000));
    let longest = get_session_token(&identity, "alice", get(Some(129_600)), 0).await.unwrap();
    assert_eq!(longest.credentials.expiration, Timestamp(129_600_000));
    let err = get_session_token(&identity, "alice", get(Some(129_601)), 0).await.unwrap_err();
    assert_eq!(
        err.message,
        "1 validation error detected: Value '129601' at 'durationSeconds' failed to satisfy \
         constraint: Member must have value less than or equal to 129600"
    );
    let err = get_session_token(&identity, "alice", get(Some(10)), 0).await.unwrap_err();
    assert_eq!(err.code, "ValidationError");
    let session = identity.session(&default.credentials.access_key_id, 1).await.unwrap().unwrap();
    // The session knows its user's id, as GetUser names it (the audit trail's principalId).
    let user_id = identity.user_id("alice", 1).await;
    assert!(user_id.starts_with("AIDA"), "{user_id}");
    let user_id = user_id.to_string();
    assert_eq!(session.acts_as, ActsAs::User { user_name: "alice".into(), user_id });
    assert_eq!(session.principal, None);
}

#[test]
fn session_names_and_arns_are_checked_as_sts_does() {
    let check = |name: &str| check_assume_role(&assume("deployer", name)).map_err(code_and_message);
    assert!(check("ok-name_1+=,.@").is_ok());
    assert_eq!(
        check("a").unwrap_err().1,
        "1 validation error detected: Value 'a' at 'roleSessionName' failed to satisfy \
         constraint: Member must have length greater than or equal to 2"
    );
    assert!(check("has space").unwrap_err().1.contains(r"regular expression pattern: [\w+=,.@-]*"));
    assert!(check(&"x".repeat(65)).unwrap_err().1.contains("less than or equal to 64"));
    let short = AssumeRoleRequest { role_arn: "arn:aws:iam".into(), ..assume("r", "s1") };
    assert!(check_assume_role(&short).unwrap_err().message.contains("'roleArn'"));
    let with_arns = |arns: Vec<Option<&str>>| AssumeRoleRequest {
        policy_arns: arns
            .into_iter()
            .map(|arn| PolicyDescriptor { arn: arn.map(str::to_owned) })
            .collect(),
        ..assume("r", "s1")
    };
    let read_only = "arn:aws:iam::aws:policy/ReadOnlyAccess";
    assert!(check_assume_role(&with_arns(vec![Some(read_only); 10])).is_ok());
    let eleven = check_assume_role(&with_arns(vec![Some(read_only); 11])).unwrap_err();
    assert_eq!(eleven.code, "ValidationError");
    assert!(
        eleven.message.contains(
            "at 'policyArns' failed to satisfy constraint: Member must have \
             length less than or equal to 10"
        ),
        "{}",
        eleven.message
    );
    assert_eq!(
        check_assume_role(&with_arns(vec![Some(read_only), None])).unwrap_err().message,
        "1 validation error detected: Value 'null' at 'policyArns.member.2.arn' failed to \
         satisfy constraint: Member must not be null"
    );
    let short = check_assume_role(&with_arns(vec![Some("arn:aws:iam")])).unwrap_err();
    assert!(short.message.contains("'policyArns.member.1.arn'"), "{}", short.message);
}

#[tokio::test]
async fn a_session_policy_is_kept_and_limits_the_session() {
    let (identity, _store, _dir) = identity().await;
    role(&identity, "deployer", &trusting(ACCOUNT), None).await;
    let context = Context::new();
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"codecommit:Get*","Resource":"*"}]}"#;
    let input = AssumeRoleRequest { policy: Some(policy.into()), ..assume("deployer", "ss") };
    let answer = assume_role(&identity, &user("alice"), false, &context, input, 0).await.unwrap();
    assert!(answer.packed_policy_size.is_some_and(|it| it <= 100));
    let session = identity.session(&answer.credentials.access_key_id, 1).await.unwrap().unwrap();
    let limit = identity.session_policies(&session, 1).await.unwrap().unwrap();
    let principal = session.principal.clone().unwrap();
    let request =
        |action| Request { principal: &principal, action, resource: "*", context: &context };
    assert_eq!(limit.refusal(&request("codecommit:GetRepository")), None);
    assert_eq!(
        limit.refusal(&request("codecommit:DeleteRepository")).unwrap(),
        format!(
            "User: arn:aws:sts::{ACCOUNT}:assumed-role/deployer/ss is not authorized to perform: \
             codecommit:DeleteRepository on resource: * because no session policy allows the \
             codecommit:DeleteRepository action"
        )
    );

    let broken = AssumeRoleRequest { policy: Some("{".into()), ..assume("deployer", "ss") };
    let err = assume_role(&identity, &user("alice"), false, &context, broken, 0).await;
    assert_eq!(err.unwrap_err().code, "MalformedPolicyDocument");
    let big = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"codecommit:Get*","Resource":"arn:aws:codecommit:::{}"}}]}}"#,
        "x".repeat(3_000)
    );
    let big = AssumeRoleRequest { policy: Some(big), ..assume("deployer", "ss") };
    let err = assume_role(&identity, &user("alice"), false, &context, big, 0).await;
    assert_eq!(err.unwrap_err().code, "PackedPolicyTooLarge");
}

#[tokio::test]
async fn managed_session_policies_limit_the_session_as_they_are_now() {
    use crate::policies::{
        CreatePolicyRequest, CreatePolicyVersionRequest, create_policy, create_policy_version,
    };
    let (identity, store, _dir) = identity().await;
    role(&identity, "deployer", &trusting(ACCOUNT), None).await;
    let context = Context::new();
    let allow = |action: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"*"}}]}}"#
        )
    };
    let created = CreatePolicyRequest {
        policy_name: "get-only".into(),
        path: None,
        policy_document: allow("codecommit:Get*"),
        description: None,
        tags: Vec::new(),
    };
    let arn = create_policy(&identity, created, 0).await.unwrap().policy.arn;
    let with_arns = |arns: &[&str], policy: Option<String>| AssumeRoleRequest {
        policy,
        policy_arns: arns
            .iter()
            .map(|arn| PolicyDescriptor { arn: Some((*arn).to_owned()) })
            .collect(),
        ..assume("deployer", "ms")
    };

    // A policy that does not exist is refused, and no session begins.
    let before = snapshot(&store).await;
    let missing = format!("arn:aws:iam::{ACCOUNT}:policy/nope");
    let err =
        assume_role(&identity, &user("alice"), false, &context, with_arns(&[&missing], None), 0)
            .await
            .unwrap_err();
    assert_eq!(
        code_and_message(err),
        (
            "InvalidParameterValue".to_owned(),
            format!("Policy {missing} does not exist or is not attachable.")
        )
    );
    let other_account = "arn:aws:iam::111111111111:policy/get-only";
    let request = with_arns(&[other_account], None);
    let err = assume_role(&identity, &user("alice"), false, &context, request, 0).await;
    assert_eq!(err.unwrap_err().code, "InvalidParameterValue");
    assert!(changes(&before, &snapshot(&store).await).is_empty());

    // The session may do what the managed policies (with the inline one) allow, no more.
    let input = with_arns(&[&arn], Some(allow("codebuild:ListProjects")));
    let answer = assume_role(&identity, &user("alice"), false, &context, input, 0).await.unwrap();
    // The ARN counts toward the packed size as the inline policy does.
    let inline_only = assume_role(
        &identity,
        &user("alice"),
        false,
        &context,
        with_arns(&[], Some(allow("codebuild:ListProjects"))),
        0,
    )
    .await
    .unwrap();
    assert!(answer.packed_policy_size > inline_only.packed_policy_size);
    let key = &answer.credentials.access_key_id;
    let session = identity.session(key, 1).await.unwrap().unwrap();
    assert_eq!(session.policy_arns, std::slice::from_ref(&arn));
    let principal = session.principal.clone().unwrap();
    let request =
        |action| Request { principal: &principal, action, resource: "*", context: &context };
    let limit = identity.session_policies(&session, 1).await.unwrap().unwrap();
    assert_eq!(limit.refusal(&request("codecommit:GetRepository")), None);
    assert_eq!(limit.refusal(&request("codebuild:ListProjects")), None);
    assert!(
        limit
            .refusal(&request("codecommit:DeleteRepository"))
            .unwrap()
            .ends_with("because no session policy allows the codecommit:DeleteRepository action")
    );

    // A new default version applies to the session at once.
    let version = CreatePolicyVersionRequest {
        policy_arn: arn.clone(),
        policy_document: allow("codecommit:List*"),
        set_as_default: true,
    };
    create_policy_version(&identity, version, 2).await.unwrap();
    let limit = identity.session_policies(&session, 3).await.unwrap().unwrap();
    assert!(limit.refusal(&request("codecommit:GetRepository")).is_some());
    assert_eq!(limit.refusal(&request("codecommit:ListRepositories")), None);

    // An AWS-managed policy serves as well; managed policies alone limit the session.
    let read_only = "arn:aws:iam::aws:policy/AWSCodeCommitReadOnly";
    let input = with_arns(&[read_only], None);
    let answer = assume_role(&identity, &user("alice"), false, &context, input, 0).await.unwrap();
    assert!(answer.packed_policy_size.is_some());
    let session = identity.session(&answer.credentials.access_key_id, 4).await.unwrap().unwrap();
    let principal = session.principal.clone().unwrap();
    let request =
        |action| Request { principal: &principal, action, resource: "*", context: &context };
    let limit = identity.session_policies(&session, 4).await.unwrap().unwrap();
    assert_eq!(limit.refusal(&request("codecommit:GetRepository")), None);
    assert!(limit.refusal(&request("codecommit:DeleteRepository")).is_some());

    // Too much policy in all: the inline policy's characters and the ARNs' together.
    let padded = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"codecommit:Get*","Resource":"arn:aws:codecommit:::{}"}}]}}"#,
        "x".repeat(1_900)
    );
    let alone = with_arns(&[], Some(padded.clone()));
    assume_role(&identity, &user("alice"), false, &context, alone, 0).await.unwrap();
    let together = with_arns(&[&arn, read_only], Some(padded));
    let err = assume_role(&identity, &user("alice"), false, &context, together, 0).await;
    assert_eq!(err.unwrap_err().code, "PackedPolicyTooLarge");
}

#[tokio::test]
async fn a_session_without_session_policies_has_none() {
    let (identity, _store, _dir) = identity().await;
    role(&identity, "deployer", &trusting(ACCOUNT), None).await;
    let answer =
        assume_role(&identity, &user("alice"), false, &Context::new(), assume("deployer", "np"), 0)
            .await
            .unwrap();
    assert_eq!(answer.packed_policy_size, None);
    let session = identity.session(&answer.credentials.access_key_id, 1).await.unwrap().unwrap();
    assert!(identity.session_policies(&session, 1).await.unwrap().is_none());
}

#[tokio::test]
async fn expired_sessions_go_with_the_next_one_and_with_the_loop() {
    let (identity, store, _dir) = identity().await;
    role(&identity, "deployer", &trusting(ACCOUNT), None).await;
    role(&identity, "other", &trusting(ACCOUNT), None).await;
    let context = Context::new();
    let alice = user("alice");
    let first = assume_role(&identity, &alice, false, &context, assume("deployer", "aa"), 0)
        .await
        .unwrap()
        .credentials
        .access_key_id;
    let other = assume_role(&identity, &alice, false, &context, assume("other", "aa"), 0)
        .await
        .unwrap()
        .credentials
        .access_key_id;
    // An hour later the first has ended: the role's next session removes it.
    let before = snapshot(&store).await;
    let second =
        assume_role(&identity, &alice, false, &context, assume("deployer", "bb"), 3_600_000)
            .await
            .unwrap()
            .credentials
            .access_key_id;
    let mut expected = vec![
        format!("document sts-session {first} removed"),
        format!("document sts-session {second} added"),
    ];
    expected.sort();
    let mut changed = changes(&before, &snapshot(&store).await);
    changed.sort();
    assert_eq!(changed, expected);
    // The loop removes what has ended, and only that.
    let before = snapshot(&store).await;
    assert_eq!(expire_sessions(&store, 3_600_000).await.unwrap(), 1);
    assert_eq!(
        changes(&before, &snapshot(&store).await),
        [format!("document sts-session {other} removed")]
    );
    assert_eq!(expire_sessions(&store, 3_600_000).await.unwrap(), 0);
    assert!(identity.session(&second, 3_600_001).await.unwrap().is_some());
}

#[tokio::test]
async fn a_cached_session_is_read_again_once_sessions_change() {
    let (identity, store, _dir) = identity().await;
    role(&identity, "deployer", &trusting(ACCOUNT), None).await;
    let context = Context::new();
    let key = assume_role(&identity, &user("alice"), false, &context, assume("deployer", "aa"), 0)
        .await
        .unwrap()
        .credentials
        .access_key_id;
    assert!(identity.session(&key, 10).await.unwrap().is_some());
    // Gone from the store by another hand: the cache still answers within its time…
    store
        .apply(vec![Write::Delete { kind: STS_SESSION.to_owned(), key: key.clone() }])
        .await
        .unwrap();
    // …but this process wrote a session, so it reads again.
    assert!(identity.session(&key, 20).await.unwrap().is_none());
    assert!(identity.session("ASIAUNKNOWN", 20).await.unwrap().is_none());
}
