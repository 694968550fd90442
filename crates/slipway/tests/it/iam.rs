//! The IAM Query API with the real `aws iam` CLI: users, access keys (and signing with a new
//! one, until it is made Inactive), groups, the conflicts that keep a user from being
//! deleted, SSH public keys, CodeCommit git credentials as service-specific credentials
//! that the real `git` clones with, and the policies that decide what a user may do
//! (managed, inline, through groups, explained by the simulator).

use std::path::PathBuf;

use serde_json::Value;

use crate::server::RunningServer;
use crate::support::{GitCredentials, git_command, git_ok, text};
use crate::{Run, Sandbox};

/// `aws iam <args>` as the admin, expected to succeed: its JSON (`Null` when it prints none).
#[track_caller]
fn iam(server: &RunningServer, args: &[&str]) -> Value {
    let mut all = vec!["iam"];
    all.extend_from_slice(args);
    let run = server.aws(&all);
    run.expect_code(0);
    if run.stdout.trim().is_empty() {
        return Value::Null;
    }
    serde_json::from_str(&run.stdout).unwrap_or_else(|err| panic!("{err}: {}", run.stdout))
}

/// `aws iam <args>` as the admin, expected to fail with IAM's error `code`; what it printed.
#[track_caller]
fn iam_refused(server: &RunningServer, args: &[&str], code: &str) -> Run {
    let mut all = vec!["iam"];
    all.extend_from_slice(args);
    let run = server.aws(&all);
    assert!(run.stderr.contains(&format!("({code})")), "{code}: {run:?}");
    run
}

/// A shared-credentials file for a key `aws iam create-access-key` printed.
fn credentials_file(sandbox: &Sandbox, name: &str, created: &Value) -> PathBuf {
    let key = &created["AccessKey"];
    let path = sandbox.path(name);
    std::fs::write(
        &path,
        format!(
            "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            text(&key["AccessKeyId"]),
            text(&key["SecretAccessKey"])
        ),
    )
    .unwrap();
    path
}

