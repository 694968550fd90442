//! Tests of what a build may do as its service role: the ARNs it is asked about, the refusals'
//! wording, and a plan's parameters, secrets and S3 artifacts gated as the role allows (allowed,
//! refused, the role missing, the role not trusting CodeBuild).

use protocol::{ArtifactSpec, SecretReference};
use serde_json::json;

use super::*;
use crate::testing::{TRUST_CODEBUILD, role, test_context};

const TRUST_PIPELINE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"codepipeline.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const READ_DEV: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ssm:GetParameters","Resource":"arn:aws:ssm:us-east-1:000000000000:parameter/dev/*"},{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"arn:aws:secretsmanager:us-east-1:000000000000:secret:dev/*"},{"Effect":"Deny","Action":"ssm:GetParameters","Resource":"arn:aws:ssm:us-east-1:000000000000:parameter/dev/locked"}]}"#;

fn plan(parameters: &[&str], secrets: &[&str]) -> BuildPlan {
    let reference = |(index, it): (usize, &&str)| SecretReference {
        name: format!("V{index}"),
        reference: (*it).to_owned(),
    };
    BuildPlan {
        parameter_store: parameters.iter().enumerate().map(reference).collect(),
        secrets_manager: secrets.iter().enumerate().map(reference).collect(),
        ..BuildPlan::default()
    }
}

#[tokio::test]
async fn parameters_and_secrets_are_asked_about_by_their_arns() {
    let (ctx, _dir) = test_context().await;
    assert_eq!(
        parameter_arn(&ctx, "/prod/db"),
        "arn:aws:ssm:us-east-1:000000000000:parameter/prod/db"
    );
    assert_eq!(parameter_arn(&ctx, "plain"), "arn:aws:ssm:us-east-1:000000000000:parameter/plain");
    let arn = "arn:aws:ssm:us-east-1:000000000000:parameter/prod/db";
    assert_eq!(parameter_arn(&ctx, arn), arn);
    let secret = "arn:aws:secretsmanager:us-east-1:000000000000:secret:ci/token";
    assert_eq!(secret_arn(&ctx, "ci/token"), secret);
    assert_eq!(secret_arn(&ctx, "ci/token:password::"), secret);
    assert_eq!(secret_arn(&ctx, &format!("{secret}:password")), secret);
}

#[test]
fn refusals_name_the_role_and_what_it_may_not_do() {
    let missing = ServiceRole::Missing { arn: "arn:aws:iam::000000000000:role/ci".into() };
    let what = "read parameter /prod/db";
    assert_eq!(
        refusal(&missing, Refusal::Denied(Decision::ImplicitDeny), what, GET_PARAMETERS),
        "Role arn:aws:iam::000000000000:role/ci may not read parameter /prod/db (ssm:GetParameters)"
    );
    assert_eq!(
        refusal(&missing, Refusal::Denied(Decision::ExplicitDeny), what, GET_PARAMETERS),
        "Role arn:aws:iam::000000000000:role/ci may not read parameter /prod/db (ssm:GetParameters is denied explicitly)"
    );
    assert_eq!(
        refusal(&missing, Refusal::Missing, what, GET_PARAMETERS),
        "Role arn:aws:iam::000000000000:role/ci does not exist, so the build may not read parameter /prod/db (ssm:GetParameters)"
    );
    assert_eq!(
        refusal(&missing, Refusal::NotTrusted, what, GET_PARAMETERS),
        "Role arn:aws:iam::000000000000:role/ci does not trust codebuild.amazonaws.com (its trust policy does not let CodeBuild assume it), so the build may not read parameter /prod/db (ssm:GetParameters)"
    );
    let repo = "arn:aws:codecommit:us-east-1:000000000000:app";
    assert_eq!(
        git_refusal(&missing, Refusal::Denied(Decision::ImplicitDeny), "codecommit:GitPush", repo),
        "User: arn:aws:iam::000000000000:role/ci is not authorized to perform: codecommit:GitPush on resource: arn:aws:codecommit:us-east-1:000000000000:app because no identity-based policy allows the codecommit:GitPush action"
    );
    assert_eq!(
        git_refusal(&missing, Refusal::Missing, "codecommit:GitPush", repo),
        "Role arn:aws:iam::000000000000:role/ci does not exist, so the build may not reach arn:aws:codecommit:us-east-1:000000000000:app (codecommit:GitPush)"
    );
}

