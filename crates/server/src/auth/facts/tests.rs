//! The facts of every operation the server routes (the CodeBuild and CodeCommit tables, SSM
//! and Secrets Manager) and of git: an action of the catalog, a resource, and a snapshot of
//! what a sample input of each asks; then the cases that need a closer look (builds name
//! their projects, reports their groups, parameters with and without `/`, secrets by ARN,
//! `codecommit:References`).

use serde_json::{Value, json};

use super::*;

const PLACE: Place<'static> = Place { region: "us-east-1", account: "000000000000" };

/// The operations a dispatch table routes: its `"Operation" =>` arms (`"A" | "B" =>` too).
fn routed(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in source.lines() {
        let line = line.trim();
        let Some((arms, _)) = line.split_once(" =>") else { continue };
        if !arms.starts_with('"') {
            continue;
        }
        for arm in arms.split(" | ") {
            if let Some(name) = arm.strip_prefix('"').and_then(|it| it.strip_suffix('"')) {
                out.push(name.to_owned());
            }
        }
    }
    out
}

/// Every routed operation, by service.
fn operations() -> Vec<(&'static str, String)> {
    let secrets = include_str!("../../../../iam/src/secrets_store.rs");
    let (ssm, secrets_manager) =
        secrets.split_once("pub async fn secrets_manager").expect("the two dispatches");
    let ssm = ssm.split_once("pub async fn ssm").expect("the SSM dispatch").1;
    let mut out = Vec::new();
    for (service, source) in [
        ("codebuild", include_str!("../../aws/codebuild.rs")),
        ("codecommit", include_str!("../../aws/codecommit.rs")),
        ("ssm", ssm),
        ("secretsmanager", secrets_manager),
    ] {
        let mut names = routed(source);
        names.sort();
        names.dedup();
        assert!(names.len() >= 3, "no operations found for {service}");
        out.extend(names.into_iter().map(|name| (service, name)));
    }
    out
}

const BUILD_ARN: &str = "arn:aws:codebuild:us-east-1:000000000000:build/api:2";
const GROUP_ARN: &str = "arn:aws:codebuild:us-east-1:000000000000:report-group/tests";
const REPORT_ARN: &str = "arn:aws:codebuild:us-east-1:000000000000:report/tests:1234";
const SECRET_ARN: &str = "arn:aws:secretsmanager:us-east-1:000000000000:secret:db";

