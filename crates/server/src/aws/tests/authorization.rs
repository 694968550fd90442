//! The authorization table: every operation of every service `POST /` answers (CodeCommit,
//! CodeBuild, SSM, Secrets Manager, CloudTrail, IAM, STS), each with a minimal valid request
//! on fixtures the admin made once. For each: a user without policies is refused in the
//! protocol's shape (JSON `AccessDeniedException`, Query `AccessDenied`) and the store is
//! unchanged; a user with the AWS-managed policy that allows it plus an explicit deny of
//! everything is refused the same way ("explicit deny"); a user with only that managed policy
//! succeeds (IAM's rows by IAM's own managed policies, not AdministratorAccess or
//! ReadOnlyAccess). And since a managed policy's wildcards would pass a wrong action name
//! too, each row names its action (`action`), and a user allowed exactly that action and
//! denied exactly it is refused by the deny, and once allowed only it, is authorized. Which
//! operations the server answers is asked of the server itself: every
//! operation of botocore's model of each service that has no row here must answer as unknown,
//! so a new operation without a row fails the test.
//!
//! Besides: `codecommit:References` denies PutFile, CreateCommit, merging a pull request and
//! DeleteBranch on `main` and allows them on another branch.

use serde_json::{Value, json};

use super::{Answer, Call, Harness};
use crate::state_snapshot::{changes, snapshot};