#[tokio::test]
async fn a_plan_resolves_what_its_role_may_read() {
    let (ctx, _dir) = test_context().await;
    role(&ctx, "ci", TRUST_CODEBUILD, READ_DEV).await;
    for (name, value) in [("/dev/db", "dev-pass"), ("/prod/db", "prod-pass"), ("/dev/locked", "x")]
    {
        ctx.secrets.put_parameter(name, value, false).await.unwrap();
    }
    ctx.secrets.put_secret("dev/token", r#"{"t":"tok"}"#, false).await.unwrap();
    ctx.secrets.put_secret("prod/token", "p", false).await.unwrap();
    let plan = plan(
        &["/dev/db", "/prod/db", "/dev/locked", "/dev/missing"],
        &["dev/token:t", "prod/token"],
    );
    let role_arn = "arn:aws:iam::000000000000:role/ci";
    for setting in ["ci", role_arn] {
        let resolved = gate_job(&ctx, &plan, &Value::Null, "p:1", setting, 0).await.unwrap();
        let values: Vec<(&str, &str)> =
            resolved.values.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        // A parameter that does not exist is left out (the executor says it was not found).
        assert_eq!(values, [("/dev/db", "dev-pass"), ("dev/token:t", "tok")]);
        let refused: Vec<(&str, &str)> =
            resolved.refused.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            refused,
            [
                (
                    "/dev/locked",
                    "Role arn:aws:iam::000000000000:role/ci may not read parameter /dev/locked (ssm:GetParameters is denied explicitly)"
                ),
                (
                    "/prod/db",
                    "Role arn:aws:iam::000000000000:role/ci may not read parameter /prod/db (ssm:GetParameters)"
                ),
                (
                    "prod/token",
                    "Role arn:aws:iam::000000000000:role/ci may not read secret prod/token (secretsmanager:GetSecretValue)"
                ),
            ]
        );
    }

    // A role that does not exist reads nothing, and says so.
    let resolved = gate_job(&ctx, &plan, &Value::Null, "p:1", "any", 0).await.unwrap();
    assert!(resolved.values.is_empty());
    assert_eq!(resolved.refused.len(), 6);
    assert_eq!(
        resolved.refused["/dev/db"],
        "Role arn:aws:iam::000000000000:role/any does not exist, so the build may not read parameter /dev/db (ssm:GetParameters)"
    );

    // Nor does one that does not trust CodeBuild.
    role(&ctx, "pipeline", TRUST_PIPELINE, READ_DEV).await;
    let resolved = gate_job(&ctx, &plan, &Value::Null, "p:1", "pipeline", 0).await.unwrap();
    assert!(resolved.values.is_empty());
    assert!(
        resolved.refused["/dev/db"].starts_with(
            "Role arn:aws:iam::000000000000:role/pipeline does not trust codebuild.amazonaws.com"
        ),
        "{:?}",
        resolved.refused
    );

    // A plan without references asks nothing of its role, whatever it is.
    let none = gate_job(&ctx, &BuildPlan::default(), &Value::Null, "p:1", "any", 0).await.unwrap();
    assert_eq!(none, Gated::default());
}

