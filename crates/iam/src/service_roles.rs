//! A role as an AWS service acts as it: a CodeBuild project's `serviceRole` (and, when those
//! services come, a pipeline's `roleArn` and a deployment group's `serviceRoleArn`).
//!
//! The service names the role by its name or its ARN ([`role_name`], [`role_arn`]). It may act
//! as the role only when the role exists and its trust policy lets the service's principal
//! (`{"Service": "codebuild.amazonaws.com"}`) assume it, as AWS requires; then the role's
//! permissions policies ([`crate::effective`], cached) decide each action. A role that does
//! not exist, or does not trust the service, allows nothing. [`ServiceRole`] is that state,
//! read once ([`Identity::service_role`]); [`ServiceRole::check`] is the decision, pure, with
//! why a request is refused as data ([`Refusal`]), which the service words for its users.

use std::sync::Arc;

use awsapi::ApiError;

use crate::effective::EffectivePolicies;
use crate::identity::Identity;
use crate::policy::{self, Caller, Context, Decision, Policy};
use crate::roles::RoleRecord;

/// CodeBuild's service principal, which a project's service role must trust.
pub const CODEBUILD: &str = "codebuild.amazonaws.com";

/// The name of the role a service's setting names: the setting itself, or the last part of a
/// role ARN (`arn:aws:iam::<account>:role/<path/>name`).
pub fn role_name(setting: &str) -> &str {
    match setting.strip_prefix("arn:") {
        Some(_) => setting
            .split_once(":role/")
            .map_or(setting, |(_, path)| path.rsplit('/').next().unwrap_or(path)),
        None => setting,
    }
}

/// The ARN a service's setting names: the setting when it is an ARN, else the ARN of the role
/// of that name (without a path) in `account`.
pub fn role_arn(setting: &str, account: &str) -> String {
    if setting.starts_with("arn:") {
        setting.to_owned()
    } else {
        format!("arn:aws:iam::{account}:role/{setting}")
    }
}

/// A role as a service may use it.
#[derive(Debug, Clone)]
pub enum ServiceRole {
    /// The role exists and trusts the service: its policies decide.
    Usable(Arc<EffectivePolicies>),
    /// There is no such role (or the ARN names another path than the role's).
    Missing { arn: String },
    /// The role's trust policy does not let `service` assume it.
    NotTrusted { arn: String, service: String },
}

/// Why a service role does not allow a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The role's policies refuse it ([`Decision::ImplicitDeny`] or [`Decision::ExplicitDeny`]).
    Denied(Decision),
    /// The role does not exist.
    Missing,
    /// The role does not trust the service.
    NotTrusted,
}

impl ServiceRole {
    /// The role as found: the role (when it exists), its permissions policies (when they
    /// were read) and whether its trust policy lets `service` assume it. `setting` is the
    /// service's name or ARN for the role, `account` this installation's account.
    pub fn decide(
        setting: &str,
        account: &str,
        role: Option<&RoleRecord>,
        policies: Option<Arc<EffectivePolicies>>,
        service: &str,
    ) -> ServiceRole {
        let arn = role_arn(setting, account);
        let (Some(role), Some(policies)) = (role, policies) else {
            return ServiceRole::Missing { arn };
        };
        if setting.starts_with("arn:") && role.arn != setting {
            return ServiceRole::Missing { arn };
        }
        if !trusts(&role.assume_role_policy_document, service) {
            return ServiceRole::NotTrusted { arn: role.arn.clone(), service: service.to_owned() };
        }
        ServiceRole::Usable(policies)
    }

    /// The role's ARN (as named, when it does not exist).
    pub fn arn(&self) -> &str {
        match self {
            ServiceRole::Usable(policies) => &policies.principal.arn,
            ServiceRole::Missing { arn } | ServiceRole::NotTrusted { arn, .. } => arn,
        }
    }

    /// Whether the role allows `action` on `resource`, with the request's context keys.
    pub fn check(&self, action: &str, resource: &str, context: &Context) -> Result<(), Refusal> {
        match self {
            ServiceRole::Usable(policies) => {
                match policies.evaluate(action, resource, context).decision {
                    Decision::Allowed => Ok(()),
                    decision => Err(Refusal::Denied(decision)),
                }
            }
            ServiceRole::Missing { .. } => Err(Refusal::Missing),
            ServiceRole::NotTrusted { .. } => Err(Refusal::NotTrusted),
        }
    }
}

/// Whether a trust policy (as stored) lets the AWS service `service` assume its role. One
/// that no longer parses (it did when written) trusts nobody.
fn trusts(document: &str, service: &str) -> bool {
    match Policy::parse_trust(document) {
        Ok(policy) => {
            policy::evaluate_trust(&policy, Caller::Service(service), &Context::new()).decision
                == Decision::Allowed
        }
        Err(err) => {
            tracing::error!(%err, "a stored trust policy does not parse");
            false
        }
    }
}

impl Identity {
    /// The role `setting` (a name or an ARN) as the AWS service `service` may use it at
    /// `now_ms` (its policies as [`Identity::role_policies`] caches them).
    pub async fn service_role(
        &self,
        setting: &str,
        service: &str,
        now_ms: i64,
    ) -> Result<ServiceRole, ApiError> {
        let name = role_name(setting);
        let role = self.role(name).await?.map(|(record, _)| record);
        let policies = match &role {
            Some(_) => self.role_policies(name, now_ms).await?,
            None => None,
        };
        Ok(ServiceRole::decide(setting, &self.account, role.as_ref(), policies, service))
    }
}

#[cfg(test)]
mod tests;