/// A sample input of each operation.
fn sample(service: &str, operation: &str) -> Value {
    match (service, operation) {
        ("codebuild", "StartBuild") => json!({
            "projectName": "web",
            "buildspecOverride": "version: 0.2",
            "imageOverride": "aws/codebuild/standard:7.0",
            "privilegedModeOverride": false,
            "environmentVariablesOverride": [
                { "name": "STAGE", "value": "prod", "type": "PLAINTEXT" },
            ],
        }),
        ("codebuild", "StopBuild" | "RetryBuild") => json!({ "id": "web:1" }),
        ("codebuild", "BatchGetBuilds" | "BatchDeleteBuilds") => {
            json!({ "ids": ["web:1", BUILD_ARN, "web:3"] })
        }
        ("codebuild", "ListBuildsForProject" | "DeleteWebhook") => json!({ "projectName": "web" }),
        ("codebuild", "CreateWebhook" | "UpdateWebhook") => {
            json!({ "projectName": "web", "buildType": "BUILD", "manualCreation": false })
        }
        ("codebuild", "CreateReportGroup") => json!({
            "name": "tests",
            "type": "TEST",
            "exportConfig": { "exportConfigType": "NO_EXPORT" },
            "tags": [{ "key": "team", "value": "qa" }],
        }),
        ("codebuild", "BatchGetReportGroups") => json!({ "reportGroupArns": [GROUP_ARN] }),
        ("codebuild", "ListReportsForReportGroup") => json!({ "reportGroupArn": GROUP_ARN }),
        ("codebuild", "BatchGetReports") => json!({
            "reportArns": [REPORT_ARN, "arn:aws:codebuild:us-east-1:000000000000:report/lint:5"],
        }),
        ("codebuild", "DescribeTestCases") => json!({ "reportArn": REPORT_ARN }),
        ("codebuild", "CreateProject") => json!({
            "name": "web",
            "source": { "type": "CODECOMMIT", "location": "http://h/v1/repos/app" },
            "artifacts": { "type": "NO_ARTIFACTS" },
            "environment": {
                "type": "LINUX_CONTAINER",
                "image": "aws/codebuild/standard:7.0",
                "computeType": "BUILD_GENERAL1_SMALL",
                "environmentVariables": [{ "name": "A", "value": "1" }],
            },
            "serviceRole": "arn:aws:iam::000000000000:role/build",
            "tags": [{ "key": "team", "value": "web" }],
        }),
        ("codebuild", "UpdateProject") => {
            json!({ "name": "web", "environment": { "privilegedMode": true } })
        }
        ("codebuild", "DeleteProject") => json!({ "name": "web" }),
        ("codebuild", "BatchGetProjects") => {
            json!({ "names": ["web", "arn:aws:codebuild:us-east-1:000000000000:project/api"] })
        }
        ("codebuild", _) => json!({}),
        ("codecommit", "CreateRepository") => {
            json!({ "repositoryName": "app", "tags": { "team": "web" } })
        }
        ("codecommit", "BatchGetRepositories") => json!({ "repositoryNames": ["app", "lib"] }),
        ("codecommit", "ListRepositories" | "ListApprovalRuleTemplates") => json!({}),
        ("codecommit", "UpdateRepositoryName") => json!({ "oldName": "app", "newName": "web" }),
        ("codecommit", "UpdateDefaultBranch") => {
            json!({ "repositoryName": "app", "defaultBranchName": "main" })
        }
        ("codecommit", "CreateBranch") => {
            json!({ "repositoryName": "app", "branchName": "feature", "commitId": "abc" })
        }
        ("codecommit", "DeleteBranch" | "GetBranch") => {
            json!({ "repositoryName": "app", "branchName": "main" })
        }
        ("codecommit", "PutFile") => json!({
            "repositoryName": "app", "branchName": "main", "fileContent": "aGk=", "filePath": "a",
        }),
        ("codecommit", "CreateCommit") => {
            json!({ "repositoryName": "app", "branchName": "refs/heads/release" })
        }
        ("codecommit", "CreatePullRequest") => json!({
            "title": "x",
            "targets": [{
                "repositoryName": "app", "sourceReference": "feature", "destinationReference": "main",
            }],
        }),
        ("codecommit", "BatchAssociateApprovalRuleTemplateWithRepositories")
        | ("codecommit", "BatchDisassociateApprovalRuleTemplateFromRepositories") => {
            json!({ "approvalRuleTemplateName": "t", "repositoryNames": ["app", "lib"] })
        }
        ("codecommit", "AssociateApprovalRuleTemplateWithRepository")
        | ("codecommit", "DisassociateApprovalRuleTemplateFromRepository")
        | ("codecommit", "ListAssociatedApprovalRuleTemplatesForRepository") => {
            json!({ "approvalRuleTemplateName": "t", "repositoryName": "app" })
        }
        ("codecommit", operation) if operation.contains("ApprovalRuleTemplate") => {
            json!({ "approvalRuleTemplateName": "t" })
        }
        ("codecommit", operation) if operation.starts_with("MergePullRequestBy") => {
            json!({ "pullRequestId": "7", "repositoryName": "app" })
        }
        ("codecommit", "PostCommentForPullRequest") => {
            json!({ "pullRequestId": "7", "repositoryName": "app", "content": "hi" })
        }
        ("codecommit", operation)
            if operation.contains("PullRequest") && operation != "ListPullRequests" =>
        {
            json!({ "pullRequestId": "7" })
        }
        ("codecommit", _) => json!({ "repositoryName": "app" }),
        ("ssm", "PutParameter") => json!({
            "Name": "/prod/db", "Value": "x", "Overwrite": true,
            "Tags": [{ "Key": "team", "Value": "db" }],
        }),
        ("ssm", "GetParameter") => json!({ "Name": "prod/db", "WithDecryption": true }),
        ("ssm", _) => json!({ "Name": "/prod/db" }),
        ("secretsmanager", "CreateSecret") => json!({
            "Name": "db", "SecretString": "x", "Description": "the database",
            "Tags": [{ "Key": "team", "Value": "db" }],
        }),
        ("secretsmanager", "PutSecretValue") => {
            json!({ "SecretId": SECRET_ARN, "SecretString": "x" })
        }
        ("secretsmanager", "GetSecretValue") => {
            json!({ "SecretId": "db", "VersionStage": "AWSCURRENT" })
        }
        ("secretsmanager", _) => json!({ "SecretId": "db", "ForceDeleteWithoutRecovery": true }),
        _ => json!({}),
    }
}

/// What the store says of pull request 7.
fn pull_request_seven() -> PullRequest {
    PullRequest::from_body(&json!({
        "pullRequestId": "7",
        "pullRequestTargets": [{
            "repositoryName": "app",
            "sourceReference": "refs/heads/feature",
            "destinationReference": "refs/heads/main",
        }],
    }))
}

