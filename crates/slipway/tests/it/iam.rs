//! The IAM Query API with the real `aws iam` CLI: users, access keys (and signing with a new
//! one, until it is made Inactive), groups, the conflicts that keep a user from being
//! deleted, SSH public keys, and CodeCommit git credentials as service-specific credentials
//! that the real `git` clones with.

use std::path::PathBuf;

use serde_json::Value;

use crate::server::RunningServer;
use crate::support::text;
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
    // Ada's own key lists her keys without naming her.
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
    assert!(conflict.stderr.contains("groups"), "{conflict:?}");
    iam(&server, &["remove-user-from-group", "--group-name", "developers", "--user-name", "ada.l"]);
    iam(&server, &["delete-user", "--user-name", "ada.l"]);
    iam(&server, &["delete-group", "--group-name", "developers"]);
    iam_refused(&server, &["get-user", "--user-name", "ada.l"], "NoSuchEntity");
    let refused = server.aws_with(&ada, &["sts", "get-caller-identity"]);
    assert!(refused.stderr.contains("(InvalidClientTokenId)"), "{refused:?}");
}
