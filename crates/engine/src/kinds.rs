//! The document kinds of the store, one constant each: the one list of what the server
//! keeps (key and parent as each says). Every module names a kind through this module,
//! never with its own string, so two modules cannot disagree about a kind's name.

// CodeBuild.
/// A build project; the key is its name.
pub const PROJECT: &str = "project";
/// A build, as BatchGetBuilds returns it (with `_slipway` bookkeeping); the key is its id,
/// the parent its project.
pub const BUILD: &str = "build";
/// The job-queue kind of a build's job (a queue kind, not a document kind).
pub const BUILD_JOB: &str = "build";
/// A StartBuild idempotency record; the key is `<project>/<token>`.
pub const IDEMPOTENCY: &str = "idempotency";
/// A report group; the key is its name.
pub const REPORT_GROUP: &str = "report-group";
/// A report of a build.
pub const REPORT: &str = "report";
/// A batch of up to 1,000 of a report's test cases.
pub const REPORT_TEST_CASES: &str = "report-test-cases";
/// The webhook loop's cursor of a repository; the key is the repository name.
pub const WEBHOOK_CURSOR: &str = "webhook-cursor";

// Agents.
/// A registered agent.
pub const AGENT: &str = "agent";
/// An agent token (stored hashed).
pub const AGENT_TOKEN: &str = "agent-token";
/// A build's git token, made when its job is leased (stored hashed).
pub const BUILD_TOKEN: &str = "build-token";

// CodeCommit.
/// A repository's CodeCommit metadata; the key is the repository name.
pub const REPOSITORY: &str = "repository";
/// What a push (or a pull of a mirror) changed, one per ref; the parent is the repository.
pub const REF_EVENT: &str = "ref-event";
/// A repository's branch protection rules; the key is the repository name.
pub const BRANCH_PROTECTION: &str = "branch-protection";
/// A repository's triggers; the key is the repository name.
pub const REPOSITORY_TRIGGERS: &str = "repository-triggers";
/// The trigger loop's cursor of a repository; the key is the repository name.
pub const TRIGGER_CURSOR: &str = "trigger-cursor";
/// One delivery of a trigger's event.
pub const TRIGGER_DELIVERY: &str = "trigger-delivery";
/// A repository's pull and push mirrors; the key is the repository name.
pub const MIRROR: &str = "mirror";
/// The mirror loop's cursor of a repository; the key is the repository name.
pub const MIRROR_CURSOR: &str = "mirror-cursor";
/// A pull request.
pub const PULL_REQUEST: &str = "pull-request";
/// A comment on a pull request.
pub const PULL_REQUEST_COMMENT: &str = "pull-request-comment";
/// An approval rule template; the key is its name.
pub const APPROVAL_RULE_TEMPLATE: &str = "approval-rule-template";
/// A template's association with a repository; the key is `<template>/<repository>`, the
/// parent the repository.
pub const APPROVAL_RULE_TEMPLATE_ASSOCIATION: &str = "approval-rule-template-association";

// IAM and secrets.
/// A user; the key is the name.
pub const USER: &str = "user";
/// An access key (its secret sealed); the key is its id.
pub const ACCESS_KEY: &str = "access-key";
/// HTTPS git credentials (stored salted and hashed); the key is the git user name.
pub const GIT_CREDENTIAL: &str = "git-credential";
/// An IAM group with its members' names; the key is the group's name.
pub const GROUP: &str = "group";
/// A user's SSH public key; the key is its id (`APKA…`), the parent the user.
pub const SSH_PUBLIC_KEY: &str = "ssh-public-key";
/// A customer-managed IAM policy with its versions; the key is the policy's name.
pub const POLICY: &str = "policy";
/// An IAM role with its trust policy; the key is the role's name.
pub const ROLE: &str = "role";
/// STS temporary credentials (AssumeRole, GetSessionToken: the secret sealed, the session
/// token's SHA-256 only); the key is the access key id (`ASIA…`), the parent `role/<name>` or
/// `user/<name>`, the sort its expiry (ms).
pub const STS_SESSION: &str = "sts-session";
/// An SSM parameter (sealed when a SecureString).
pub const PARAMETER: &str = "parameter";
/// A Secrets Manager secret (sealed).
pub const SECRET: &str = "secret";

// CloudTrail.
/// The CloudTrail events of one flush (`cloudtrail::chunk`), numbered in the order they were
/// written by the counter [`CLOUDTRAIL_CHUNK_COUNTER`]; the key is that number.
pub const CLOUDTRAIL_CHUNK: &str = "cloudtrail-chunk";
/// The counter that numbers [`CLOUDTRAIL_CHUNK`]s.
pub const CLOUDTRAIL_CHUNK_COUNTER: &str = "cloudtrail-chunk";
/// The newest use of an access key the audit trail recorded (`cloudtrail::chunk::LastUsed`:
/// time, service, region), written with the chunk that holds it; the key is the access key
/// id. What GetAccessKeyLastUsed answers.
pub const ACCESS_KEY_LAST_USED: &str = "access-key-last-used";
/// One CloudTrail event a document each, as versions before chunks kept them (key: its
/// number, parent: its user name); the server makes them chunks when it starts
/// (`cloudtrail::retention::chunk_single_events`).
pub const CLOUDTRAIL_EVENT: &str = "cloudtrail-event";

// S3.
/// An S3 bucket; the key is its name.
pub const S3_BUCKET: &str = "s3-bucket";
/// An S3 object's metadata (its bytes are in the blob store); the key is `<bucket>/<key>`, the
/// parent its bucket.
pub const S3_OBJECT: &str = "s3-object";
/// An S3 multipart upload in progress; the key is its upload id, the parent its bucket.
pub const S3_UPLOAD: &str = "s3-upload";
/// A part of an S3 multipart upload (its bytes are in the blob store); the key is
/// `<upload id>/<part number, 5 digits>`, the parent the upload id, the sort the part number.
pub const S3_PART: &str = "s3-part";

// The server itself.
/// A console session; the key is the SHA-256 of the cookie's token.
pub const CONSOLE_SESSION: &str = "console-session";
/// A background loop's lease (one replica runs each loop).
pub const LOOP_LEASE: &str = "loop-lease";
/// The installation's settings (the key's fingerprint).
pub const INSTALLATION: &str = "installation";
