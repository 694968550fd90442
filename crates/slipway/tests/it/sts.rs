//! STS with the real `aws sts` CLI: a user assumes a role whose trust policy names them and
//! works with the role's permissions through the three `AWS_*` environment variables (and
//! only those: what the role does not allow is refused, and the session is its own
//! principal; git clones with them through the credential helper), a user the trust policy
//! does not name is refused, and GetSessionToken's credentials act as the user; managed
//! session policies (`--policy-arns`) narrow a session, their new default version at once.

use std::process::{Command, Stdio};

use serde_json::Value;

use crate::server::RunningServer;
use crate::support::{git_command, text};
use crate::{Run, Sandbox};

/// `aws <args>` with temporary credentials in `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`
/// and `AWS_SESSION_TOKEN`, and no credentials file.
fn aws_with_session(server: &RunningServer, credentials: &Value, args: &[&str]) -> Run {
    let output = Command::new("aws")
        .args(args)
        .args(["--endpoint-url", &server.endpoint, "--region", "us-east-1", "--output", "json"])
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_PAGER", "")
        .env_remove("AWS_PROFILE")
        .env("AWS_ACCESS_KEY_ID", text(&credentials["AccessKeyId"]))
        .env("AWS_SECRET_ACCESS_KEY", text(&credentials["SecretAccessKey"]))
        .env("AWS_SESSION_TOKEN", text(&credentials["SessionToken"]))
        .stdin(Stdio::null())
        .output()
        .expect("the aws CLI is installed (cargo xtask test installs it)");
    Run::from(output)
}

#[track_caller]
fn json(run: &Run) -> Value {
    run.expect_code(0);
    serde_json::from_str(&run.stdout).unwrap_or_else(|err| panic!("{err}: {}", run.stdout))
}

/// A shared-credentials file for the new access key of `user`.
fn user_credentials(server: &RunningServer, sandbox: &Sandbox, user: &str) -> std::path::PathBuf {
    server.json(&["iam", "create-user", "--user-name", user]);
    let key = server.json(&["iam", "create-access-key", "--user-name", user]);
    let path = sandbox.path(&format!("{user}-credentials"));
    std::fs::write(
        &path,
        format!(
            "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            text(&key["AccessKey"]["AccessKeyId"]),
            text(&key["AccessKey"]["SecretAccessKey"])
        ),
    )
    .unwrap();
    path
}

