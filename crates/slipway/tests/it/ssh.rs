//! Git over SSH (`slipway server --ssh-listen`) with the real `ssh`, `ssh-keygen`, `git` and
//! `aws iam upload-ssh-public-key`: a clone and a push that starts a webhook build as the
//! key's user, `cloneUrlSsh`, and the refusals (a key that is not the id's, an Inactive key,
//! a command that is not git's); and issue 10's scenario end to end (a developer given
//! AWSCodeCommitPowerUser through a group, refused on `main` by a deny policy, all of it
//! found with `aws cloudtrail lookup-events`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::server::RunningServer;
use crate::support::{commit, git_command, git_ok, text};
use crate::{Run, Sandbox};

/// A server with git over SSH on a free port (and the embedded agent, for webhook builds).
fn ssh_server(sandbox: &Sandbox) -> (RunningServer, String) {
    let server = RunningServer::start_with(
        &sandbox.path("data"),
        "127.0.0.1:0",
        &["--ssh-listen", "127.0.0.1:0"],
    );
    let address = server.ssh.clone().expect("the server says where git over SSH listens");
    (server, address)
}

/// A new ed25519 key pair in the sandbox: the private key's path and the public key's line.
fn key_pair(sandbox: &Sandbox, name: &str) -> (PathBuf, String) {
    let path = sandbox.path(name);
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let public = std::fs::read_to_string(path.with_extension("pub")).unwrap();
    (path, public.trim().to_owned())
}

/// Uploads `public` as an SSH key of `user`: its id, the SSH user name.
fn upload(server: &RunningServer, user: &str, public: &str) -> String {
    let run = server.aws(&[
        "iam",
        "upload-ssh-public-key",
        "--user-name",
        user,
        "--ssh-public-key-body",
        public,
    ]);
    run.expect_code(0);
    let uploaded: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    text(&uploaded["SSHPublicKey"]["SSHPublicKeyId"])
}

/// The ssh command line git runs (`GIT_SSH_COMMAND`): only this key, no configuration, no
/// known hosts, no prompts.
fn ssh_command(key: &Path) -> String {
    format!(
        "ssh -F /dev/null -i {} -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes \
         -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
        key.display()
    )
}

/// `git <args>` in `dir` over SSH with `key`.
fn git_ssh(dir: &Path, key: &Path, args: &[&str]) -> Run {
    let mut command = git_command(dir, args);
    command.env("GIT_SSH_COMMAND", ssh_command(key)).env_remove("SSH_AUTH_SOCK");
    Run::from(command.output().unwrap())
}

/// `ssh … <command>` to the server as `user` with `key`.
fn ssh_exec(address: &str, user: &str, key: &Path, command: &str) -> Run {
    let (host, port) = address.rsplit_once(':').unwrap();
    let line = format!("{} -p {port} {user}@{host} {command}", ssh_command(key));
    let output = Command::new("sh")
        .args(["-c", &line])
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Run::from(output)
}

fn url(address: &str, user: &str, repository: &str) -> String {
    format!("ssh://{user}@{address}/v1/repos/{repository}")
}