#[test]
fn users_and_access_keys_with_the_aws_cli() {
    let sandbox = Sandbox::new();
    let server =
        RunningServer::start_with(&sandbox.path("data"), "127.0.0.1:0", &["--no-local-agent"]);

    let created = iam(
        &server,
        &["create-user", "--user-name", "ada", "--path", "/eng/", "--tags", "Key=team,Value=core"],
    );
    let user = &created["User"];
    assert_eq!(user["Arn"], "arn:aws:iam::000000000000:user/eng/ada", "{created}");
    assert_eq!(user["Path"], "/eng/");
    let user_id = text(&user["UserId"]);
    assert!(user_id.starts_with("AIDA") && user_id.len() == 21, "{user_id}");
    assert!(text(&user["CreateDate"]).ends_with('Z'), "{created}");
    iam_refused(&server, &["create-user", "--user-name", "ada"], "EntityAlreadyExists");

    let got = iam(&server, &["get-user", "--user-name", "ada"]);
    assert_eq!(got["User"]["UserId"], user_id.as_str());
    assert_eq!(got["User"]["Tags"][0]["Key"], "team");
    // Without a name, GetUser is the caller.
    assert_eq!(iam(&server, &["get-user"])["User"]["UserName"], "admin");
    iam_refused(&server, &["get-user", "--user-name", "nobody"], "NoSuchEntity");

    let listed = iam(&server, &["list-users"]);
    let names: Vec<&Value> =
        listed["Users"].as_array().unwrap().iter().map(|u| &u["UserName"]).collect();
    assert_eq!(names, ["ada", "admin"], "{listed}");
    let eng = iam(&server, &["list-users", "--path-prefix", "/eng/"]);
    assert_eq!(eng["Users"].as_array().unwrap().len(), 1, "{eng}");
    // Paging: the CLI follows the markers to the end.
    let paged = iam(&server, &["list-users", "--page-size", "1"]);
    assert_eq!(paged["Users"].as_array().unwrap().len(), 2, "{paged}");

    // A new key signs requests as its user.
    let key = iam(&server, &["create-access-key", "--user-name", "ada"]);
    assert_eq!(key["AccessKey"]["Status"], "Active", "{key}");
    let key_id = text(&key["AccessKey"]["AccessKeyId"]);
    let ada = credentials_file(&sandbox, "ada-credentials", &key);
    let who = server.aws_with(&ada, &["sts", "get-caller-identity"]);
    who.expect_code(0);
    assert!(who.stdout.contains("arn:aws:iam::000000000000:user/eng/ada"), "{}", who.stdout);
    // Ada's own key lists her keys without naming her, once a policy lets her.
    let refused = server.aws_with(&ada, &["iam", "list-access-keys"]);
    assert!(refused.stderr.contains("(AccessDenied)"), "{refused:?}");
    let own_keys = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListAccessKeys","Resource":"arn:aws:iam::000000000000:user/*/${aws:username}"}]}"#;
    let put = ["put-user-policy", "--user-name", "ada", "--policy-name", "own-keys"];
    iam(&server, &[&put[..], &["--policy-document", own_keys]].concat());
    let mine = server.aws_with(&ada, &["iam", "list-access-keys"]);
    mine.expect_code(0);
    assert!(mine.stdout.contains(&key_id), "{}", mine.stdout);

    // Two keys per user at most.
    iam(&server, &["create-access-key", "--user-name", "ada"]);
    iam_refused(&server, &["create-access-key", "--user-name", "ada"], "LimitExceeded");
    let keys = iam(&server, &["list-access-keys", "--user-name", "ada"]);
    assert_eq!(keys["AccessKeyMetadata"].as_array().unwrap().len(), 2, "{keys}");
    let last_used = iam(&server, &["get-access-key-last-used", "--access-key-id", &key_id]);
    assert_eq!(last_used["UserName"], "ada", "{last_used}");

    // An Inactive key is refused at once; Active again, it signs again.
    let deactivate =
        ["update-access-key", "--user-name", "ada", "--access-key-id", &key_id, "--status"];
    iam(&server, &[&deactivate[..], &["Inactive"]].concat());
    let refused = server.aws_with(&ada, &["sts", "get-caller-identity"]);
    assert!(refused.stderr.contains("(InvalidClientTokenId)"), "{refused:?}");
    iam(&server, &[&deactivate[..], &["Active"]].concat());
    server.aws_with(&ada, &["sts", "get-caller-identity"]).expect_code(0);

    // A user with keys cannot be deleted; IAM says what must go first.
    let conflict = iam_refused(&server, &["delete-user", "--user-name", "ada"], "DeleteConflict");
    assert!(conflict.stderr.contains("must delete access keys first"), "{conflict:?}");

    // A rename keeps the id, the keys (which go on signing) and the tags.
    iam(
        &server,
        &["update-user", "--user-name", "ada", "--new-user-name", "ada.l", "--new-path", "/"],
    );
    let renamed = iam(&server, &["get-user", "--user-name", "ada.l"]);
    assert_eq!(renamed["User"]["UserId"], user_id.as_str(), "{renamed}");
    assert_eq!(renamed["User"]["Arn"], "arn:aws:iam::000000000000:user/ada.l");
    let who = server.aws_with(&ada, &["sts", "get-caller-identity"]);
    assert!(who.stdout.contains(":user/ada.l"), "{who:?}");
    iam(&server, &["untag-user", "--user-name", "ada.l", "--tag-keys", "team"]);
    iam(&server, &["tag-user", "--user-name", "ada.l", "--tags", "Key=floor,Value=3"]);
    let tags = iam(&server, &["list-user-tags", "--user-name", "ada.l"]);
    assert_eq!(tags["Tags"], serde_json::json!([{"Key": "floor", "Value": "3"}]), "{tags}");

    // Groups.
    let group = iam(&server, &["create-group", "--group-name", "developers"]);
    assert_eq!(group["Group"]["Arn"], "arn:aws:iam::000000000000:group/developers", "{group}");
    iam(&server, &["add-user-to-group", "--group-name", "developers", "--user-name", "ada.l"]);
    let members = iam(&server, &["get-group", "--group-name", "developers"]);
    assert_eq!(members["Users"][0]["UserName"], "ada.l", "{members}");
    let groups = iam(&server, &["list-groups-for-user", "--user-name", "ada.l"]);
    assert_eq!(groups["Groups"][0]["GroupName"], "developers", "{groups}");
    assert_eq!(iam(&server, &["list-groups"])["Groups"].as_array().unwrap().len(), 1);
    iam_refused(&server, &["delete-group", "--group-name", "developers"], "DeleteConflict");

    // Everything removed, the user can go.
    for key in iam(&server, &["list-access-keys", "--user-name", "ada.l"])["AccessKeyMetadata"]
        .as_array()
        .unwrap()
    {
        let id = text(&key["AccessKeyId"]);
        iam(&server, &["delete-access-key", "--user-name", "ada.l", "--access-key-id", &id]);
    }
    let conflict = iam_refused(&server, &["delete-user", "--user-name", "ada.l"], "DeleteConflict");
    assert!(conflict.stderr.contains("must delete policies first"), "{conflict:?}");
    iam(&server, &["delete-user-policy", "--user-name", "ada.l", "--policy-name", "own-keys"]);
    let conflict = iam_refused(&server, &["delete-user", "--user-name", "ada.l"], "DeleteConflict");
    assert!(conflict.stderr.contains("groups"), "{conflict:?}");
    iam(&server, &["remove-user-from-group", "--group-name", "developers", "--user-name", "ada.l"]);
    // A console password (IAM's login profile) must go first too.
    iam(&server, &["create-login-profile", "--user-name", "ada.l", "--password", "correct horse"]);
    let profile = iam(&server, &["get-login-profile", "--user-name", "ada.l"]);
    assert_eq!(profile["LoginProfile"]["UserName"], "ada.l", "{profile}");
    let conflict = iam_refused(&server, &["delete-user", "--user-name", "ada.l"], "DeleteConflict");
    assert!(conflict.stderr.contains("must delete login profile first"), "{conflict:?}");
    iam(&server, &["delete-login-profile", "--user-name", "ada.l"]);
    iam(&server, &["delete-user", "--user-name", "ada.l"]);
    iam(&server, &["delete-group", "--group-name", "developers"]);
    iam_refused(&server, &["get-user", "--user-name", "ada.l"], "NoSuchEntity");
    let refused = server.aws_with(&ada, &["sts", "get-caller-identity"]);
    assert!(refused.stderr.contains("(InvalidClientTokenId)"), "{refused:?}");
}

#[test]
fn ssh_keys_and_git_credentials_with_the_aws_cli_and_git() {
    let sandbox = Sandbox::new();
    let server =
        RunningServer::start_with(&sandbox.path("data"), "127.0.0.1:0", &["--no-local-agent"]);
    iam(&server, &["create-user", "--user-name", "ada"]);
    // Her git credentials push and clone as she may: CodeCommit's power-user policy.
    let power_user = "arn:aws:iam::aws:policy/AWSCodeCommitPowerUser";
    iam(&server, &["attach-user-policy", "--user-name", "ada", "--policy-arn", power_user]);

    // An OpenSSH key made by ssh-keygen, with the fingerprint `ssh-keygen -E md5` prints.
    let key_file = sandbox.path("id_ed25519");
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "ada@example.com", "-f"])
        .arg(&key_file)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let public = std::fs::read_to_string(key_file.with_extension("pub")).unwrap();
    let listed = std::process::Command::new("ssh-keygen")
        .args(["-l", "-E", "md5", "-f"])
        .arg(key_file.with_extension("pub"))
        .output()
        .unwrap();
    let fingerprint = String::from_utf8_lossy(&listed.stdout)
        .split_whitespace()
        .nth(1)
        .and_then(|it| it.strip_prefix("MD5:"))
        .unwrap()
        .to_owned();
    let uploaded = iam(
        &server,
        &["upload-ssh-public-key", "--user-name", "ada", "--ssh-public-key-body", &public],
    );
    let key = &uploaded["SSHPublicKey"];
    assert_eq!(key["Fingerprint"], fingerprint.as_str(), "{uploaded}");
    assert_eq!(key["Status"], "Active");
    let key_id = text(&key["SSHPublicKeyId"]);
    assert!(key_id.starts_with("APKA") && key_id.len() == 20, "{key_id}");
    iam_refused(
        &server,
        &["upload-ssh-public-key", "--user-name", "ada", "--ssh-public-key-body", &public],
        "DuplicateSSHPublicKey",
    );
    iam_refused(
        &server,
        &["upload-ssh-public-key", "--user-name", "ada", "--ssh-public-key-body", "not a key"],
        "UnrecognizedPublicKeyEncoding",
    );
    let got = iam(
        &server,
        &[
            "get-ssh-public-key",
            "--user-name",
            "ada",
            "--ssh-public-key-id",
            &key_id,
            "--encoding",
            "SSH",
        ],
    );
    let body = text(&got["SSHPublicKey"]["SSHPublicKeyBody"]);
    assert!(public.starts_with(&body), "{body} / {public}");
    let pem = iam(
        &server,
        &[
            "get-ssh-public-key",
            "--user-name",
            "ada",
            "--ssh-public-key-id",
            &key_id,
            "--encoding",
            "PEM",
        ],
    );
    assert!(
        text(&pem["SSHPublicKey"]["SSHPublicKeyBody"]).starts_with("-----BEGIN PUBLIC KEY-----")
    );
    iam(
        &server,
        &[
            "update-ssh-public-key",
            "--user-name",
            "ada",
            "--ssh-public-key-id",
            &key_id,
            "--status",
            "Inactive",
        ],
    );
    let keys = iam(&server, &["list-ssh-public-keys", "--user-name", "ada"]);
    assert_eq!(keys["SSHPublicKeys"][0]["Status"], "Inactive", "{keys}");
    let conflict = iam_refused(&server, &["delete-user", "--user-name", "ada"], "DeleteConflict");
    assert!(conflict.stderr.contains("SSH public keys"), "{conflict:?}");
    iam(&server, &["delete-ssh-public-key", "--user-name", "ada", "--ssh-public-key-id", &key_id]);

    // CodeCommit git credentials, which git pushes and clones with.
    server.aws(&["codecommit", "create-repository", "--repository-name", "web"]).expect_code(0);
    iam_refused(
        &server,
        &[
            "create-service-specific-credential",
            "--user-name",
            "ada",
            "--service-name",
            "s3.amazonaws.com",
        ],
        "NotSupportedService",
    );
    let created = iam(
        &server,
        &[
            "create-service-specific-credential",
            "--user-name",
            "ada",
            "--service-name",
            "codecommit.amazonaws.com",
        ],
    );
    let credential = &created["ServiceSpecificCredential"];
    let id = text(&credential["ServiceSpecificCredentialId"]);
    let git = GitCredentials {
        username: text(&credential["ServiceUserName"]),
        password: text(&credential["ServicePassword"]),
    };
    let work = sandbox.path("work");
    std::fs::create_dir_all(&work).unwrap();
    git_ok(&work, &["init", "-q", "-b", "main"]);
    let commit = crate::support::commit(&work, "README.md", "hello\n", "first");
    git_ok(&work, &["push", "-q", &git.url(&server.endpoint, "web"), "main"]);
    let clone = sandbox.path("clone");
    git_ok(
        &sandbox.source(),
        &["clone", "-q", &git.url(&server.endpoint, "web"), clone.to_str().unwrap()],
    );
    assert_eq!(git_ok(&clone, &["rev-parse", "HEAD"]).stdout.trim(), commit);

    // Listed beside those `slipway git-credentials create` makes.
    crate::support::git_credentials(&sandbox, &server, "ada");
    let listed = iam(&server, &["list-service-specific-credentials", "--user-name", "ada"]);
    assert_eq!(listed["ServiceSpecificCredentials"].as_array().unwrap().len(), 2, "{listed}");
    iam_refused(
        &server,
        &[
            "create-service-specific-credential",
            "--user-name",
            "ada",
            "--service-name",
            "codecommit.amazonaws.com",
        ],
        "LimitExceeded",
    );

    // A reset password replaces the old one; an Inactive credential is refused.
    let reset = iam(
        &server,
        &[
            "reset-service-specific-credential",
            "--user-name",
            "ada",
            "--service-specific-credential-id",
            &id,
        ],
    );
    let new = GitCredentials {
        username: git.username.clone(),
        password: text(&reset["ServiceSpecificCredential"]["ServicePassword"]),
    };
    assert_eq!(reset["ServiceSpecificCredential"]["ServiceSpecificCredentialId"], id.as_str());
    let old_url = git.url(&server.endpoint, "web");
    assert_ne!(
        git_command(&work, &["ls-remote", &old_url]).output().unwrap().status.code(),
        Some(0)
    );
    git_ok(&work, &["ls-remote", &new.url(&server.endpoint, "web")]);
    iam(
        &server,
        &[
            "update-service-specific-credential",
            "--user-name",
            "ada",
            "--service-specific-credential-id",
            &id,
            "--status",
            "Inactive",
        ],
    );
    let new_url = new.url(&server.endpoint, "web");
    assert_ne!(
        git_command(&work, &["ls-remote", &new_url]).output().unwrap().status.code(),
        Some(0)
    );
    iam(
        &server,
        &[
            "delete-service-specific-credential",
            "--user-name",
            "ada",
            "--service-specific-credential-id",
            &id,
        ],
    );
    let listed = iam(&server, &["list-service-specific-credentials", "--user-name", "ada"]);
    assert_eq!(listed["ServiceSpecificCredentials"].as_array().unwrap().len(), 1, "{listed}");
}

/// `aws <args>` with `credentials`, expected to be refused with `AccessDeniedException`;
/// what it printed.
#[track_caller]
fn denied(server: &RunningServer, credentials: &std::path::Path, args: &[&str]) -> String {
    let run = server.aws_with(credentials, args);
    assert!(run.stderr.contains("(AccessDeniedException)"), "{args:?}: {run:?}");
    run.stderr
}

#[test]
fn policies_decide_what_a_user_may_do() {
    let sandbox = Sandbox::new();
    let server =
        RunningServer::start_with(&sandbox.path("data"), "127.0.0.1:0", &["--no-local-agent"]);
    iam(&server, &["create-user", "--user-name", "carol"]);
    let key = iam(&server, &["create-access-key", "--user-name", "carol"]);
    let carol = credentials_file(&sandbox, "carol-credentials", &key);
    let arn = "arn:aws:iam::000000000000:user/carol";

    // A new user may do nothing, and is told so as AWS tells it.
    let refused = denied(&server, &carol, &["codebuild", "list-projects"]);
    assert!(
        refused.contains(&format!(
            "User: {arn} is not authorized to perform: codebuild:ListProjects on resource: * \
             because no identity-based policy allows the codebuild:ListProjects action"
        )),
        "{refused}"
    );
    // AWSCodeBuildReadOnlyAccess: reading, at once, but not creating.
    let read_only = "arn:aws:iam::aws:policy/AWSCodeBuildReadOnlyAccess";
    iam(&server, &["attach-user-policy", "--user-name", "carol", "--policy-arn", read_only]);
    server.aws_with(&carol, &["codebuild", "list-projects"]).expect_code(0);
    let project = [
        "codebuild",
        "create-project",
        "--name",
        "web",
        "--source",
        "type=NO_SOURCE,buildspec=x",
        "--artifacts",
        "type=NO_ARTIFACTS",
        "--environment",
        "type=LINUX_CONTAINER,image=i,computeType=BUILD_GENERAL1_SMALL",
        "--service-role",
        "r",
    ];
    let refused = denied(&server, &carol, &project);
    assert!(refused.contains("codebuild:CreateProject on resource: arn:aws:codebuild:us-east-1:000000000000:project/web"), "{refused}");
    let attached = iam(&server, &["list-attached-user-policies", "--user-name", "carol"]);
    assert_eq!(attached["AttachedPolicies"][0]["PolicyName"], "AWSCodeBuildReadOnlyAccess");

    // A group with AWSCodeCommitPowerUser gives its members CodeCommit.
    denied(&server, &carol, &["codecommit", "list-repositories"]);
    iam(&server, &["create-group", "--group-name", "devs"]);
    let power_user = "arn:aws:iam::aws:policy/AWSCodeCommitPowerUser";
    iam(&server, &["attach-group-policy", "--group-name", "devs", "--policy-arn", power_user]);
    iam(&server, &["add-user-to-group", "--group-name", "devs", "--user-name", "carol"]);
    server
        .aws_with(&carol, &["codecommit", "create-repository", "--repository-name", "app"])
        .expect_code(0);
    server.aws_with(&carol, &["codecommit", "list-repositories"]).expect_code(0);
    let entities = iam(&server, &["list-entities-for-policy", "--policy-arn", power_user]);
    assert_eq!(entities["PolicyGroups"][0]["GroupName"], "devs", "{entities}");

    // A Deny inline policy beats the allow.
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Sid":"NoListing","Effect":"Deny","Action":"codecommit:ListRepositories","Resource":"*"}]}"#;
    let put = ["put-user-policy", "--user-name", "carol", "--policy-name", "no-list"];
    iam(&server, &[&put[..], &["--policy-document", deny]].concat());
    let refused = denied(&server, &carol, &["codecommit", "list-repositories"]);
    assert!(refused.contains("with an explicit deny in an identity-based policy"), "{refused}");
    let inline =
        iam(&server, &["get-user-policy", "--user-name", "carol", "--policy-name", "no-list"]);
    assert_eq!(inline["PolicyDocument"]["Statement"][0]["Sid"], "NoListing", "{inline}");

    // The simulator says why.
    let simulated = iam(
        &server,
        &[
            "simulate-principal-policy",
            "--policy-source-arn",
            arn,
            "--action-names",
            "codecommit:ListRepositories",
            "codebuild:CreateProject",
            "codecommit:GetRepository",
        ],
    );
    let results = simulated["EvaluationResults"].as_array().unwrap();
    let decisions: Vec<&str> =
        results.iter().map(|it| it["EvalDecision"].as_str().unwrap()).collect();
    assert_eq!(decisions, ["explicitDeny", "implicitDeny", "allowed"], "{simulated}");
    assert_eq!(results[0]["MatchedStatements"][0]["SourcePolicyId"], "no-list", "{simulated}");
    // GetRepository: both the user's policy and the group's allow it.
    let sources: Vec<&str> = results[2]["MatchedStatements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|it| it["SourcePolicyId"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["AWSCodeBuildReadOnlyAccess", "AWSCodeCommitPowerUser"], "{simulated}");
    assert_eq!(results[2]["MatchedStatements"][1]["SourcePolicyType"], "aws-managed");
    let custom = iam(
        &server,
        &[
            "simulate-custom-policy",
            "--policy-input-list",
            deny,
            "--action-names",
            "codecommit:ListRepositories",
        ],
    );
    assert_eq!(custom["EvaluationResults"][0]["EvalDecision"], "explicitDeny", "{custom}");

    // Customer-managed policies, with their versions.
    let broken = iam_refused(
        &server,
        &[
            "create-policy",
            "--policy-name",
            "bad",
            "--policy-document",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*"}]}"#,
        ],
        "MalformedPolicyDocument",
    );
    assert!(broken.stderr.contains("Policy statement must contain resources."), "{broken:?}");
    let allow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"codebuild:CreateProject","Resource":"*"}]}"#;
    let created = iam(
        &server,
        &["create-policy", "--policy-name", "make-projects", "--policy-document", allow],
    );
    let policy_arn = text(&created["Policy"]["Arn"]);
    assert_eq!(policy_arn, "arn:aws:iam::000000000000:policy/make-projects");
    let version =
        iam(&server, &["get-policy-version", "--policy-arn", &policy_arn, "--version-id", "v1"]);
    assert_eq!(
        version["PolicyVersion"]["Document"]["Statement"][0]["Action"], "codebuild:CreateProject",
        "{version}"
    );
    iam(&server, &["attach-user-policy", "--user-name", "carol", "--policy-arn", &policy_arn]);
    server.aws_with(&carol, &project).expect_code(0);
    let listed = iam(&server, &["list-policies", "--scope", "Local"]);
    assert_eq!(listed["Policies"][0]["AttachmentCount"], 1, "{listed}");
    iam_refused(&server, &["delete-policy", "--policy-arn", &policy_arn], "DeleteConflict");

    // Roles.
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"codebuild.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let role = iam(
        &server,
        &["create-role", "--role-name", "builds", "--assume-role-policy-document", trust],
    );
    assert!(text(&role["Role"]["RoleId"]).starts_with("AROA"), "{role}");
    assert_eq!(
        role["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"],
        "codebuild.amazonaws.com"
    );
    iam(&server, &["attach-role-policy", "--role-name", "builds", "--policy-arn", read_only]);
    iam_refused(&server, &["delete-role", "--role-name", "builds"], "DeleteConflict");
    let details = iam(&server, &["get-account-authorization-details"]);
    assert!(
        details["RoleDetailList"][0]["AttachedManagedPolicies"][0]["PolicyName"]
            == "AWSCodeBuildReadOnlyAccess",
        "{details}"
    );
    assert!(
        details["UserDetailList"].as_array().unwrap().iter().any(|it| it["UserName"] == "carol"),
        "{details}"
    );
    iam(&server, &["detach-role-policy", "--role-name", "builds", "--policy-arn", read_only]);
    iam(&server, &["delete-role", "--role-name", "builds"]);

    // The admin, made first, has AdministratorAccess.
    let admin = iam(&server, &["list-attached-user-policies", "--user-name", "admin"]);
    assert_eq!(admin["AttachedPolicies"][0]["PolicyName"], "AdministratorAccess", "{admin}");
}