fn facts_of(service: &str, operation: &str, input: &Value) -> RequestFacts {
    let known = pull_request_id(service, input).map(|_| pull_request_seven());
    json_request(PLACE, service, operation, input, known.as_ref())
        .unwrap_or_else(|err| panic!("{service} {operation}: {err}"))
}

fn render(facts: &RequestFacts) -> String {
    let mut out = format!("  action: {}\n", facts.action);
    for resource in &facts.resources {
        out.push_str(&format!("  resource: {resource}\n"));
    }
    for (key, values) in &facts.context {
        out.push_str(&format!("  {key}: {}\n", values.join(", ")));
    }
    out
}

#[test]
fn every_routed_operation_has_an_action_and_resources() {
    let mut table = String::new();
    for (service, operation) in operations() {
        let input = sample(service, &operation);
        let facts = facts_of(service, &operation, &input);
        let action = catalog::action(&facts.action).expect("an action of the catalog");
        assert_eq!(action.service, service, "{operation}");
        assert!(!facts.resources.is_empty(), "{service} {operation}: no resources");
        // A resource is `*` only when the action has no resource type (ListProjects,
        // CreateApprovalRuleTemplate): every sample names the resources of its type.
        let typed = action.resources().any(|(row, _)| row.required);
        assert_eq!(typed, facts.resources != ["*"], "{service} {operation}: {:?}", facts.resources);
        for (key, _) in &facts.context {
            assert!(action.has_condition_key(key), "{operation}: {key} is not the action's");
        }
        table.push_str(&format!("{service} {operation} {input}\n{}", render(&facts)));
    }
    insta::assert_snapshot!(table);
}

#[test]
fn builds_name_their_projects_and_reports_their_groups() {
    let facts = facts_of("codebuild", "BatchGetBuilds", &sample("codebuild", "BatchGetBuilds"));
    assert_eq!(facts.action, "codebuild:BatchGetBuilds");
    assert_eq!(
        facts.resources,
        [
            "arn:aws:codebuild:us-east-1:000000000000:project/web",
            "arn:aws:codebuild:us-east-1:000000000000:project/api",
        ]
    );
    let facts = facts_of("codebuild", "DescribeTestCases", &json!({ "reportArn": REPORT_ARN }));
    assert_eq!(facts.resources, [GROUP_ARN]);
    let facts = facts_of("codebuild", "ListProjects", &json!({}));
    assert_eq!(facts.resources, ["*"]);
}

#[test]
fn parameters_are_named_without_their_leading_slash_and_secrets_by_name_or_arn() {
    let arn = "arn:aws:ssm:us-east-1:000000000000:parameter/prod/db";
    for name in ["/prod/db", "prod/db", arn] {
        let facts = facts_of("ssm", "GetParameter", &json!({ "Name": name }));
        assert_eq!(facts.resources, [arn], "{name}");
    }
    // GetParameters, which the reference knows though the server does not route it yet.
    let facts = facts_of("ssm", "GetParameters", &json!({ "Names": ["/a", "b/c"] }));
    assert_eq!(facts.action, "ssm:GetParameters");
    assert_eq!(
        facts.resources,
        [
            "arn:aws:ssm:us-east-1:000000000000:parameter/a",
            "arn:aws:ssm:us-east-1:000000000000:parameter/b/c"
        ]
    );
    for id in ["db", SECRET_ARN, "db:password", "arn:aws:secretsmanager:eu-west-1:1:secret:db:k"] {
        let facts = facts_of("secretsmanager", "GetSecretValue", &json!({ "SecretId": id }));
        assert_eq!(facts.resources, [SECRET_ARN], "{id}");
        assert_eq!(facts.context_values("secretsmanager:SecretId"), Some(&[id.to_owned()][..]));
    }
}

#[test]
fn tags_become_request_tags_where_the_action_takes_them() {
    let input = json!({ "repositoryName": "app", "tags": { "team": "web", "cost": "1" } });
    let facts = facts_of("codecommit", "CreateRepository", &input);
    assert_eq!(facts.context_values("aws:RequestTag/team"), Some(&["web".to_owned()][..]));
    let keys = facts.context_values("aws:TagKeys").unwrap();
    assert_eq!(keys.len(), 2);
    // GetRepository has no such keys: tags in its input are no request tags.
    let facts = facts_of("codecommit", "GetRepository", &input);
    assert!(facts.context.is_empty(), "{:?}", facts.context);
}