#[test]
fn assumed_roles_and_session_tokens_with_the_aws_cli() {
    let sandbox = Sandbox::new();
    let server =
        RunningServer::start_with(&sandbox.path("data"), "127.0.0.1:0", &["--no-local-agent"]);
    let dana = user_credentials(&server, &sandbox, "dana");
    let eve = user_credentials(&server, &sandbox, "eve");
    // Both may call sts:AssumeRole on any role; only dana is named by the role's trust policy.
    let may_assume = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;
    for user in ["dana", "eve"] {
        server
            .aws(&[
                "iam",
                "put-user-policy",
                "--user-name",
                user,
                "--policy-name",
                "assume",
                "--policy-document",
                may_assume,
            ])
            .expect_code(0);
    }
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/dana"},"Action":"sts:AssumeRole"}]}"#;
    let role = server.json(&[
        "iam",
        "create-role",
        "--role-name",
        "reader",
        "--assume-role-policy-document",
        trust,
    ]);
    let role_arn = text(&role["Role"]["Arn"]).to_owned();
    let read_only = "arn:aws:iam::aws:policy/AWSCodeCommitReadOnly";
    server
        .aws(&["iam", "attach-role-policy", "--role-name", "reader", "--policy-arn", read_only])
        .expect_code(0);
    server.json(&["codecommit", "create-repository", "--repository-name", "app"]);

    // dana assumes the role and works as it, with the three environment variables.
    let assume = ["sts", "assume-role", "--role-arn", &role_arn, "--role-session-name", "dana-ci"];
    let assumed = json(&server.aws_with(&dana, &assume));
    let credentials = &assumed["Credentials"];
    assert!(text(&credentials["AccessKeyId"]).starts_with("ASIA"), "{assumed}");
    let session_arn = "arn:aws:sts::000000000000:assumed-role/reader/dana-ci";
    assert_eq!(text(&assumed["AssumedRoleUser"]["Arn"]), session_arn, "{assumed}");
    let listed =
        json(&aws_with_session(&server, credentials, &["codecommit", "list-repositories"]));
    assert_eq!(listed["repositories"][0]["repositoryName"], "app", "{listed}");
    let refused = aws_with_session(
        &server,
        credentials,
        &["codecommit", "create-repository", "--repository-name", "other"],
    );
    assert!(refused.stderr.contains("(AccessDeniedException)"), "{refused:?}");
    assert!(
        refused.stderr.contains(&format!(
            "User: {session_arn} is not authorized to perform: codecommit:CreateRepository"
        )),
        "{refused:?}"
    );
    let who = json(&aws_with_session(&server, credentials, &["sts", "get-caller-identity"]));
    assert_eq!(text(&who["Arn"]), session_arn, "{who}");
    assert!(text(&who["UserId"]).starts_with("AROA"), "{who}");
    assert!(text(&who["UserId"]).ends_with(":dana-ci"), "{who}");
    // A role's session is no user: `aws iam get-user` needs the name, as on AWS.
    let get_user = aws_with_session(&server, credentials, &["iam", "get-user"]);
    assert!(get_user.stderr.contains("(ValidationError)"), "{get_user:?}");
    assert!(
        get_user.stderr.contains("Must specify userName when calling with non-User credentials"),
        "{get_user:?}"
    );
    // git over HTTPS takes them through the credential helper, as CodeCommit does.
    let clones = sandbox.path("clones");
    std::fs::create_dir_all(&clones).unwrap();
    let url = format!("{}/v1/repos/app", server.endpoint);
    let helper = "credential.helper=!aws codecommit credential-helper --ignore-host-check $@";
    let clone = git_command(
        &clones,
        &["-c", helper, "-c", "credential.UseHttpPath=true", "clone", "-q", &url, "app"],
    )
    .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    .env("AWS_CONFIG_FILE", "/dev/null")
    .env("AWS_DEFAULT_REGION", "us-east-1")
    .env("AWS_ACCESS_KEY_ID", text(&credentials["AccessKeyId"]))
    .env("AWS_SECRET_ACCESS_KEY", text(&credentials["SecretAccessKey"]))
    .env("AWS_SESSION_TOKEN", text(&credentials["SessionToken"]))
    .output()
    .unwrap();
    Run::from(clone).expect_code(0);
    // The session's key without its token is no key at all.
    let mut tokenless = credentials.clone();
    tokenless["SessionToken"] = Value::String("not-the-token".into());
    let refused = aws_with_session(&server, &tokenless, &["codecommit", "list-repositories"]);
    assert!(refused.stderr.contains("(UnrecognizedClientException)"), "{refused:?}");
    let refused = aws_with_session(&server, &tokenless, &["sts", "get-caller-identity"]);
    assert!(refused.stderr.contains("(InvalidClientTokenId)"), "{refused:?}");
    // A role's session may not ask for a session token.
    let refused = aws_with_session(&server, credentials, &["sts", "get-session-token"]);
    assert!(refused.stderr.contains("(AccessDenied)"), "{refused:?}");

    // eve is not named by the trust policy.
    let refused = server.aws_with(&eve, &assume);
    assert!(refused.stderr.contains("(AccessDenied)"), "{refused:?}");
    assert!(
        refused.stderr.contains(&format!(
            "User: arn:aws:iam::000000000000:user/eve is not authorized to perform: \
             sts:AssumeRole on resource: {role_arn}"
        )),
        "{refused:?}"
    );
    // Durations outside the role's are refused as STS refuses them.
    let long = [&assume[..], &["--duration-seconds", "7200"]].concat();
    let refused = server.aws_with(&dana, &long);
    assert!(refused.stderr.contains("(ValidationError)"), "{refused:?}");
    assert!(refused.stderr.contains("MaxSessionDuration"), "{refused:?}");

    // GetSessionToken's credentials act as the user.
    let token = json(&server.aws_with(&dana, &["sts", "get-session-token"]));
    let credentials = &token["Credentials"];
    assert!(text(&credentials["AccessKeyId"]).starts_with("ASIA"), "{token}");
    let who = json(&aws_with_session(&server, credentials, &["sts", "get-caller-identity"]));
    assert_eq!(text(&who["Arn"]), "arn:aws:iam::000000000000:user/dana", "{who}");
    assert!(text(&who["UserId"]).starts_with("AIDA"), "{who}");
    let refused = aws_with_session(&server, credentials, &["codecommit", "list-repositories"]);
    assert!(refused.stderr.contains("(AccessDeniedException)"), "{refused:?}");
    assert!(refused.stderr.contains("user/dana is not authorized"), "{refused:?}");
    // … and may assume the role as dana would.
    let again = aws_with_session(&server, credentials, &assume);
    assert!(text(&json(&again)["AssumedRoleUser"]["Arn"]).ends_with("reader/dana-ci"));

    // The audit trail names the role's session and its issuer.
    let events = server.json(&[
        "cloudtrail",
        "lookup-events",
        "--lookup-attributes",
        "AttributeKey=EventName,AttributeValue=ListRepositories",
    ]);
    let records: Vec<Value> = events["Events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| serde_json::from_str(&text(&event["CloudTrailEvent"])).unwrap())
        .collect();
    let at = records
        .iter()
        .position(|record| record["userIdentity"]["type"] == "AssumedRole")
        .unwrap_or_else(|| panic!("no AssumedRole event: {records:?}"));
    let (session, summary) = (&records[at], &events["Events"][at]);
    // LookupEvents names a role's session by its session name, as CloudTrail does.
    assert_eq!(summary["Username"], "dana-ci", "{summary}");
    let identity = &session["userIdentity"];
    assert!(text(&identity["principalId"]).starts_with("AROA"), "{identity}");
    assert!(text(&identity["principalId"]).ends_with(":dana-ci"), "{identity}");
    assert_eq!(identity["arn"], session_arn, "{identity}");
    assert_eq!(identity["sessionContext"]["sessionIssuer"]["arn"], role_arn.as_str(), "{identity}");
    assert!(text(&identity["accessKeyId"]).starts_with("ASIA"), "{identity}");
}

#[test]
fn managed_session_policies_narrow_a_session_with_the_aws_cli() {
    let sandbox = Sandbox::new();
    let server =
        RunningServer::start_with(&sandbox.path("data"), "127.0.0.1:0", &["--no-local-agent"]);
    let dana = user_credentials(&server, &sandbox, "dana");
    let may_assume = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#;
    server
        .aws(&[
            "iam",
            "put-user-policy",
            "--user-name",
            "dana",
            "--policy-name",
            "assume",
            "--policy-document",
            may_assume,
        ])
        .expect_code(0);
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/dana"},"Action":"sts:AssumeRole"}]}"#;
    let role = server.json(&[
        "iam",
        "create-role",
        "--role-name",
        "reader",
        "--assume-role-policy-document",
        trust,
    ]);
    let role_arn = text(&role["Role"]["Arn"]).to_owned();
    let read_only = "arn:aws:iam::aws:policy/AWSCodeCommitReadOnly";
    server
        .aws(&["iam", "attach-role-policy", "--role-name", "reader", "--policy-arn", read_only])
        .expect_code(0);
    server.json(&["codecommit", "create-repository", "--repository-name", "app"]);
    let allow = |action: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":{action},"Resource":"*"}}]}}"#
        )
    };
    let list_only = server.json(&[
        "iam",
        "create-policy",
        "--policy-name",
        "list-only",
        "--policy-document",
        &allow(r#""codecommit:ListRepositories""#),
    ]);
    let list_only = text(&list_only["Policy"]["Arn"]).to_owned();

    // A managed session policy that does not exist is refused.
    let assume = |arn: &str| {
        let policy_arns = format!("arn={arn}");
        server.aws_with(
            &dana,
            &[
                "sts",
                "assume-role",
                "--role-arn",
                &role_arn,
                "--role-session-name",
                "narrow",
                "--policy-arns",
                &policy_arns,
            ],
        )
    };
    let missing = "arn:aws:iam::000000000000:policy/nope";
    let refused = assume(missing);
    assert!(refused.stderr.contains("(InvalidParameterValue)"), "{refused:?}");
    assert!(refused.stderr.contains(&format!("Policy {missing} does not exist")), "{refused:?}");

    // The session may list (the role and the session policy allow it) but not read a
    // repository (the role allows it, the session policy does not).
    let assumed = json(&assume(&list_only));
    assert!(assumed["PackedPolicySize"].as_u64().is_some(), "{assumed}");
    let credentials = &assumed["Credentials"];
    let listed =
        json(&aws_with_session(&server, credentials, &["codecommit", "list-repositories"]));
    assert_eq!(listed["repositories"][0]["repositoryName"], "app", "{listed}");
    let get = ["codecommit", "get-repository", "--repository-name", "app"];
    let refused = aws_with_session(&server, credentials, &get);
    assert!(refused.stderr.contains("(AccessDeniedException)"), "{refused:?}");
    assert!(
        refused.stderr.contains(
            "User: arn:aws:sts::000000000000:assumed-role/reader/narrow is not authorized to \
             perform: codecommit:GetRepository on resource: \
             arn:aws:codecommit:us-east-1:000000000000:app because no session policy allows \
             the codecommit:GetRepository action"
        ),
        "{refused:?}"
    );

    // A new default version of the managed policy applies to the session at once.
    server
        .aws(&[
            "iam",
            "create-policy-version",
            "--policy-arn",
            &list_only,
            "--set-as-default",
            "--policy-document",
            &allow(r#"["codecommit:ListRepositories","codecommit:GetRepository"]"#),
        ])
        .expect_code(0);
    let got = json(&aws_with_session(&server, credentials, &get));
    assert_eq!(got["repositoryMetadata"]["repositoryName"], "app", "{got}");
    // What the role does not allow stays refused whatever the session policy says.
    let refused = aws_with_session(
        &server,
        credentials,
        &["codecommit", "create-repository", "--repository-name", "other"],
    );
    assert!(refused.stderr.contains("because no identity-based policy allows"), "{refused:?}");
}
