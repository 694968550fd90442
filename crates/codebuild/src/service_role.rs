//! What a build may do as its project's service role (`serviceRole`, a role name or ARN):
//! the parameters (`ssm:GetParameters`) and secrets (`secretsmanager:GetSecretValue`) it may
//! resolve, the S3 objects its artifacts of type `S3` are written to (`s3:PutObject`, into a
//! bucket that must exist) and the zip its source of type `S3` is read from (`s3:GetObject`,
//! [`gate_source`]), all decided when the build is leased ([`gate_job`]); and the repositories
//! its git token may reach (`codecommit:GitPull` / `codecommit:GitPush`, decided by the
//! server's `auth` with [`git_refusal`]).
//!
//! As in AWS, the build acts as the role only when the role exists and trusts CodeBuild's
//! service principal (`iam::service_roles`); otherwise what the role gates is refused (the
//! build itself still runs: its source is fetched with the agent's own token). A refusal names
//! the role and what was refused ([`refusal`]), distinct from a reference that is not found.

use std::collections::BTreeMap;

use serde_json::Value;

use iam::policy::{Context as Keys, Decision};
use iam::service_roles::{CODEBUILD, Refusal, ServiceRole};
use protocol::BuildPlan;

use crate::Context;
use crate::artifacts::Destination;
use crate::buckets::BucketError;
use crate::queue::AgentError;

/// The action a build's parameters are read with.
pub const GET_PARAMETERS: &str = "ssm:GetParameters";
/// The action a build's secrets are read with.
pub const GET_SECRET_VALUE: &str = "secretsmanager:GetSecretValue";
/// The action a build's artifacts are written to S3 with.
pub const PUT_OBJECT: &str = "s3:PutObject";
/// The action a build's S3 source zip is read with.
pub const GET_OBJECT: &str = "s3:GetObject";

/// The role a build acts as, from the build's (or project's) `serviceRole`, at `now_ms`.
pub async fn build_role(
    ctx: &Context,
    setting: &str,
    now_ms: i64,
) -> Result<ServiceRole, AgentError> {
    ctx.identity.service_role(setting, CODEBUILD, now_ms).await.map_err(|err| {
        tracing::error!(role = %setting, err = %err.message, "reading a build's service role");
        crate::queue::internal()
    })
}

/// The context keys of a build's own requests at `now_ms` (`aws:CurrentTime`, …).
pub fn request_keys(now_ms: i64) -> Keys {
    let mut keys = Keys::new();
    keys.insert("aws:SecureTransport", "false");
    keys.insert("aws:MultiFactorAuthPresent", "false");
    keys.set_time(now_ms.div_euclid(1000));
    keys
}

/// The ARN of the parameter `name` (or the name's own ARN): the name without its leading `/`.
pub fn parameter_arn(ctx: &Context, name: &str) -> String {
    if name.starts_with("arn:") {
        return name.to_owned();
    }
    let bare = name.strip_prefix('/').unwrap_or(name);
    awsapi::arn::arn("ssm", &ctx.region, &ctx.account, &format!("parameter/{bare}"))
}

/// The ARN of the secret a secrets-manager reference reads.
pub fn secret_arn(ctx: &Context, reference: &str) -> String {
    let name = iam::secrets_store::secret_name(reference);
    awsapi::arn::arn("secretsmanager", &ctx.region, &ctx.account, &format!("secret:{name}"))
}

/// Why `role` may not do `what` (`read parameter /prod/db`) with `action`, in one sentence
/// naming the role.
pub fn refusal(role: &ServiceRole, refused: Refusal, what: &str, action: &str) -> String {
    let arn = role.arn();
    match refused {
        Refusal::Denied(Decision::ExplicitDeny) => {
            format!("Role {arn} may not {what} ({action} is denied explicitly)")
        }
        Refusal::Denied(_) => format!("Role {arn} may not {what} ({action})"),
        Refusal::Missing => {
            format!("Role {arn} does not exist, so the build may not {what} ({action})")
        }
        Refusal::NotTrusted => format!(
            "Role {arn} does not trust {CODEBUILD} (its trust policy does not let CodeBuild assume it), so the build may not {what} ({action})"
        ),
    }
}