#[test]
fn a_clone_and_a_push_over_ssh_with_an_iam_ssh_key_start_the_webhook_build() {
    let sandbox = Sandbox::new();
    let (server, address) = ssh_server(&sandbox);
    server.aws(&["iam", "create-user", "--user-name", "ada"]).expect_code(0);
    let power_user = "arn:aws:iam::aws:policy/AWSCodeCommitPowerUser";
    let attach = ["iam", "attach-user-policy", "--user-name", "ada", "--policy-arn", power_user];
    server.aws(&attach).expect_code(0);
    let (key, public) = key_pair(&sandbox, "ada_key");
    let id = upload(&server, "ada", &public);
    let created = server.json(&["codecommit", "create-repository", "--repository-name", "r"]);
    let port = address.rsplit_once(':').unwrap().1;
    assert_eq!(
        created["repositoryMetadata"]["cloneUrlSsh"],
        format!("ssh://127.0.0.1:{port}/v1/repos/r").as_str(),
        "{created}"
    );
    let source =
        json!({ "type": "CODECOMMIT", "location": format!("{}/v1/repos/r", server.endpoint) });
    server.create_project("app", &source.to_string());
    let groups = json!([[{ "type": "EVENT", "pattern": "PUSH" }]]).to_string();
    server.json(&[
        "codebuild",
        "create-webhook",
        "--project-name",
        "app",
        "--filter-groups",
        &groups,
    ]);

    let work = sandbox.path("work");
    std::fs::create_dir_all(&work).unwrap();
    git_ok(&work, &["init", "-q", "-b", "main"]);
    let buildspec = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo \"actor=$CODEBUILD_WEBHOOK_ACTOR_ACCOUNT_ID\"\n";
    let pushed = commit(&work, "buildspec.yml", buildspec, "first");
    let push = git_ssh(&work, &key, &["push", "-q", &url(&address, &id, "r"), "main"]);
    push.expect_code(0);

    // The push recorded its ref event, and the webhook built it as the key's user.
    let deadline = Instant::now() + Duration::from_secs(60);
    let build = loop {
        let ids = server.json(&["codebuild", "list-builds-for-project", "--project-name", "app"]);
        if let Some(id) = ids["ids"][0].as_str() {
            break id.to_owned();
        }
        assert!(Instant::now() < deadline, "the push over SSH started no build");
        std::thread::sleep(Duration::from_millis(100));
    };
    let built = crate::server::wait_for_build(&server, &build);
    assert_eq!(built["buildStatus"], "SUCCEEDED", "{built}");
    assert_eq!(built["resolvedSourceVersion"], pushed.as_str());
    assert!(crate::server::log(&server, &build).contains("actor=ada"));

    // A clone over SSH, protocol v2 (git asks for it with SendEnv) and the default one.
    let clone = sandbox.path("clone");
    let cloned = git_ssh(
        sandbox.dir.path(),
        &key,
        &["clone", "-q", &url(&address, &id, "r"), clone.to_str().unwrap()],
    );
    cloned.expect_code(0);
    assert_eq!(git_ok(&clone, &["rev-parse", "HEAD"]).stdout.trim(), pushed);
    let v0 = sandbox.path("clone-v0");
    let old = git_ssh(
        sandbox.dir.path(),
        &key,
        &[
            "-c",
            "protocol.version=0",
            "clone",
            "-q",
            &url(&address, &id, "r"),
            v0.to_str().unwrap(),
        ],
    );
    old.expect_code(0);
    assert_eq!(git_ok(&v0, &["rev-parse", "HEAD"]).stdout.trim(), pushed);
    // A second push from the clone fast-forwards main.
    let second = commit(&clone, "README", "hello\n", "second");
    git_ssh(&clone, &key, &["push", "-q", "origin", "main"]).expect_code(0);
    let branch = server.json(&[
        "codecommit",
        "get-branch",
        "--repository-name",
        "r",
        "--branch-name",
        "main",
    ]);
    assert_eq!(branch["branch"]["commitId"], second.as_str());

    // 16 MiB that do not compress stream through both ways under the channel's flow control.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let noise: Vec<u8> = (0..16 << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect();
    std::fs::write(clone.join("noise.bin"), &noise).unwrap();
    git_ok(&clone, &["add", "noise.bin"]);
    git_ok(&clone, &["commit", "-q", "-m", "noise"]);
    let large = git_ok(&clone, &["rev-parse", "HEAD"]).stdout.trim().to_owned();
    git_ssh(&clone, &key, &["push", "-q", "origin", "main"]).expect_code(0);
    git_ssh(&v0, &key, &["pull", "-q", "--ff-only", "origin", "main"]).expect_code(0);
    assert_eq!(git_ok(&v0, &["rev-parse", "HEAD"]).stdout.trim(), large);
    assert_eq!(std::fs::read(v0.join("noise.bin")).unwrap(), noise);

    // A deny on `main` (CodeCommit's documented policy, `codecommit:References`) refuses a
    // push to main over SSH before git has it; a feature branch still goes.
    let deny = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Deny",
            "Action": ["codecommit:GitPush"],
            "Resource": "*",
            "Condition": {
                "StringEqualsIfExists": { "codecommit:References": ["refs/heads/main"] },
                "Null": { "codecommit:References": "false" }
            }
        }]
    })
    .to_string();
    server
        .aws(&[
            "iam",
            "put-user-policy",
            "--user-name",
            "ada",
            "--policy-name",
            "no-main",
            "--policy-document",
            &deny,
        ])
        .expect_code(0);
    let before = git_ok(&clone, &["rev-parse", "HEAD"]).stdout.trim().to_owned();
    commit(&clone, "README", "refused\n", "to main");
    let refused = git_ssh(&clone, &key, &["push", "-q", "origin", "main"]);
    assert_ne!(refused.code, Some(0), "{refused:?}");
    assert!(refused.stderr.contains("with an explicit deny"), "{}", refused.stderr);
    let branch = server.json(&[
        "codecommit",
        "get-branch",
        "--repository-name",
        "r",
        "--branch-name",
        "main",
    ]);
    assert_eq!(branch["branch"]["commitId"], before.as_str(), "main did not move");
    git_ssh(&clone, &key, &["push", "-q", "origin", "HEAD:refs/heads/feature"]).expect_code(0);

    // The audit trail has the SSH pushes, the refused one with AWS's refusal, from 127.0.0.1.
    let attribute = "AttributeKey=EventName,AttributeValue=GitPush";
    let events = server.json(&["cloudtrail", "lookup-events", "--lookup-attributes", attribute]);
    let records: Vec<serde_json::Value> = events["Events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|it| serde_json::from_str(it["CloudTrailEvent"].as_str().unwrap()).unwrap())
        .filter(|it: &serde_json::Value| it["userAgent"] == "git over SSH")
        .collect();
    let refused: Vec<&serde_json::Value> =
        records.iter().filter(|it| it["errorCode"] == "AccessDenied").collect();
    assert_eq!(refused.len(), 1, "{records:?}");
    assert!(refused[0]["errorMessage"].as_str().unwrap().contains("with an explicit deny"));
    assert_eq!(refused[0]["userIdentity"]["userName"], "ada");
    assert_eq!(refused[0]["sourceIPAddress"], "127.0.0.1");
    assert!(records.iter().filter(|it| it["errorCode"].is_null()).count() >= 4, "{records:?}");
}