#[test]
fn s3_artifacts_are_written_to_location_path_and_name() {
    let spec = ArtifactSpec::default();
    let plan = BuildPlan {
        artifacts: Some(spec.clone()),
        secondary_artifacts: vec![("reports".to_owned(), spec.clone()), ("other".to_owned(), spec)],
        ..BuildPlan::default()
    };
    let settings = json!({
        "primary": { "type": "S3", "location": "bucket", "path": "out/", "name": "app.zip" },
        "secondary": [
            { "artifactIdentifier": "reports", "type": "S3", "location": "bucket", "namespaceType": "BUILD_ID" },
            { "artifactIdentifier": "other", "type": "NO_ARTIFACTS" },
        ],
    });
    assert_eq!(
        artifact_objects(&settings, &plan, "p:1234"),
        ["arn:aws:s3:::bucket/out/app.zip", "arn:aws:s3:::bucket/1234/reports.zip"]
    );
    // Nothing to package, nothing written.
    assert!(artifact_objects(&settings, &BuildPlan::default(), "p:1234").is_empty());
    let none = json!({ "primary": { "type": "NO_ARTIFACTS" }, "secondary": [] });
    assert!(artifact_objects(&none, &plan, "p:1234").is_empty());
}

#[tokio::test]
async fn s3_artifacts_need_put_object_on_their_object_in_a_bucket_that_exists() {
    let buckets = std::sync::Arc::new(crate::testing::MemoryBuckets::with_bucket("bucket"));
    let (ctx, _dir) = crate::testing::test_context_with(buckets).await;
    let write_out = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::bucket/out/*"}]}"#;
    role(&ctx, "ci", TRUST_CODEBUILD, write_out).await;
    let plan = BuildPlan { artifacts: Some(ArtifactSpec::default()), ..BuildPlan::default() };
    let settings = |path: &str| json!({ "primary": { "type": "S3", "location": "bucket", "path": path, "name": "app.zip" } });
    let allowed = gate_job(&ctx, &plan, &settings("out"), "p:1", "ci", 0).await.unwrap();
    assert_eq!(allowed, Gated::default());
    let refused = gate_job(&ctx, &plan, &settings("prod"), "p:1", "ci", 0).await.unwrap();
    assert_eq!(
        refused.refused_artifacts.as_deref(),
        Some(
            "Role arn:aws:iam::000000000000:role/ci may not write object arn:aws:s3:::bucket/prod/app.zip (s3:PutObject)"
        )
    );
    let missing = gate_job(&ctx, &plan, &settings("out"), "p:1", "gone", 0).await.unwrap();
    assert!(missing.refused_artifacts.unwrap().contains("role/gone does not exist"));
    // A role that may write, into a bucket that is not there.
    let write_all = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"*"}]}"#;
    role(&ctx, "writer", TRUST_CODEBUILD, write_all).await;
    let elsewhere =
        json!({ "primary": { "type": "S3", "location": "nowhere", "name": "app.zip" } });
    let refused = gate_job(&ctx, &plan, &elsewhere, "p:1", "writer", 0).await.unwrap();
    assert_eq!(
        refused.refused_artifacts.as_deref(),
        Some(
            "Bucket nowhere does not exist, so the build may not write object arn:aws:s3:::nowhere/app.zip"
        )
    );
}

#[tokio::test]
async fn an_s3_source_needs_get_object_on_a_zip_that_exists() {
    let buckets = std::sync::Arc::new(crate::testing::MemoryBuckets::with_bucket("src"));
    buckets.put("src", "app/source.zip", b"zip");
    let (ctx, _dir) = crate::testing::test_context_with(buckets).await;
    let read_app = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::src/app/*"}]}"#;
    role(&ctx, "ci", TRUST_CODEBUILD, read_app).await;
    assert_eq!(gate_source(&ctx, "ci", "src", "app/source.zip", 0).await.unwrap(), None);
    assert_eq!(
        gate_source(&ctx, "ci", "src", "other.zip", 0).await.unwrap().as_deref(),
        Some(
            "Role arn:aws:iam::000000000000:role/ci may not read object arn:aws:s3:::src/other.zip (s3:GetObject)"
        )
    );
    assert_eq!(
        gate_source(&ctx, "ci", "src", "app/gone.zip", 0).await.unwrap().as_deref(),
        Some("The build's source cannot be read: the object s3://src/app/gone.zip does not exist")
    );
    let missing = gate_source(&ctx, "gone", "src", "app/source.zip", 0).await.unwrap();
    assert!(missing.unwrap().contains("role/gone does not exist"), "the role is asked first");
}