#[test]
fn references_are_the_branches_a_request_moves() {
    let refs = |facts: &RequestFacts| facts.context_values(REFERENCES).map(<[String]>::to_vec);
    let put = facts_of(
        "codecommit",
        "PutFile",
        &json!({ "repositoryName": "app", "branchName": "main" }),
    );
    assert_eq!(refs(&put), Some(vec!["refs/heads/main".to_owned()]));
    // A merge moves the pull request's destination.
    let input = json!({ "pullRequestId": "7", "repositoryName": "app" });
    let merge = facts_of("codecommit", "MergePullRequestBySquash", &input);
    assert_eq!(refs(&merge), Some(vec!["refs/heads/main".to_owned()]));
    // Without what the store says, the merge's references are unknown, its repository not.
    let blind =
        json_request(PLACE, "codecommit", "MergePullRequestBySquash", &input, None).unwrap();
    assert_eq!(refs(&blind), None);
    assert_eq!(blind.resources, ["arn:aws:codecommit:us-east-1:000000000000:app"]);
    // MergeBranchesByThreeWay (not routed yet) merges into its target branch.
    let input = json!({ "repositoryName": "app", "targetBranch": "release" });
    let merge = facts_of("codecommit", "MergeBranchesByThreeWay", &input);
    assert_eq!(refs(&merge), Some(vec!["refs/heads/release".to_owned()]));
    // GetBranch names a branch but moves none: the reference lists no References for it.
    let get = facts_of(
        "codecommit",
        "GetBranch",
        &json!({ "repositoryName": "app", "branchName": "main" }),
    );
    assert_eq!(refs(&get), None);
    // A push carries every ref it moves; a fetch none.
    let push = git_request(PLACE, "git-receive-pack", "app", &["refs/heads/main", "refs/tags/v1"])
        .unwrap();
    assert_eq!(push.action, crate::auth::GIT_PUSH);
    assert_eq!(push.resources, ["arn:aws:codecommit:us-east-1:000000000000:app"]);
    assert_eq!(refs(&push), Some(vec!["refs/heads/main".to_owned(), "refs/tags/v1".to_owned()]));
    let fetch = git_request(PLACE, "git-upload-pack", "app", &[]).unwrap();
    assert_eq!((fetch.action.as_str(), refs(&fetch)), (crate::auth::GIT_PULL, None));
}

#[test]
fn pull_requests_named_by_id_act_on_their_repository() {
    let facts = facts_of("codecommit", "GetPullRequest", &json!({ "pullRequestId": "7" }));
    assert_eq!(facts.resources, ["arn:aws:codecommit:us-east-1:000000000000:app"]);
    assert_eq!(pull_request_id("codecommit", &json!({ "pullRequestId": "7" })), Some("7"));
    assert_eq!(pull_request_id("codebuild", &json!({ "pullRequestId": "7" })), None);
    // A branch name without `refs/` is a branch.
    let body =
        json!({ "pullRequestTargets": [{ "repositoryName": "a", "destinationReference": "dev" }] });
    assert_eq!(PullRequest::from_body(&body).destination_references, ["refs/heads/dev"]);
}

#[test]
fn an_operation_the_reference_does_not_know_has_no_facts() {
    let result = json_request(PLACE, "codebuild", "Frobnicate", &json!({}), None);
    assert!(matches!(result, Err(FactsError::UnknownOperation { .. })), "{result:?}");
}

#[test]
fn own_identity_operations_act_on_the_user() {
    let facts = own_user_request(PLACE, "ChangePassword", "alice").unwrap();
    assert_eq!(facts.action, "iam:ChangePassword");
    assert_eq!(facts.resources, ["arn:aws:iam::000000000000:user/alice"]);
}

#[test]
fn how_a_request_arrived_is_in_its_context() {
    let facts = git_request(PLACE, "git-receive-pack", "app", &["refs/heads/main"]).unwrap();
    let arrived = facts.clone().arrived(Arrival { source_ip: "10.1.2.3", secure_transport: true });
    assert_eq!(arrived.context_values(SOURCE_IP), Some(&["10.1.2.3".to_owned()][..]));
    assert_eq!(arrived.context_values(SECURE_TRANSPORT), Some(&["true".to_owned()][..]));
    assert_eq!(
        arrived.context_values("codecommit:References"),
        facts.context_values("codecommit:References")
    );
    let keys: Vec<&str> = arrived.context.iter().map(|(key, _)| key.as_str()).collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(keys, sorted);
    // No address known: no aws:SourceIp; a second arrival replaces the first.
    let plain = arrived.arrived(Arrival { source_ip: "", secure_transport: false });
    assert_eq!(plain.context_values(SOURCE_IP), Some(&["10.1.2.3".to_owned()][..]));
    assert_eq!(plain.context_values(SECURE_TRANSPORT), Some(&["false".to_owned()][..]));
    let unknown = facts.arrived(Arrival { source_ip: "", secure_transport: false });
    assert_eq!(unknown.context_values(SOURCE_IP), None);
}