#[test]
fn ssh_refuses_another_key_an_inactive_key_and_commands_other_than_git() {
    let sandbox = Sandbox::new();
    let (server, address) = ssh_server(&sandbox);
    server.aws(&["iam", "create-user", "--user-name", "ada"]).expect_code(0);
    let power_user = "arn:aws:iam::aws:policy/AWSCodeCommitPowerUser";
    let attach = ["iam", "attach-user-policy", "--user-name", "ada", "--policy-arn", power_user];
    server.aws(&attach).expect_code(0);
    let (key, public) = key_pair(&sandbox, "ada_key");
    let (stranger, _) = key_pair(&sandbox, "stranger_key");
    let id = upload(&server, "ada", &public);
    server.json(&["codecommit", "create-repository", "--repository-name", "r"]);
    let denied = "Permission denied (publickey)";

    // Signed in, but not git: refused on stderr with exit status 1.
    let ls = ssh_exec(&address, &id, &key, "ls");
    assert_eq!(ls.code, Some(1), "{ls:?}");
    assert!(ls.stderr.contains("Slipway serves git over SSH only"), "{ls:?}");
    let shell = ssh_exec(&address, &id, &key, "");
    assert_eq!(shell.code, Some(1), "{shell:?}");
    assert!(shell.stderr.contains("Interactive shells are not supported"), "{shell:?}");
    let missing = ssh_exec(&address, &id, &key, "git-upload-pack \"'/v1/repos/nope'\"");
    assert_eq!(missing.code, Some(1), "{missing:?}");
    assert!(missing.stderr.contains("repository nope does not exist"), "{missing:?}");

    // A key that is not the id's, and an unknown id, are refused alike.
    let other = sandbox.path("other");
    let wrong = git_ssh(
        sandbox.dir.path(),
        &stranger,
        &["clone", &url(&address, &id, "r"), other.to_str().unwrap()],
    );
    assert_ne!(wrong.code, Some(0));
    assert!(wrong.stderr.contains(denied), "{wrong:?}");
    let unknown = ssh_exec(&address, "APKAAAAAAAAAAAAAAAAA", &key, "git-upload-pack '/v1/repos/r'");
    assert_eq!(unknown.code, Some(255), "{unknown:?}");
    assert!(unknown.stderr.contains(denied), "{unknown:?}");

    // The key works until it is made Inactive; branch protection holds over SSH too.
    let clone = sandbox.path("clone");
    git_ssh(
        sandbox.dir.path(),
        &key,
        &["clone", "-q", &url(&address, &id, "r"), clone.to_str().unwrap()],
    )
    .expect_code(0);
    let data = server.data_dir.to_str().unwrap().to_owned();
    let rule = ["branch-protection", "set", "r", "main", "--push", "admin", "--data-dir", &data];
    Run::from(sandbox.slipway(&rule).output().unwrap()).expect_code(0);
    commit(&clone, "file", "ada\n", "ada's");
    let protected = git_ssh(&clone, &key, &["push", "origin", "HEAD:main"]);
    assert_ne!(protected.code, Some(0), "{protected:?}");
    assert!(protected.stderr.contains("[remote rejected]"), "{protected:?}");
    assert!(
        protected.stderr.contains("user/ada is not authorized to perform: codecommit:GitPush"),
        "{protected:?}"
    );
    assert!(protected.stderr.contains("with an explicit deny"), "{protected:?}");
    git_ssh(&clone, &key, &["push", "-q", "origin", "HEAD:feature"]).expect_code(0);
    server
        .aws(&[
            "iam",
            "update-ssh-public-key",
            "--user-name",
            "ada",
            "--ssh-public-key-id",
            &id,
            "--status",
            "Inactive",
        ])
        .expect_code(0);
    let inactive = git_ssh(&clone, &key, &["fetch", "origin"]);
    assert_ne!(inactive.code, Some(0));
    assert!(inactive.stderr.contains(denied), "{inactive:?}");
}