/// Whether `role` may do `what` with `action` on `resource`: `Err` with [`refusal`]'s message.
pub fn gate(
    role: &ServiceRole,
    keys: &Keys,
    action: &str,
    resource: &str,
    what: &str,
) -> Result<(), String> {
    role.check(action, resource, keys).map_err(|refused| refusal(role, refused, what, action))
}

/// The message a build token's git request refused by its role is answered with: AWS's
/// wording for a refused identity-based policy, or why the role cannot be used.
pub fn git_refusal(role: &ServiceRole, refused: Refusal, action: &str, resource: &str) -> String {
    match refused {
        Refusal::Denied(decision) => {
            iam::policy::refusal_message(role.arn(), action, resource, decision).unwrap_or_default()
        }
        Refusal::Missing | Refusal::NotTrusted => {
            refusal(role, refused, &format!("reach {resource}"), action)
        }
    }
}

/// The S3 objects (their ARNs, `arn:aws:s3:::<location>/<path>/<name>`) a build's artifacts
/// of type `S3` are written to: for the primary artifact and each secondary one the plan
/// packages, when the project's artifact of that identifier (`artifacts`: the build's
/// `{"primary", "secondary"}` settings) says `S3`. A `namespaceType` of `BUILD_ID` puts the
/// build's id (its uuid) between path and name; without a `name`, the zip's own
/// (`artifacts.zip`, `<identifier>.zip`); see [`crate::artifacts::s3_object`] (with packaging
/// `NONE` the ARN is the folder's the files go into). The name is the project's even when
/// `overrideArtifactName` lets the buildspec name the zip: that name is known only when the
/// build ends, and this is decided when it is leased.
pub fn artifact_objects(artifacts: &Value, plan: &BuildPlan, build_id: &str) -> Vec<String> {
    artifact_destinations(artifacts, plan, build_id).iter().map(Destination::location).collect()
}

/// The S3 destinations of [`artifact_objects`].
fn artifact_destinations(artifacts: &Value, plan: &BuildPlan, build_id: &str) -> Vec<Destination> {
    let mut wanted: Vec<Option<&str>> = Vec::new();
    if plan.artifacts.is_some() {
        wanted.push(None);
    }
    wanted.extend(plan.secondary_artifacts.iter().map(|(identifier, _)| Some(identifier.as_str())));
    let uuid = build_id.split_once(':').map_or(build_id, |(_, uuid)| uuid);
    wanted
        .into_iter()
        .filter_map(|identifier| {
            let setting = crate::artifacts::setting(artifacts, identifier);
            let file =
                identifier.map_or_else(|| "artifacts.zip".to_owned(), |id| format!("{id}.zip"));
            let (name, _) = crate::artifacts::name(setting, None);
            crate::artifacts::s3_object(setting, uuid, &file, name)
        })
        .collect()
}

/// What a leased job may read and write as its role.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Gated {
    /// Reference → value, for the parameters and secrets found.
    pub values: BTreeMap<String, String>,
    /// Reference → why the role may not read it.
    pub refused: BTreeMap<String, String>,
    /// Why the role may not write the first artifact object it may not write, or why the
    /// first bucket that does not exist cannot be written, if any.
    pub refused_artifacts: Option<String>,
}