/// How a service is spoken: the JSON protocol with this `X-Amz-Target` prefix, or the Query
/// protocol with this API version.
#[derive(Debug, Clone, Copy)]
enum Protocol {
    Json(&'static str),
    Query(&'static str),
}

/// The services of `POST /`, by their IAM prefix (also their SigV4 signing name).
const SERVICES: &[(&str, Protocol)] = &[
    ("codecommit", Protocol::Json("CodeCommit_20150413")),
    ("codebuild", Protocol::Json("CodeBuild_20161006")),
    ("ssm", Protocol::Json("AmazonSSM")),
    ("secretsmanager", Protocol::Json("secretsmanager")),
    ("cloudtrail", Protocol::Json("com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101")),
    ("iam", Protocol::Query("2010-05-08")),
    ("sts", Protocol::Query("2011-06-15")),
];

/// One operation: the managed policy that allows it (empty: it needs no permission, as STS's
/// GetCallerIdentity) and its input — JSON, or `Name=value&…` (values not yet encoded) for
/// the Query protocol — where `<name>` is a fixture's value.
struct Row {
    service: &'static str,
    operation: &'static str,
    policy: &'static str,
    /// The IAM action the operation is authorized as, written here by hand from the Service
    /// Authorization Reference: a user allowed exactly this action (on `*`) may call it, and
    /// one also denied exactly this action may not, so a wrong action name in the catalog
    /// fails the table even where the managed policy's wildcards would pass it.
    action: &'static str,
    input: &'static str,
}

const fn row(
    service: &'static str,
    operation: &'static str,
    policy: &'static str,
    action: &'static str,
    input: &'static str,
) -> Row {
    Row { service, operation, policy, action, input }
}

const CC_READ: &str = "AWSCodeCommitReadOnly";
const CC_POWER: &str = "AWSCodeCommitPowerUser";
const CC_FULL: &str = "AWSCodeCommitFullAccess";
const CB_READ: &str = "AWSCodeBuildReadOnlyAccess";
const CB_DEV: &str = "AWSCodeBuildDeveloperAccess";
const CB_ADMIN: &str = "AWSCodeBuildAdminAccess";
const SSM_READ: &str = "AmazonSSMReadOnlyAccess";
const SECRETS: &str = "SecretsManagerReadWrite";
const POWER: &str = "PowerUserAccess";
const READ: &str = "ReadOnlyAccess";
const ADMIN: &str = "AdministratorAccess";
const IAM_FULL: &str = "IAMFullAccess";
const IAM_READ: &str = "IAMReadOnlyAccess";
const SSH_KEYS: &str = "IAMUserSSHKeys";
const OWN_CREDENTIALS: &str = "IAMSelfManageServiceSpecificCredentials";
const NONE: &str = "";

/// Every operation, in the order they run (what a row deletes, no later row needs).
const ROWS: &[Row] = &[
    // CodeCommit.
    row(
        "codecommit",
        "CreateRepository",
        CC_POWER,
        "codecommit:CreateRepository",
        r#"{"repositoryName":"repo-new"}"#,
    ),
    row(
        "codecommit",
        "GetRepository",
        CC_READ,
        "codecommit:GetRepository",
        r#"{"repositoryName":"app"}"#,
    ),
    row(
        "codecommit",
        "BatchGetRepositories",
        CC_READ,
        "codecommit:BatchGetRepositories",
        r#"{"repositoryNames":["app"]}"#,
    ),
    row("codecommit", "ListRepositories", CC_READ, "codecommit:ListRepositories", r#"{}"#),
    row(
        "codecommit",
        "UpdateRepositoryDescription",
        CC_POWER,
        "codecommit:UpdateRepositoryDescription",
        r#"{"repositoryName":"app","repositoryDescription":"d"}"#,
    ),
    row(
        "codecommit",
        "UpdateRepositoryName",
        CC_POWER,
        "codecommit:UpdateRepositoryName",
        r#"{"oldName":"old","newName":"renamed"}"#,
    ),
    row(
        "codecommit",
        "UpdateDefaultBranch",
        CC_POWER,
        "codecommit:UpdateDefaultBranch",
        r#"{"repositoryName":"app","defaultBranchName":"main"}"#,
    ),
    row(
        "codecommit",
        "CreateBranch",
        CC_POWER,
        "codecommit:CreateBranch",
        r#"{"repositoryName":"app","branchName":"b-new","commitId":"<c1>"}"#,
    ),
    row(
        "codecommit",
        "GetBranch",
        CC_READ,
        "codecommit:GetBranch",
        r#"{"repositoryName":"app","branchName":"main"}"#,
    ),
    row(
        "codecommit",
        "ListBranches",
        CC_READ,
        "codecommit:ListBranches",
        r#"{"repositoryName":"app"}"#,
    ),
    row(
        "codecommit",
        "GetCommit",
        CC_READ,
        "codecommit:GetCommit",
        r#"{"repositoryName":"app","commitId":"<c1>"}"#,
    ),
    row(
        "codecommit",
        "GetFile",
        CC_READ,
        "codecommit:GetFile",
        r#"{"repositoryName":"app","filePath":"README.md"}"#,
    ),
    row(
        "codecommit",
        "GetBlob",
        CC_READ,
        "codecommit:GetBlob",
        r#"{"repositoryName":"app","blobId":"<blob>"}"#,
    ),
    row(
        "codecommit",
        "GetFolder",
        CC_READ,
        "codecommit:GetFolder",
        r#"{"repositoryName":"app","folderPath":"/"}"#,
    ),
    row(
        "codecommit",
        "BatchGetCommits",
        CC_READ,
        "codecommit:BatchGetCommits",
        r#"{"repositoryName":"app","commitIds":["<c1>"]}"#,
    ),
    row(
        "codecommit",
        "GetDifferences",
        CC_READ,
        "codecommit:GetDifferences",
        r#"{"repositoryName":"app","beforeCommitSpecifier":"<c1>","afterCommitSpecifier":"<c2>"}"#,
    ),
    row(
        "codecommit",
        "PutFile",
        CC_POWER,
        "codecommit:PutFile",
        r#"{"repositoryName":"app","branchName":"put","filePath":"p.txt","fileContent":"aGk=","parentCommitId":"<put>"}"#,
    ),
    row(
        "codecommit",
        "CreateCommit",
        CC_POWER,
        "codecommit:CreateCommit",
        r#"{"repositoryName":"app","branchName":"commit","parentCommitId":"<commit>","putFiles":[{"filePath":"c.txt","fileContent":"aGk="}]}"#,
    ),
    row(
        "codecommit",
        "PutRepositoryTriggers",
        CC_POWER,
        "codecommit:PutRepositoryTriggers",
        r#"{"repositoryName":"app","triggers":[{"name":"t","destinationArn":"http://127.0.0.1:1/hook","events":["all"],"branches":[]}]}"#,
    ),
    row(
        "codecommit",
        "GetRepositoryTriggers",
        CC_READ,
        "codecommit:GetRepositoryTriggers",
        r#"{"repositoryName":"app"}"#,
    ),
    row(
        "codecommit",
        "TestRepositoryTriggers",
        CC_POWER,
        "codecommit:TestRepositoryTriggers",
        r#"{"repositoryName":"app","triggers":[{"name":"t","destinationArn":"http://127.0.0.1:1/hook","events":["all"],"branches":[]}]}"#,
    ),
    row(
        "codecommit",
        "CreateApprovalRuleTemplate",
        CC_POWER,
        "codecommit:CreateApprovalRuleTemplate",
        r#"{"approvalRuleTemplateName":"tmpl-new","approvalRuleTemplateContent":"<template>"}"#,
    ),
    row(
        "codecommit",
        "GetApprovalRuleTemplate",
        CC_READ,
        "codecommit:GetApprovalRuleTemplate",
        r#"{"approvalRuleTemplateName":"tmpl"}"#,
    ),
    row(
        "codecommit",
        "ListApprovalRuleTemplates",
        CC_READ,
        "codecommit:ListApprovalRuleTemplates",
        r#"{}"#,
    ),
    row(
        "codecommit",
        "UpdateApprovalRuleTemplateDescription",
        CC_POWER,
        "codecommit:UpdateApprovalRuleTemplateDescription",
        r#"{"approvalRuleTemplateName":"tmpl","approvalRuleTemplateDescription":"d"}"#,
    ),
    row(
        "codecommit",
        "UpdateApprovalRuleTemplateContent",
        CC_POWER,
        "codecommit:UpdateApprovalRuleTemplateContent",
        r#"{"approvalRuleTemplateName":"tmpl","newRuleContent":"<template>"}"#,
    ),
    row(
        "codecommit",
        "AssociateApprovalRuleTemplateWithRepository",
        CC_POWER,
        "codecommit:AssociateApprovalRuleTemplateWithRepository",
        r#"{"approvalRuleTemplateName":"tmpl","repositoryName":"app"}"#,
    ),
    row(
        "codecommit",
        "ListAssociatedApprovalRuleTemplatesForRepository",
        CC_READ,
        "codecommit:ListAssociatedApprovalRuleTemplatesForRepository",
        r#"{"repositoryName":"app"}"#,
    ),
    row(
        "codecommit",
        "ListRepositoriesForApprovalRuleTemplate",
        CC_READ,
        "codecommit:ListRepositoriesForApprovalRuleTemplate",
        r#"{"approvalRuleTemplateName":"tmpl"}"#,
    ),
    row(
        "codecommit",
        "DisassociateApprovalRuleTemplateFromRepository",
        CC_POWER,
        "codecommit:DisassociateApprovalRuleTemplateFromRepository",
        r#"{"approvalRuleTemplateName":"tmpl","repositoryName":"app"}"#,
    ),
    row(
        "codecommit",
        "BatchAssociateApprovalRuleTemplateWithRepositories",
        CC_POWER,
        "codecommit:BatchAssociateApprovalRuleTemplateWithRepositories",
        r#"{"approvalRuleTemplateName":"tmpl","repositoryNames":["app"]}"#,
    ),
    row(
        "codecommit",
        "BatchDisassociateApprovalRuleTemplateFromRepositories",
        CC_POWER,
        "codecommit:BatchDisassociateApprovalRuleTemplateFromRepositories",
        r#"{"approvalRuleTemplateName":"tmpl","repositoryNames":["app"]}"#,
    ),
    row(
        "codecommit",
        "UpdateApprovalRuleTemplateName",
        CC_POWER,
        "codecommit:UpdateApprovalRuleTemplateName",
        r#"{"oldApprovalRuleTemplateName":"tmpl-new","newApprovalRuleTemplateName":"tmpl-renamed"}"#,
    ),
    row(
        "codecommit",
        "DeleteApprovalRuleTemplate",
        CC_FULL,
        "codecommit:DeleteApprovalRuleTemplate",
        r#"{"approvalRuleTemplateName":"tmpl-renamed"}"#,
    ),
    row(
        "codecommit",
        "CreatePullRequest",
        CC_POWER,
        "codecommit:CreatePullRequest",
        r#"{"title":"t","targets":[{"repositoryName":"app","sourceReference":"pr-new","destinationReference":"main"}]}"#,
    ),
    row(
        "codecommit",
        "GetPullRequest",
        CC_READ,
        "codecommit:GetPullRequest",
        r#"{"pullRequestId":"<pr>"}"#,
    ),
    row(
        "codecommit",
        "ListPullRequests",
        CC_READ,
        "codecommit:ListPullRequests",
        r#"{"repositoryName":"app"}"#,
    ),
    row(
        "codecommit",
        "UpdatePullRequestTitle",
        CC_POWER,
        "codecommit:UpdatePullRequestTitle",
        r#"{"pullRequestId":"<pr>","title":"t2"}"#,
    ),
    row(
        "codecommit",
        "UpdatePullRequestDescription",
        CC_POWER,
        "codecommit:UpdatePullRequestDescription",
        r#"{"pullRequestId":"<pr>","description":"d"}"#,
    ),
    row(
        "codecommit",
        "DescribePullRequestEvents",
        CC_READ,
        "codecommit:DescribePullRequestEvents",
        r#"{"pullRequestId":"<pr>"}"#,
    ),
    row(
        "codecommit",
        "CreatePullRequestApprovalRule",
        CC_POWER,
        "codecommit:CreatePullRequestApprovalRule",
        r#"{"pullRequestId":"<pr>","approvalRuleName":"rule-new","approvalRuleContent":"<rule>"}"#,
    ),
    row(
        "codecommit",
        "UpdatePullRequestApprovalRuleContent",
        CC_POWER,
        "codecommit:UpdatePullRequestApprovalRuleContent",
        r#"{"pullRequestId":"<pr>","approvalRuleName":"rule","newRuleContent":"<rule>"}"#,
    ),
    row(
        "codecommit",
        "UpdatePullRequestApprovalState",
        CC_POWER,
        "codecommit:UpdatePullRequestApprovalState",
        r#"{"pullRequestId":"<pr>","revisionId":"<revision>","approvalState":"APPROVE"}"#,
    ),
    row(
        "codecommit",
        "GetPullRequestApprovalStates",
        CC_READ,
        "codecommit:GetPullRequestApprovalStates",
        r#"{"pullRequestId":"<pr>","revisionId":"<revision>"}"#,
    ),
    row(
        "codecommit",
        "EvaluatePullRequestApprovalRules",
        CC_READ,
        "codecommit:EvaluatePullRequestApprovalRules",
        r#"{"pullRequestId":"<pr>","revisionId":"<revision>"}"#,
    ),
    row(
        "codecommit",
        "OverridePullRequestApprovalRules",
        CC_POWER,
        "codecommit:OverridePullRequestApprovalRules",
        r#"{"pullRequestId":"<pr>","revisionId":"<revision>","overrideStatus":"OVERRIDE"}"#,
    ),
    row(
        "codecommit",
        "GetPullRequestOverrideState",
        CC_READ,
        "codecommit:GetPullRequestOverrideState",
        r#"{"pullRequestId":"<pr>","revisionId":"<revision>"}"#,
    ),
    row(
        "codecommit",
        "PostCommentForPullRequest",
        CC_POWER,
        "codecommit:PostCommentForPullRequest",
        r#"{"pullRequestId":"<pr>","repositoryName":"app","beforeCommitId":"<c1>","afterCommitId":"<c2>","content":"hi"}"#,
    ),
    row(
        "codecommit",
        "GetCommentsForPullRequest",
        CC_READ,
        "codecommit:GetCommentsForPullRequest",
        r#"{"pullRequestId":"<pr>"}"#,
    ),
    row(
        "codecommit",
        "DeletePullRequestApprovalRule",
        CC_FULL,
        "codecommit:DeletePullRequestApprovalRule",
        r#"{"pullRequestId":"<pr>","approvalRuleName":"rule-new"}"#,
    ),
    row(
        "codecommit",
        "MergePullRequestByFastForward",
        CC_POWER,
        "codecommit:MergePullRequestByFastForward",
        r#"{"pullRequestId":"<pr-ff>","repositoryName":"app"}"#,
    ),
    row(
        "codecommit",
        "MergePullRequestBySquash",
        CC_POWER,
        "codecommit:MergePullRequestBySquash",
        r#"{"pullRequestId":"<pr-squash>","repositoryName":"app"}"#,
    ),
    row(
        "codecommit",
        "MergePullRequestByThreeWay",
        CC_POWER,
        "codecommit:MergePullRequestByThreeWay",
        r#"{"pullRequestId":"<pr-three-way>","repositoryName":"app"}"#,
    ),
    row(
        "codecommit",
        "UpdatePullRequestStatus",
        CC_POWER,
        "codecommit:UpdatePullRequestStatus",
        r#"{"pullRequestId":"<pr>","pullRequestStatus":"CLOSED"}"#,
    ),
    row(
        "codecommit",
        "DeleteBranch",
        CC_POWER,
        "codecommit:DeleteBranch",
        r#"{"repositoryName":"app","branchName":"b-new"}"#,
    ),
    row(
        "codecommit",
        "DeleteRepository",
        CC_FULL,
        "codecommit:DeleteRepository",
        r#"{"repositoryName":"doomed"}"#,
    ),
    // CodeBuild.
    row(
        "codebuild",
        "CreateProject",
        CB_ADMIN,
        "codebuild:CreateProject",
        r#"{"name":"proj-new","source":{"type":"NO_SOURCE","buildspec":"version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n"},"artifacts":{"type":"NO_ARTIFACTS"},"environment":{"type":"LINUX_CONTAINER","image":"i","computeType":"BUILD_GENERAL1_SMALL"},"serviceRole":"<role-arn>"}"#,
    ),
    row(
        "codebuild",
        "BatchGetProjects",
        CB_READ,
        "codebuild:BatchGetProjects",
        r#"{"names":["proj"]}"#,
    ),
    row("codebuild", "ListProjects", CB_READ, "codebuild:ListProjects", r#"{}"#),
    row(
        "codebuild",
        "UpdateProject",
        CB_ADMIN,
        "codebuild:UpdateProject",
        r#"{"name":"proj","description":"d"}"#,
    ),
    row("codebuild", "StartBuild", CB_DEV, "codebuild:StartBuild", r#"{"projectName":"proj"}"#),
    row(
        "codebuild",
        "BatchGetBuilds",
        CB_READ,
        "codebuild:BatchGetBuilds",
        r#"{"ids":["<build>"]}"#,
    ),
    row("codebuild", "ListBuilds", CB_READ, "codebuild:ListBuilds", r#"{}"#),
    row(
        "codebuild",
        "ListBuildsForProject",
        CB_READ,
        "codebuild:ListBuildsForProject",
        r#"{"projectName":"proj"}"#,
    ),
    row("codebuild", "StopBuild", CB_DEV, "codebuild:StopBuild", r#"{"id":"<build>"}"#),
    row("codebuild", "RetryBuild", CB_DEV, "codebuild:RetryBuild", r#"{"id":"<build>"}"#),
    row(
        "codebuild",
        "BatchDeleteBuilds",
        CB_ADMIN,
        "codebuild:BatchDeleteBuilds",
        r#"{"ids":["<build>"]}"#,
    ),
    row(
        "codebuild",
        "CreateWebhook",
        CB_ADMIN,
        "codebuild:CreateWebhook",
        r#"{"projectName":"proj"}"#,
    ),
    row(
        "codebuild",
        "UpdateWebhook",
        CB_ADMIN,
        "codebuild:UpdateWebhook",
        r#"{"projectName":"proj","buildType":"BUILD"}"#,
    ),
    row(
        "codebuild",
        "DeleteWebhook",
        CB_ADMIN,
        "codebuild:DeleteWebhook",
        r#"{"projectName":"proj"}"#,
    ),
    row(
        "codebuild",
        "CreateReportGroup",
        CB_ADMIN,
        "codebuild:CreateReportGroup",
        r#"{"name":"rg-new","type":"TEST","exportConfig":{"exportConfigType":"NO_EXPORT"}}"#,
    ),
    row(
        "codebuild",
        "BatchGetReportGroups",
        CB_READ,
        "codebuild:BatchGetReportGroups",
        r#"{"reportGroupArns":["<rg-arn>"]}"#,
    ),
    row("codebuild", "ListReportGroups", CB_READ, "codebuild:ListReportGroups", r#"{}"#),
    row(
        "codebuild",
        "ListReportsForReportGroup",
        CB_READ,
        "codebuild:ListReportsForReportGroup",
        r#"{"reportGroupArn":"<rg-arn>"}"#,
    ),
    row(
        "codebuild",
        "BatchGetReports",
        CB_READ,
        "codebuild:BatchGetReports",
        r#"{"reportArns":["<report-arn>"]}"#,
    ),
    row(
        "codebuild",
        "DescribeTestCases",
        CB_READ,
        "codebuild:DescribeTestCases",
        r#"{"reportArn":"<report-arn>"}"#,
    ),
    row(
        "codebuild",
        "DeleteProject",
        CB_ADMIN,
        "codebuild:DeleteProject",
        r#"{"name":"proj-new"}"#,
    ),
    // SSM: AWSCodeBuildAdminAccess writes parameters under /CodeBuild/ only.
    row(
        "ssm",
        "PutParameter",
        CB_ADMIN,
        "ssm:PutParameter",
        r#"{"Name":"/CodeBuild/new","Value":"v"}"#,
    ),
    row("ssm", "GetParameter", SSM_READ, "ssm:GetParameter", r#"{"Name":"/app/db"}"#),
    row("ssm", "DeleteParameter", POWER, "ssm:DeleteParameter", r#"{"Name":"/app/db"}"#),
    // Secrets Manager.
    row(
        "secretsmanager",
        "CreateSecret",
        SECRETS,
        "secretsmanager:CreateSecret",
        r#"{"Name":"new","SecretString":"v"}"#,
    ),
    row(
        "secretsmanager",
        "PutSecretValue",
        SECRETS,
        "secretsmanager:PutSecretValue",
        r#"{"SecretId":"app","SecretString":"v2"}"#,
    ),
    row(
        "secretsmanager",
        "GetSecretValue",
        SECRETS,
        "secretsmanager:GetSecretValue",
        r#"{"SecretId":"app"}"#,
    ),
    row(
        "secretsmanager",
        "DeleteSecret",
        SECRETS,
        "secretsmanager:DeleteSecret",
        r#"{"SecretId":"new"}"#,
    ),
    // CloudTrail.
    row("cloudtrail", "LookupEvents", READ, "cloudtrail:LookupEvents", r#"{}"#),
    // STS: who am I needs no permission, as on AWS.
    row("sts", "GetCallerIdentity", NONE, "sts:GetCallerIdentity", ""),
    // A user's own session needs no permission either (only an explicit deny refuses it).
    row("sts", "GetSessionToken", NONE, "sts:GetSessionToken", ""),
    row(
        "sts",
        "AssumeRole",
        ADMIN,
        "sts:AssumeRole",
        "RoleArn=<assumable-arn>&RoleSessionName=table",
    ),
    // IAM: users and their keys.
    row("iam", "CreateUser", IAM_FULL, "iam:CreateUser", "UserName=user-new"),
    row("iam", "GetUser", IAM_READ, "iam:GetUser", "UserName=target"),
    row("iam", "ListUsers", IAM_READ, "iam:ListUsers", ""),
    row("iam", "UpdateUser", IAM_FULL, "iam:UpdateUser", "UserName=user-new&NewPath=/moved/"),
    row(
        "iam",
        "TagUser",
        IAM_FULL,
        "iam:TagUser",
        "UserName=target&Tags.member.1.Key=team&Tags.member.1.Value=a",
    ),
    row("iam", "ListUserTags", IAM_READ, "iam:ListUserTags", "UserName=target"),
    row("iam", "UntagUser", IAM_FULL, "iam:UntagUser", "UserName=target&TagKeys.member.1=team"),
    row("iam", "CreateAccessKey", IAM_FULL, "iam:CreateAccessKey", "UserName=target"),
    row("iam", "ListAccessKeys", IAM_READ, "iam:ListAccessKeys", "UserName=target"),
    row(
        "iam",
        "GetAccessKeyLastUsed",
        IAM_READ,
        "iam:GetAccessKeyLastUsed",
        "AccessKeyId=<target-key>",
    ),
    row(
        "iam",
        "UpdateAccessKey",
        IAM_FULL,
        "iam:UpdateAccessKey",
        "UserName=target&AccessKeyId=<target-key>&Status=Inactive",
    ),
    row(
        "iam",
        "DeleteAccessKey",
        IAM_FULL,
        "iam:DeleteAccessKey",
        "UserName=target&AccessKeyId=<target-key>",
    ),
    row(
        "iam",
        "CreateLoginProfile",
        IAM_FULL,
        "iam:CreateLoginProfile",
        "UserName=target&Password=Str0ng-Passw0rd-1",
    ),
    row("iam", "GetLoginProfile", IAM_READ, "iam:GetLoginProfile", "UserName=target"),
    row(
        "iam",
        "UpdateLoginProfile",
        IAM_FULL,
        "iam:UpdateLoginProfile",
        "UserName=target&Password=Str0ng-Passw0rd-2",
    ),
    row("iam", "DeleteLoginProfile", IAM_FULL, "iam:DeleteLoginProfile", "UserName=target"),
    // Groups.
    row("iam", "CreateGroup", IAM_FULL, "iam:CreateGroup", "GroupName=group-new"),
    row("iam", "GetGroup", IAM_READ, "iam:GetGroup", "GroupName=team"),
    row("iam", "ListGroups", IAM_READ, "iam:ListGroups", ""),
    row("iam", "AddUserToGroup", IAM_FULL, "iam:AddUserToGroup", "GroupName=team&UserName=target"),
    row("iam", "ListGroupsForUser", IAM_READ, "iam:ListGroupsForUser", "UserName=target"),
    row(
        "iam",
        "RemoveUserFromGroup",
        IAM_FULL,
        "iam:RemoveUserFromGroup",
        "GroupName=team&UserName=target",
    ),
    row("iam", "DeleteGroup", IAM_FULL, "iam:DeleteGroup", "GroupName=group-new"),
    // SSH keys and git credentials: each user manages their own (as IAM's own policies for
    // them allow), here the user named after the policy.
    row(
        "iam",
        "UploadSSHPublicKey",
        SSH_KEYS,
        "iam:UploadSSHPublicKey",
        "UserName=IAMUserSSHKeys&SSHPublicKeyBody=<ssh-key>",
    ),
    row("iam", "ListSSHPublicKeys", SSH_KEYS, "iam:ListSSHPublicKeys", "UserName=IAMUserSSHKeys"),
    row(
        "iam",
        "GetSSHPublicKey",
        SSH_KEYS,
        "iam:GetSSHPublicKey",
        "UserName=IAMUserSSHKeys&SSHPublicKeyId=<own-ssh-id>&Encoding=SSH",
    ),
    row(
        "iam",
        "UpdateSSHPublicKey",
        SSH_KEYS,
        "iam:UpdateSSHPublicKey",
        "UserName=IAMUserSSHKeys&SSHPublicKeyId=<own-ssh-id>&Status=Inactive",
    ),
    row(
        "iam",
        "DeleteSSHPublicKey",
        SSH_KEYS,
        "iam:DeleteSSHPublicKey",
        "UserName=IAMUserSSHKeys&SSHPublicKeyId=<own-ssh-id>",
    ),
    row(
        "iam",
        "CreateServiceSpecificCredential",
        OWN_CREDENTIALS,
        "iam:CreateServiceSpecificCredential",
        "UserName=IAMSelfManageServiceSpecificCredentials&ServiceName=codecommit.amazonaws.com",
    ),
    row(
        "iam",
        "ListServiceSpecificCredentials",
        OWN_CREDENTIALS,
        "iam:ListServiceSpecificCredentials",
        "UserName=IAMSelfManageServiceSpecificCredentials",
    ),
    row(
        "iam",
        "ResetServiceSpecificCredential",
        OWN_CREDENTIALS,
        "iam:ResetServiceSpecificCredential",
        "UserName=IAMSelfManageServiceSpecificCredentials&ServiceSpecificCredentialId=<own-credential-id>",
    ),
    row(
        "iam",
        "UpdateServiceSpecificCredential",
        OWN_CREDENTIALS,
        "iam:UpdateServiceSpecificCredential",
        "UserName=IAMSelfManageServiceSpecificCredentials&ServiceSpecificCredentialId=<own-credential-id>&Status=Inactive",
    ),
    row(
        "iam",
        "DeleteServiceSpecificCredential",
        OWN_CREDENTIALS,
        "iam:DeleteServiceSpecificCredential",
        "UserName=IAMSelfManageServiceSpecificCredentials&ServiceSpecificCredentialId=<own-credential-id>",
    ),
    // Managed policies.
    row(
        "iam",
        "CreatePolicy",
        IAM_FULL,
        "iam:CreatePolicy",
        "PolicyName=policy-new&PolicyDocument=<allow>",
    ),
    row("iam", "GetPolicy", IAM_READ, "iam:GetPolicy", "PolicyArn=<policy-arn>"),
    row("iam", "ListPolicies", IAM_READ, "iam:ListPolicies", "Scope=Local"),
    row(
        "iam",
        "CreatePolicyVersion",
        IAM_FULL,
        "iam:CreatePolicyVersion",
        "PolicyArn=<policy-arn>&PolicyDocument=<allow>&SetAsDefault=false",
    ),
    row(
        "iam",
        "GetPolicyVersion",
        IAM_READ,
        "iam:GetPolicyVersion",
        "PolicyArn=<policy-arn>&VersionId=v1",
    ),
    row("iam", "ListPolicyVersions", IAM_READ, "iam:ListPolicyVersions", "PolicyArn=<policy-arn>"),
    row(
        "iam",
        "SetDefaultPolicyVersion",
        IAM_FULL,
        "iam:SetDefaultPolicyVersion",
        "PolicyArn=<policy-arn>&VersionId=v2",
    ),
    row(
        "iam",
        "DeletePolicyVersion",
        IAM_FULL,
        "iam:DeletePolicyVersion",
        "PolicyArn=<policy-arn>&VersionId=v1",
    ),
    row(
        "iam",
        "AttachUserPolicy",
        IAM_FULL,
        "iam:AttachUserPolicy",
        "UserName=target&PolicyArn=<policy-arn>",
    ),
    row(
        "iam",
        "ListAttachedUserPolicies",
        IAM_READ,
        "iam:ListAttachedUserPolicies",
        "UserName=target",
    ),
    row(
        "iam",
        "DetachUserPolicy",
        IAM_FULL,
        "iam:DetachUserPolicy",
        "UserName=target&PolicyArn=<policy-arn>",
    ),
    row(
        "iam",
        "AttachGroupPolicy",
        IAM_FULL,
        "iam:AttachGroupPolicy",
        "GroupName=team&PolicyArn=<policy-arn>",
    ),
    row(
        "iam",
        "ListAttachedGroupPolicies",
        IAM_READ,
        "iam:ListAttachedGroupPolicies",
        "GroupName=team",
    ),
    row(
        "iam",
        "ListEntitiesForPolicy",
        IAM_READ,
        "iam:ListEntitiesForPolicy",
        "PolicyArn=<policy-arn>",
    ),
    row(
        "iam",
        "DetachGroupPolicy",
        IAM_FULL,
        "iam:DetachGroupPolicy",
        "GroupName=team&PolicyArn=<policy-arn>",
    ),
    row(
        "iam",
        "AttachRolePolicy",
        IAM_FULL,
        "iam:AttachRolePolicy",
        "RoleName=builder&PolicyArn=<policy-arn>",
    ),
    row(
        "iam",
        "ListAttachedRolePolicies",
        IAM_READ,
        "iam:ListAttachedRolePolicies",
        "RoleName=builder",
    ),
    row(
        "iam",
        "DetachRolePolicy",
        IAM_FULL,
        "iam:DetachRolePolicy",
        "RoleName=builder&PolicyArn=<policy-arn>",
    ),
    row("iam", "DeletePolicy", IAM_FULL, "iam:DeletePolicy", "PolicyArn=<new-policy-arn>"),
    // Inline policies.
    row(
        "iam",
        "PutUserPolicy",
        IAM_FULL,
        "iam:PutUserPolicy",
        "UserName=target&PolicyName=inline&PolicyDocument=<allow>",
    ),
    row("iam", "GetUserPolicy", IAM_READ, "iam:GetUserPolicy", "UserName=target&PolicyName=inline"),
    row("iam", "ListUserPolicies", IAM_READ, "iam:ListUserPolicies", "UserName=target"),
    row(
        "iam",
        "DeleteUserPolicy",
        IAM_FULL,
        "iam:DeleteUserPolicy",
        "UserName=target&PolicyName=inline",
    ),
    row(
        "iam",
        "PutGroupPolicy",
        IAM_FULL,
        "iam:PutGroupPolicy",
        "GroupName=team&PolicyName=inline&PolicyDocument=<allow>",
    ),
    row(
        "iam",
        "GetGroupPolicy",
        IAM_READ,
        "iam:GetGroupPolicy",
        "GroupName=team&PolicyName=inline",
    ),
    row("iam", "ListGroupPolicies", IAM_READ, "iam:ListGroupPolicies", "GroupName=team"),
    row(
        "iam",
        "DeleteGroupPolicy",
        IAM_FULL,
        "iam:DeleteGroupPolicy",
        "GroupName=team&PolicyName=inline",
    ),
    row(
        "iam",
        "PutRolePolicy",
        IAM_FULL,
        "iam:PutRolePolicy",
        "RoleName=builder&PolicyName=inline&PolicyDocument=<allow>",
    ),
    row(
        "iam",
        "GetRolePolicy",
        IAM_READ,
        "iam:GetRolePolicy",
        "RoleName=builder&PolicyName=inline",
    ),
    row("iam", "ListRolePolicies", IAM_READ, "iam:ListRolePolicies", "RoleName=builder"),
    row(
        "iam",
        "DeleteRolePolicy",
        IAM_FULL,
        "iam:DeleteRolePolicy",
        "RoleName=builder&PolicyName=inline",
    ),
    // Roles.
    row(
        "iam",
        "CreateRole",
        IAM_FULL,
        "iam:CreateRole",
        "RoleName=role-new&AssumeRolePolicyDocument=<trust>",
    ),
    row("iam", "GetRole", IAM_READ, "iam:GetRole", "RoleName=builder"),
    row("iam", "ListRoles", IAM_READ, "iam:ListRoles", ""),
    row(
        "iam",
        "UpdateAssumeRolePolicy",
        IAM_FULL,
        "iam:UpdateAssumeRolePolicy",
        "RoleName=builder&PolicyDocument=<trust>",
    ),
    row(
        "iam",
        "TagRole",
        IAM_FULL,
        "iam:TagRole",
        "RoleName=builder&Tags.member.1.Key=team&Tags.member.1.Value=a",
    ),
    row("iam", "ListRoleTags", IAM_READ, "iam:ListRoleTags", "RoleName=builder"),
    row("iam", "UntagRole", IAM_FULL, "iam:UntagRole", "RoleName=builder&TagKeys.member.1=team"),
    row("iam", "DeleteRole", IAM_FULL, "iam:DeleteRole", "RoleName=role-new"),
    // What people ask to learn why they are refused.
    row(
        "iam",
        "GetAccountAuthorizationDetails",
        IAM_READ,
        "iam:GetAccountAuthorizationDetails",
        "",
    ),
    row(
        "iam",
        "SimulatePrincipalPolicy",
        IAM_READ,
        "iam:SimulatePrincipalPolicy",
        "PolicySourceArn=arn:aws:iam::000000000000:user/target&ActionNames.member.1=codecommit:GetRepository",
    ),
    row(
        "iam",
        "SimulateCustomPolicy",
        IAM_READ,
        "iam:SimulateCustomPolicy",
        "PolicyInputList.member.1=<allow>&ActionNames.member.1=codecommit:GetRepository",
    ),
    row("iam", "DeleteUser", IAM_FULL, "iam:DeleteUser", "UserName=user-new"),
];

/// The rows whose allowed request is refused for another reason than permission, with the
/// error it answers instead.
/// (DescribeTestCases: reports come from builds that ran on an agent; there is none here.)
const NOT_SUCCEEDING: &[(&str, &str)] = &[("DescribeTestCases", "ResourceNotFoundException")];

/// An approval rule template's content, and a pull request approval rule's.
const TEMPLATE: &str = r#"{"Version":"2018-11-08","DestinationReferences":["refs/heads/main"],"Statements":[{"Type":"Approvers","NumberOfApprovalsNeeded":1}]}"#;
const RULE: &str =
    r#"{"Version":"2018-11-08","Statements":[{"Type":"Approvers","NumberOfApprovalsNeeded":1}]}"#;
const ALLOW: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"codecommit:GetRepository","Resource":"*"}]}"#;
const DENY_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#;
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"codebuild.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const SSH_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO9ia7OYsWn9cPiT9qcJwYQWUTcYfSHQ5/eWqWfGA2HC ada";
const OTHER_SSH_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMLcBV9L5Dx2lYknQsICcJ7n0cmb2KHZy6NqkXK4VdOh other";

fn protocol(service: &str) -> Protocol {
    SERVICES.iter().find(|(name, _)| *name == service).map(|(_, it)| *it).unwrap()
}

/// Sends `operation` of `service` with `input` (fixture names replaced), signed with `key`.
async fn send(
    harness: &Harness,
    key: &(String, String),
    service: &str,
    operation: &str,
    input: &str,
) -> Answer {
    match protocol(service) {
        Protocol::Json(prefix) => {
            let target = format!("{prefix}.{operation}");
            let body = if input.is_empty() { "{}" } else { input };
            let mut call = Call::json(&target, body.as_bytes());
            call.service = service;
            call.key = Some(key);
            harness.send(call).await
        }
        Protocol::Query(version) => {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("Action", operation).append_pair("Version", version);
            for pair in input.split('&').filter(|it| !it.is_empty()) {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                form.append_pair(name, value);
            }
            let body = form.finish();
            let mut call = Call::query(service, body.as_bytes());
            call.key = Some(key);
            harness.send(call).await
        }
    }
}

/// What an answer's error is: the JSON `__type`, or the Query `<Code>`; `None` for success.
fn error_code(answer: &Answer) -> Option<String> {
    if answer.status == 200 {
        return None;
    }
    if answer.content_type == "application/x-amz-json-1.1" {
        return answer.json()["__type"].as_str().map(str::to_owned).or(Some(String::new()));
    }
    let code = answer
        .text
        .split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map(|(code, _)| code.to_owned());
    code.or(Some(String::new()))
}

/// The text between `<tag>` and `</tag>` in an XML answer.
fn xml_field(text: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = text.find(&open).unwrap_or_else(|| panic!("no <{tag}> in {text}")) + open.len();
    let end = text[start..].find(&close).unwrap() + start;
    text[start..end].to_owned()
}

/// The admin's fixtures, and the values rows name as `<name>`.
struct Fixtures {
    values: Vec<(String, String)>,
}

impl Fixtures {
    fn set(&mut self, name: &str, value: impl Into<String>) {
        self.values.push((format!("<{name}>"), value.into()));
    }

    fn fill(&self, input: &str) -> String {
        self.values.iter().fold(input.to_owned(), |input, (name, value)| input.replace(name, value))
    }
}

async fn admin(harness: &Harness, service: &str, operation: &str, input: &str) -> Answer {
    let answer = send(harness, &harness.key, service, operation, input).await;
    assert_eq!(answer.status, 200, "the admin's {operation}: {}", answer.text);
    answer
}

async fn admin_json(harness: &Harness, service: &str, operation: &str, input: Value) -> Value {
    admin(harness, service, operation, &input.to_string()).await.json()
}

/// A branch `name` of `app` from `from` with one commit of its own (a file `<name>.txt`): the
/// commit.
async fn branch_with_commit(harness: &Harness, name: &str, from: &str) -> String {
    let input = json!({ "repositoryName": "app", "branchName": name, "commitId": from });
    admin_json(harness, "codecommit", "CreateBranch", input).await;
    let input = json!({
        "repositoryName": "app", "branchName": name, "filePath": format!("{name}.txt"),
        "fileContent": "aGk=", "parentCommitId": from,
    });
    let put = admin_json(harness, "codecommit", "PutFile", input).await;
    put["commitId"].as_str().unwrap().to_owned()
}

async fn pull_request(harness: &Harness, source: &str) -> Value {
    pull_request_into(harness, source, "main").await
}

async fn pull_request_into(harness: &Harness, source: &str, destination: &str) -> Value {
    let input = json!({ "title": source, "targets": [{
        "repositoryName": "app", "sourceReference": source, "destinationReference": destination,
    }]});
    admin_json(harness, "codecommit", "CreatePullRequest", input).await["pullRequest"].clone()
}

/// Everything the rows act on, made by the admin.
async fn fixtures(harness: &Harness) -> Fixtures {
    let mut fixtures = Fixtures { values: Vec::new() };
    let escaped = |text: &str| {
        let quoted = serde_json::to_string(text).unwrap();
        quoted[1..quoted.len() - 1].to_owned()
    };
    fixtures.set("template", escaped(TEMPLATE));
    fixtures.set("rule", escaped(RULE));
    fixtures.set("allow", ALLOW);
    fixtures.set("trust", TRUST);
    fixtures.set("ssh-key", OTHER_SSH_KEY);
    // CodeCommit: a repository with main and branches ahead of it, pull requests, a template.
    for name in ["app", "old", "doomed"] {
        admin_json(harness, "codecommit", "CreateRepository", json!({ "repositoryName": name }))
            .await;
    }
    let input = json!({
        "repositoryName": "app", "branchName": "main", "filePath": "README.md",
        "fileContent": "aGVsbG8K",
    });
    let first = admin_json(harness, "codecommit", "PutFile", input).await;
    let c1 = first["commitId"].as_str().unwrap().to_owned();
    fixtures.set("c1", &c1);
    let input = json!({ "repositoryName": "app", "filePath": "README.md" });
    let file = admin_json(harness, "codecommit", "GetFile", input).await;
    fixtures.set("blob", file["blobId"].as_str().unwrap());
    let c2 = branch_with_commit(harness, "feature", &c1).await;
    fixtures.set("c2", c2);
    for name in ["put", "commit", "pr-new", "ff", "squash", "three-way"] {
        let commit = branch_with_commit(harness, name, &c1).await;
        fixtures.set(name, commit);
    }
    let pr = pull_request(harness, "feature").await;
    fixtures.set("pr", pr["pullRequestId"].as_str().unwrap());
    fixtures.set("revision", pr["revisionId"].as_str().unwrap());
    let input = json!({ "pullRequestId": pr["pullRequestId"], "approvalRuleName": "rule",
        "approvalRuleContent": RULE });
    admin_json(harness, "codecommit", "CreatePullRequestApprovalRule", input).await;
    for (name, source) in [("pr-ff", "ff"), ("pr-squash", "squash"), ("pr-three-way", "three-way")]
    {
        let pr = pull_request(harness, source).await;
        fixtures.set(name, pr["pullRequestId"].as_str().unwrap());
    }
    let input =
        json!({ "approvalRuleTemplateName": "tmpl", "approvalRuleTemplateContent": TEMPLATE });
    admin_json(harness, "codecommit", "CreateApprovalRuleTemplate", input).await;

    // IAM: a user with a key, an SSH key and git credentials; a group; a role; a policy.
    let account = &harness.state.account;
    admin(harness, "iam", "CreateUser", "UserName=target").await;
    let key = admin(harness, "iam", "CreateAccessKey", "UserName=target").await;
    fixtures.set("target-key", xml_field(&key.text, "AccessKeyId"));
    let input = format!("UserName=target&SSHPublicKeyBody={SSH_KEY}");
    let ssh = admin(harness, "iam", "UploadSSHPublicKey", &input).await;
    fixtures.set("ssh-id", xml_field(&ssh.text, "SSHPublicKeyId"));
    let input = "UserName=target&ServiceName=codecommit.amazonaws.com";
    let credential = admin(harness, "iam", "CreateServiceSpecificCredential", input).await;
    fixtures.set("credential-id", xml_field(&credential.text, "ServiceSpecificCredentialId"));
    admin(harness, "iam", "CreateGroup", "GroupName=team").await;
    admin(
        harness,
        "iam",
        "CreateRole",
        &format!("RoleName=builder&AssumeRolePolicyDocument={TRUST}"),
    )
    .await;
    fixtures.set("role-arn", format!("arn:aws:iam::{account}:role/builder"));
    // A role every principal of the account may assume whose own policies allow it.
    let account_trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account}:root"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let create = format!("RoleName=assumable&AssumeRolePolicyDocument={account_trust}");
    admin(harness, "iam", "CreateRole", &create).await;
    fixtures.set("assumable-arn", format!("arn:aws:iam::{account}:role/assumable"));
    admin(harness, "iam", "CreatePolicy", &format!("PolicyName=shared&PolicyDocument={ALLOW}"))
        .await;
    fixtures.set("policy-arn", format!("arn:aws:iam::{account}:policy/shared"));
    fixtures.set("new-policy-arn", format!("arn:aws:iam::{account}:policy/policy-new"));

    // CodeBuild: a project on the repository with a build; a report group.
    let input = json!({
        "name": "proj",
        "source": { "type": "CODECOMMIT", "location": "app",
            "buildspec": "version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n" },
        "artifacts": { "type": "NO_ARTIFACTS" },
        "environment": { "type": "LINUX_CONTAINER", "image": "i", "computeType": "BUILD_GENERAL1_SMALL" },
        "serviceRole": format!("arn:aws:iam::{account}:role/builder"),
    });
    admin_json(harness, "codebuild", "CreateProject", input).await;
    let build =
        admin_json(harness, "codebuild", "StartBuild", json!({ "projectName": "proj" })).await;
    fixtures.set("build", build["build"]["id"].as_str().unwrap());
    let input = json!({ "name": "rg", "type": "TEST", "exportConfig": { "exportConfigType": "NO_EXPORT" } });
    let group = admin_json(harness, "codebuild", "CreateReportGroup", input).await;
    let group_arn = group["reportGroup"]["arn"].as_str().unwrap().to_owned();
    fixtures.set(
        "report-arn",
        format!(
            "{}:00000000-0000-0000-0000-000000000000",
            group_arn.replace(":report-group/", ":report/")
        ),
    );
    fixtures.set("rg-arn", group_arn);

    // Parameters and secrets.
    let input = json!({ "Name": "/app/db", "Value": "v" });
    admin_json(harness, "ssm", "PutParameter", input).await;
    let input = json!({ "Name": "app", "SecretString": "v" });
    admin_json(harness, "secretsmanager", "CreateSecret", input).await;
    fixtures
}

/// A user named `name` with `policies` attached and an optional inline policy; their key.
async fn user(
    harness: &Harness,
    name: &str,
    policies: &[&str],
    inline: Option<&str>,
) -> (String, String) {
    harness.state.identity.create_user(name, 0).await.unwrap();
    for policy in policies {
        let input = format!("UserName={name}&PolicyArn=arn:aws:iam::aws:policy/{policy}");
        admin(harness, "iam", "AttachUserPolicy", &input).await;
    }
    if let Some(document) = inline {
        let input = format!("UserName={name}&PolicyName=inline&PolicyDocument={document}");
        admin(harness, "iam", "PutUserPolicy", &input).await;
    }
    let keys = harness.state.identity.create_access_key(name, 0).await.unwrap();
    (keys.access_key_id, keys.secret_access_key)
}

/// Sets the inline policy of the user `exact`: an allow of exactly `action` on everything, and
/// with `denied`, a deny of exactly it too.
async fn exactly(harness: &Harness, action: &str, denied: bool) {
    let mut statements = vec![json!({ "Effect": "Allow", "Action": action, "Resource": "*" })];
    if denied {
        statements.push(json!({ "Effect": "Deny", "Action": action, "Resource": "*" }));
    }
    let document = json!({ "Version": "2012-10-17", "Statement": statements });
    let put = iam::policies::PutUserPolicyRequest {
        user_name: "exact".into(),
        policy_name: "exact".into(),
        policy_document: document.to_string(),
    };
    iam::policies::put_user_policy(&harness.state.identity, put).await.unwrap();
}

/// Whether `answer` is the protocol's refusal: JSON `AccessDeniedException` (400), Query
/// `AccessDenied` (403).
fn is_refusal(service: &str, answer: &Answer) -> bool {
    match protocol(service) {
        Protocol::Json(_) => {
            answer.status == 400 && error_code(answer).as_deref() == Some("AccessDeniedException")
        }
        Protocol::Query(_) => {
            answer.status == 403 && error_code(answer).as_deref() == Some("AccessDenied")
        }
    }
}

#[tokio::test]
async fn every_operation_is_refused_without_permission_and_allowed_by_its_managed_policy() {
    let harness = Harness::start().await;
    let mut problems = Vec::new();

    // Which operations the server answers: every operation of a service's model without a
    // row must answer as unknown (the admin may do everything, so only that stops it).
    for (service, protocol) in SERVICES {
        let catalog = iam::catalog::service(service).unwrap();
        for operation in catalog.api_operations() {
            if ROWS.iter().any(|row| row.service == *service && row.operation == operation) {
                continue;
            }
            let answer = send(&harness, &harness.key, service, operation, "").await;
            let unknown = match protocol {
                Protocol::Json(_) => "UnknownOperationException",
                Protocol::Query(_) => "InvalidAction",
            };
            if error_code(&answer).as_deref() != Some(unknown) {
                problems.push(format!(
                    "{service} {operation} is answered ({}) but has no row: add one",
                    answer.status
                ));
            }
        }
    }
    for row in ROWS {
        let known = iam::catalog::service(row.service)
            .is_some_and(|it| it.api_operations().iter().any(|op| op == row.operation));
        if !known {
            problems
                .push(format!("{} {}: no such operation in botocore", row.service, row.operation));
        }
    }

    let mut fixtures = fixtures(&harness).await;
    let nobody = user(&harness, "nobody", &[], None).await;
    let mut allowed = Vec::new();
    let mut denied = Vec::new();
    for policy in ROWS.iter().map(|row| row.policy).filter(|it| !it.is_empty()) {
        if allowed.iter().any(|(name, _)| *name == policy) {
            continue;
        }
        allowed.push((policy, user(&harness, policy, &[policy], None).await));
        let name = format!("{policy}-denied");
        denied.push((policy, user(&harness, &name, &[policy], Some(DENY_ALL)).await));
    }
    // What the users of IAM's policies for one's own SSH keys and git credentials act on.
    let input = format!("UserName={SSH_KEYS}&SSHPublicKeyBody={SSH_KEY}");
    let ssh = admin(&harness, "iam", "UploadSSHPublicKey", &input).await;
    fixtures.set("own-ssh-id", xml_field(&ssh.text, "SSHPublicKeyId"));
    let input = format!("UserName={OWN_CREDENTIALS}&ServiceName=codecommit.amazonaws.com");
    let credential = admin(&harness, "iam", "CreateServiceSpecificCredential", &input).await;
    fixtures.set("own-credential-id", xml_field(&credential.text, "ServiceSpecificCredentialId"));
    // The user whose only policy names the row's action exactly (its inline policy is set
    // for each row).
    let exact = user(&harness, "exact", &[], None).await;
    let key_of = |keys: &[(&str, (String, String))], policy: &str| {
        keys.iter().find(|(name, _)| *name == policy).map(|(_, key)| key.clone()).unwrap()
    };

    for row in ROWS {
        let input = fixtures.fill(row.input);
        let what = format!("{} {}", row.service, row.operation);
        if row.policy.is_empty() {
            for key in [&nobody, &harness.key] {
                let answer = send(&harness, key, row.service, row.operation, &input).await;
                if answer.status != 200 {
                    problems
                        .push(format!("{what} needs no permission but answered {}", answer.text));
                }
            }
            continue;
        }
        exactly(&harness, row.action, true).await;
        let before = snapshot(&harness.state.store, &[]).await;
        let answer = send(&harness, &nobody, row.service, row.operation, &input).await;
        if !is_refusal(row.service, &answer) {
            problems.push(format!("{what} without a policy: {} {}", answer.status, answer.text));
        } else if !answer.text.contains("because no identity-based policy allows") {
            problems.push(format!("{what} without a policy, not AWS's message: {}", answer.text));
        }
        let key = key_of(&denied, row.policy);
        let answer = send(&harness, &key, row.service, row.operation, &input).await;
        if !is_refusal(row.service, &answer) {
            problems.push(format!(
                "{what} with {} and a deny: {} {}",
                row.policy, answer.status, answer.text
            ));
        } else if !answer.text.contains("with an explicit deny") {
            problems.push(format!("{what} with a deny, not AWS's message: {}", answer.text));
        }
        // Allowed and denied exactly the row's action: the deny is what refuses it.
        let answer = send(&harness, &exact, row.service, row.operation, &input).await;
        if !is_refusal(row.service, &answer) || !answer.text.contains("with an explicit deny") {
            problems.push(format!(
                "{what} allowed and denied exactly {}: {} {}",
                row.action, answer.status, answer.text
            ));
        }
        let after = snapshot(&harness.state.store, &[]).await;
        let changed = changes(&before, &after, &[]);
        if !changed.is_empty() {
            problems.push(format!("{what} refused, yet the store changed: {changed:?}"));
        }
        let key = key_of(&allowed, row.policy);
        let answer = send(&harness, &key, row.service, row.operation, &input).await;
        let expected = NOT_SUCCEEDING
            .iter()
            .find(|(operation, _)| *operation == row.operation)
            .map(|(_, code)| (*code).to_owned());
        if is_refusal(row.service, &answer) || error_code(&answer) != expected {
            problems.push(format!("{what} with {}: {} {}", row.policy, answer.status, answer.text));
        }
        // Allowed exactly the row's action, on everything: authorized. (The request has just
        // succeeded once: a second one may fail for its own reasons, as a repeated create
        // does, but never as refused; one that only reads succeeds again.)
        exactly(&harness, row.action, false).await;
        let answer = send(&harness, &exact, row.service, row.operation, &input).await;
        let repeatable = cloudtrail::event::is_read_only(row.operation);
        if is_refusal(row.service, &answer)
            || (repeatable && error_code(&answer) != expected)
            || answer.status >= 500
        {
            problems.push(format!(
                "{what} allowed exactly {}: {} {}",
                row.action, answer.status, answer.text
            ));
        }
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}

/// AWS's example of protecting a branch ("Limit pushes and merges to branches in AWS
/// CodeCommit"): a deny of the actions that move a ref, when one of the refs is `main`.
const PROTECT_MAIN: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["codecommit:GitPush","codecommit:DeleteBranch","codecommit:PutFile","codecommit:CreateCommit","codecommit:MergeBranchesByFastForward","codecommit:MergeBranchesBySquash","codecommit:MergeBranchesByThreeWay","codecommit:MergePullRequestByFastForward","codecommit:MergePullRequestBySquash","codecommit:MergePullRequestByThreeWay"],"Resource":"*","Condition":{"StringEqualsIfExists":{"codecommit:References":["refs/heads/main"]},"Null":{"codecommit:References":"false"}}}]}"#;

#[tokio::test]
async fn a_references_condition_refuses_writes_to_main_and_allows_them_elsewhere() {
    let harness = Harness::start().await;
    admin_json(&harness, "codecommit", "CreateRepository", json!({ "repositoryName": "app" }))
        .await;
    let input = json!({
        "repositoryName": "app", "branchName": "main", "filePath": "README.md",
        "fileContent": "aGVsbG8K",
    });
    let first = admin_json(&harness, "codecommit", "PutFile", input).await;
    let main = first["commitId"].as_str().unwrap().to_owned();
    let feature = branch_with_commit(&harness, "feature", &main).await;
    branch_with_commit(&harness, "into-main", &main).await;
    let input = json!({ "repositoryName": "app", "branchName": "release", "commitId": main });
    admin_json(&harness, "codecommit", "CreateBranch", input).await;
    branch_with_commit(&harness, "into-release", &main).await;
    for name in ["scratch", "gone"] {
        let input = json!({ "repositoryName": "app", "branchName": name, "commitId": main });
        admin_json(&harness, "codecommit", "CreateBranch", input).await;
    }
    let into_main = pull_request(&harness, "into-main").await["pullRequestId"].clone();
    let into_release =
        pull_request_into(&harness, "into-release", "release").await["pullRequestId"].clone();
    let developer = user(&harness, "developer", &[CC_POWER], Some(PROTECT_MAIN)).await;

    let put_file = |branch: &str, parent: &str| {
        json!({ "repositoryName": "app", "branchName": branch, "filePath": "new.txt",
            "fileContent": "aGk=", "parentCommitId": parent })
    };
    let create_commit = |branch: &str, parent: &str| {
        json!({ "repositoryName": "app", "branchName": branch, "parentCommitId": parent,
            "putFiles": [{ "filePath": "other.txt", "fileContent": "aGk=" }] })
    };
    let merge = |id: &Value| json!({ "pullRequestId": id, "repositoryName": "app" });
    let delete = |branch: &str| json!({ "repositoryName": "app", "branchName": branch });
    // Each pair: on main (refused), elsewhere (allowed).
    let cases = [
        ("PutFile", put_file("main", &main), put_file("feature", &feature)),
        ("CreateCommit", create_commit("main", &main), create_commit("scratch", &main)),
        ("MergePullRequestByFastForward", merge(&into_main), merge(&into_release)),
        ("DeleteBranch", delete("main"), delete("gone")),
    ];
    for (operation, on_main, elsewhere) in cases {
        let before = snapshot(&harness.state.store, &[]).await;
        let answer =
            send(&harness, &developer, "codecommit", operation, &on_main.to_string()).await;
        assert!(is_refusal("codecommit", &answer), "{operation} on main: {}", answer.text);
        assert!(answer.text.contains("with an explicit deny"), "{}", answer.text);
        let after = snapshot(&harness.state.store, &[]).await;
        assert_eq!(changes(&before, &after, &[]), Vec::<String>::new(), "{operation} on main");
        let answer =
            send(&harness, &developer, "codecommit", operation, &elsewhere.to_string()).await;
        assert_eq!(answer.status, 200, "{operation} elsewhere: {}", answer.text);
    }
    let input = json!({ "repositoryName": "app", "branchName": "main" });
    let branch = admin_json(&harness, "codecommit", "GetBranch", input).await;
    assert_eq!(branch["branch"]["commitId"], main.as_str());
}

/// An allow of `actions` on everything when `condition` holds.
fn allow_when(actions: &str, condition: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":{actions},"Resource":"*","Condition":{condition}}}]}}"#
    )
}

#[tokio::test]
async fn source_ip_and_secure_transport_are_how_the_request_arrived() {
    let harness = Harness::start().await;
    let actions = r#"["codecommit:ListRepositories","iam:ListUsers"]"#;
    let loopback = allow_when(actions, r#"{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}"#);
    let elsewhere = allow_when(actions, r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#);
    let local = user(&harness, "local", &[], Some(&loopback)).await;
    let remote = user(&harness, "remote", &[], Some(&elsewhere)).await;
    // Requests over plain HTTP are refused by a deny of insecure transport.
    let insecure = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;
    let careful = user(&harness, "careful", &[], Some(insecure)).await;
    for (service, operation) in [("codecommit", "ListRepositories"), ("iam", "ListUsers")] {
        let answer = send(&harness, &local, service, operation, "").await;
        assert_eq!(answer.status, 200, "{operation} from 127.0.0.1: {}", answer.text);
        let answer = send(&harness, &remote, service, operation, "").await;
        assert!(is_refusal(service, &answer), "{operation}: {}", answer.text);
        let answer = send(&harness, &careful, service, operation, "").await;
        assert!(is_refusal(service, &answer), "{operation}: {}", answer.text);
        assert!(answer.text.contains("with an explicit deny"), "{}", answer.text);
    }
}

#[tokio::test]
async fn a_resource_tag_condition_reads_the_resource_s_tags() {
    let harness = Harness::start().await;
    for (name, tags) in [("ours", json!({ "team": "a" })), ("theirs", json!({ "team": "b" }))] {
        let input = json!({ "repositoryName": name, "tags": tags });
        admin_json(&harness, "codecommit", "CreateRepository", input).await;
    }
    admin_json(&harness, "codecommit", "CreateRepository", json!({ "repositoryName": "bare" }))
        .await;
    admin(
        &harness,
        "iam",
        "CreateUser",
        "UserName=teammate&Tags.member.1.Key=team&Tags.member.1.Value=a",
    )
    .await;
    admin(&harness, "iam", "CreateUser", "UserName=stranger").await;
    let account = &harness.state.account;
    admin(&harness, "iam", "CreateRole", &format!("RoleName=ci&AssumeRolePolicyDocument={TRUST}"))
        .await;
    let input = json!({
        "name": "build", "source": { "type": "NO_SOURCE", "buildspec": "version: 0.2" },
        "artifacts": { "type": "NO_ARTIFACTS" },
        "environment": { "type": "LINUX_CONTAINER", "image": "i", "computeType": "BUILD_GENERAL1_SMALL" },
        "serviceRole": format!("arn:aws:iam::{account}:role/ci"),
        "tags": [{ "key": "team", "value": "a" }],
    });
    admin_json(&harness, "codebuild", "CreateProject", input).await;
    let actions = r#"["codecommit:GetRepository","iam:GetUser","codebuild:BatchGetProjects"]"#;
    let team = allow_when(actions, r#"{"StringEquals":{"aws:ResourceTag/team":"a"}}"#);
    let member = user(&harness, "member", &[], Some(&team)).await;

    let get = |name: &str| json!({ "repositoryName": name }).to_string();
    let answer = send(&harness, &member, "codecommit", "GetRepository", &get("ours")).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    for name in ["theirs", "bare", "missing"] {
        let answer = send(&harness, &member, "codecommit", "GetRepository", &get(name)).await;
        assert!(is_refusal("codecommit", &answer), "{name}: {}", answer.text);
    }
    let answer = send(&harness, &member, "iam", "GetUser", "UserName=teammate").await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let answer = send(&harness, &member, "iam", "GetUser", "UserName=stranger").await;
    assert!(is_refusal("iam", &answer), "{}", answer.text);
    let input = r#"{"names":["build"]}"#;
    let answer = send(&harness, &member, "codebuild", "BatchGetProjects", input).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
}