/// The records of `aws cloudtrail lookup-events` for the events named `name`, newest first.
fn trail(server: &RunningServer, name: &str) -> Vec<serde_json::Value> {
    let attribute = format!("AttributeKey=EventName,AttributeValue={name}");
    let events = server.json(&["cloudtrail", "lookup-events", "--lookup-attributes", &attribute]);
    events["Events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|it| serde_json::from_str(it["CloudTrailEvent"].as_str().unwrap()).unwrap())
        .collect()
}

#[test]
fn a_developer_in_a_group_pushes_a_feature_over_ssh_is_refused_main_and_it_is_all_in_the_trail() {
    let sandbox = Sandbox::new();
    let (server, address) = ssh_server(&sandbox);
    server.json(&["codecommit", "create-repository", "--repository-name", "shop"]);
    // A user, a group with AWSCodeCommitPowerUser, the user in it; a deny of writes to main.
    server.aws(&["iam", "create-user", "--user-name", "dev"]).expect_code(0);
    server.aws(&["iam", "create-group", "--group-name", "developers"]).expect_code(0);
    let power_user = "arn:aws:iam::aws:policy/AWSCodeCommitPowerUser";
    server
        .aws(&[
            "iam",
            "attach-group-policy",
            "--group-name",
            "developers",
            "--policy-arn",
            power_user,
        ])
        .expect_code(0);
    server
        .aws(&["iam", "add-user-to-group", "--group-name", "developers", "--user-name", "dev"])
        .expect_code(0);
    let protect_main = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Deny",
            "Action": ["codecommit:GitPush", "codecommit:PutFile", "codecommit:DeleteBranch"],
            "Resource": "*",
            "Condition": {
                "StringEqualsIfExists": { "codecommit:References": ["refs/heads/main"] },
                "Null": { "codecommit:References": "false" }
            }
        }]
    })
    .to_string();
    let policy = server.json(&[
        "iam",
        "create-policy",
        "--policy-name",
        "protect-main",
        "--policy-document",
        &protect_main,
    ]);
    let policy_arn = text(&policy["Policy"]["Arn"]);
    server
        .aws(&[
            "iam",
            "attach-group-policy",
            "--group-name",
            "developers",
            "--policy-arn",
            &policy_arn,
        ])
        .expect_code(0);
    // The developer's own access key says who they are (STS), and their SSH key signs them in.
    let key = server.json(&["iam", "create-access-key", "--user-name", "dev"]);
    let credentials = sandbox.path("dev-credentials");
    std::fs::write(
        &credentials,
        format!(
            "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            text(&key["AccessKey"]["AccessKeyId"]),
            text(&key["AccessKey"]["SecretAccessKey"])
        ),
    )
    .unwrap();
    let who = server.aws_with(&credentials, &["sts", "get-caller-identity"]);
    who.expect_code(0);
    assert!(who.stdout.contains("arn:aws:iam::000000000000:user/dev"), "{who:?}");
    let (ssh_key, public) = key_pair(&sandbox, "dev_key");
    let id = upload(&server, "dev", &public);

    // Clone over SSH, a feature branch is accepted, main is refused and does not move.
    let work = sandbox.path("work");
    git_ssh(
        sandbox.dir.path(),
        &ssh_key,
        &["clone", "-q", &url(&address, &id, "shop"), work.to_str().unwrap()],
    )
    .expect_code(0);
    git_ok(&work, &["checkout", "-q", "-b", "feature"]);
    let feature = commit(&work, "README", "a feature\n", "feature");
    git_ssh(&work, &ssh_key, &["push", "-q", "origin", "feature"]).expect_code(0);
    let refused = git_ssh(&work, &ssh_key, &["push", "-q", "origin", "feature:main"]);
    assert_ne!(refused.code, Some(0), "{refused:?}");
    assert!(refused.stderr.contains("with an explicit deny"), "{}", refused.stderr);
    let get = |branch: &str| {
        let args =
            ["codecommit", "get-branch", "--repository-name", "shop", "--branch-name", branch];
        server.aws(&args)
    };
    let pushed: serde_json::Value = serde_json::from_str(&get("feature").stdout).unwrap();
    assert_eq!(pushed["branch"]["commitId"], feature.as_str());
    let main = get("main");
    assert!(main.stderr.contains("BranchDoesNotExistException"), "main never moved: {main:?}");

    // All of it is in the audit trail.
    for (name, user) in
        [("CreateUser", "admin"), ("CreateGroup", "admin"), ("AddUserToGroup", "admin")]
    {
        let records = trail(&server, name);
        assert_eq!(records.len(), 1, "{name}: {records:?}");
        assert_eq!(records[0]["userIdentity"]["userName"], user, "{}", records[0]);
        assert!(records[0]["errorCode"].is_null(), "{}", records[0]);
    }
    let added = &trail(&server, "AddUserToGroup")[0];
    assert_eq!(added["requestParameters"]["GroupName"], "developers", "{added}");
    let pulls = trail(&server, "GitPull");
    assert!(
        pulls.iter().any(|it| it["userIdentity"]["userName"] == "dev" && it["errorCode"].is_null()),
        "{pulls:?}"
    );
    // By the user's unique id, as GetUser names it.
    let dev = server.json(&["iam", "get-user", "--user-name", "dev"]);
    let pull = pulls.iter().find(|it| it["userIdentity"]["userName"] == "dev").unwrap();
    assert_eq!(pull["userIdentity"]["principalId"], dev["User"]["UserId"], "{pull}");
    let pushes: Vec<serde_json::Value> = trail(&server, "GitPush")
        .into_iter()
        .filter(|it| it["userIdentity"]["userName"] == "dev")
        .collect();
    assert_eq!(pushes.len(), 2, "{pushes:?}");
    // Newest first: the refusal, then the feature branch.
    assert_eq!(pushes[0]["errorCode"], "AccessDenied", "{}", pushes[0]);
    let message = pushes[0]["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("codecommit:GitPush") && message.contains("with an explicit deny"),
        "{message}"
    );
    assert_eq!(pushes[0]["sourceIPAddress"], "127.0.0.1");
    assert!(pushes[1]["errorCode"].is_null(), "{}", pushes[1]);
    assert_eq!(pushes[1]["requestParameters"]["repositoryName"], "shop");
}