/// Every parameter and secret the plan refers to, from the server's secret store, that the
/// build's role (`role_setting`) allows, and whether it may write its S3 artifacts
/// ([`artifact_objects`] of the build's `artifacts` settings). Missing parameters and secrets
/// are left out: the executor then fails the build in PROVISIONING, naming them; refused
/// ones are never read, and the executor ends the build FAULT with the refusal (in
/// PROVISIONING; for artifacts, in UPLOAD_ARTIFACTS). A plan that needs none of it asks
/// nothing of its role, whatever the role is.
pub async fn gate_job(
    ctx: &Context,
    plan: &BuildPlan,
    artifacts: &Value,
    build_id: &str,
    role_setting: &str,
    now_ms: i64,
) -> Result<Gated, AgentError> {
    let mut out = Gated::default();
    let destinations = artifact_destinations(artifacts, plan, build_id);
    let objects: Vec<String> = destinations.iter().map(Destination::location).collect();
    if plan.parameter_store.is_empty() && plan.secrets_manager.is_empty() && objects.is_empty() {
        return Ok(out);
    }
    let role = build_role(ctx, role_setting, now_ms).await?;
    let keys = request_keys(now_ms);
    for reference in &plan.parameter_store {
        let name = &reference.reference;
        let what = format!("read parameter {name}");
        if let Err(why) = gate(&role, &keys, GET_PARAMETERS, &parameter_arn(ctx, name), &what) {
            out.refused.insert(name.clone(), why);
        } else if let Some(value) = ctx.secrets.get_parameter(name).await? {
            out.values.insert(name.clone(), value);
        }
    }
    for reference in &plan.secrets_manager {
        let reference = &reference.reference;
        let what = format!("read secret {}", iam::secrets_store::secret_name(reference));
        let arn = secret_arn(ctx, reference);
        if let Err(why) = gate(&role, &keys, GET_SECRET_VALUE, &arn, &what) {
            out.refused.insert(reference.clone(), why);
        } else if let Some(value) = ctx.secrets.resolve_secret(reference).await? {
            out.values.insert(reference.clone(), value);
        }
    }
    out.refused_artifacts = objects
        .iter()
        .find_map(|arn| gate(&role, &keys, PUT_OBJECT, arn, &format!("write object {arn}")).err());
    if out.refused_artifacts.is_none() {
        out.refused_artifacts = missing_bucket(ctx, &destinations).await?;
    }
    Ok(out)
}

/// Why the first of `destinations` whose bucket does not exist cannot be written, naming
/// the bucket; `None` when every bucket exists.
async fn missing_bucket(
    ctx: &Context,
    destinations: &[Destination],
) -> Result<Option<String>, AgentError> {
    for destination in destinations {
        let Destination::S3 { bucket, .. } = destination else { continue };
        let exists = ctx.buckets.bucket_exists(bucket).await.map_err(|err| {
            tracing::error!(%bucket, %err, "looking up an artifacts' bucket");
            crate::queue::internal()
        })?;
        if !exists {
            let arn = destination.location();
            return Ok(Some(format!(
                "Bucket {bucket} does not exist, so the build may not write object {arn}"
            )));
        }
    }
    Ok(None)
}

/// Whether a build acting as `role_setting` may read its S3 source, the zip `key` of
/// `bucket` (`s3:GetObject`, and the object must exist): `Some` with why not, naming the role
/// or the object. The executor ends the build FAULT in DOWNLOAD_SOURCE with it.
pub async fn gate_source(
    ctx: &Context,
    role_setting: &str,
    bucket: &str,
    key: &str,
    now_ms: i64,
) -> Result<Option<String>, AgentError> {
    let role = build_role(ctx, role_setting, now_ms).await?;
    let arn = crate::buckets::object_arn(bucket, key);
    let what = format!("read object {arn}");
    if let Err(why) = gate(&role, &request_keys(now_ms), GET_OBJECT, &arn, &what) {
        return Ok(Some(why));
    }
    match ctx.buckets.head_object(bucket, key).await {
        Ok(_) => Ok(None),
        Err(err @ (BucketError::NoSuchBucket(_) | BucketError::NoSuchKey { .. })) => {
            Ok(Some(format!("The build's source cannot be read: {err}")))
        }
        Err(err) => {
            tracing::error!(%bucket, %key, %err, "looking up a build's source zip");
            Err(crate::queue::internal())
        }
    }
}

#[cfg(test)]
mod tests;
