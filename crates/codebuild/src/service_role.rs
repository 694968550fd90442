//! What a build may do as its project's service role (`serviceRole`, a role name or ARN):
//! the parameters (`ssm:GetParameters`) and secrets (`secretsmanager:GetSecretValue`) it may
//! resolve, and the repositories its git token may reach (`codecommit:GitPull` /
//! `codecommit:GitPush`, decided by the server's `auth` with [`git_refusal`]).
//!
//! As in AWS, the build acts as the role only when the role exists and trusts CodeBuild's
//! service principal (`iam::service_roles`); otherwise what the role gates is refused (the
//! build itself still runs: its source is fetched with the agent's own token). A refusal names
//! the role and what was refused ([`refusal`]), distinct from a reference that is not found.

use std::collections::BTreeMap;

use iam::policy::{Context as Keys, Decision};
use iam::service_roles::{CODEBUILD, Refusal, ServiceRole};
use protocol::BuildPlan;

use crate::Context;
use crate::queue::AgentError;

/// The action a build's parameters are read with.
pub const GET_PARAMETERS: &str = "ssm:GetParameters";
/// The action a build's secrets are read with.
pub const GET_SECRET_VALUE: &str = "secretsmanager:GetSecretValue";

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

/// The parameters and secrets of a job as its role lets it read them at `now_ms`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Resolved {
    /// Reference → value, for those found.
    pub values: BTreeMap<String, String>,
    /// Reference → why the role may not read it.
    pub refused: BTreeMap<String, String>,
}

/// Every parameter and secret the plan refers to, from the server's secret store, that the
/// build's role (`role_setting`) allows. Missing ones are left out: the executor then fails
/// the build in PROVISIONING, naming them; refused ones are never read, and the executor
/// fails the build with the refusal.
pub async fn resolve_secrets(
    ctx: &Context,
    plan: &BuildPlan,
    role_setting: &str,
    now_ms: i64,
) -> Result<Resolved, AgentError> {
    let mut out = Resolved::default();
    if plan.parameter_store.is_empty() && plan.secrets_manager.is_empty() {
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
    Ok(out)
}

#[cfg(test)]
mod tests;
