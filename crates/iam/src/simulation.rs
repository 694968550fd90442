//! IAM's policy simulator, so people can ask why they are refused: SimulatePrincipalPolicy
//! (the policies of a user, group or role, and any given beside them) and
//! SimulateCustomPolicy (only the policies given), each action on each resource judged by
//! [`crate::policy::evaluate`], with the statements that decided it and the context keys it
//! lacked — what `aws iam simulate-principal-policy` prints.

use std::sync::Arc;

use awsapi::ApiError;
use serde::{Deserialize, Serialize};

use crate::api;
use crate::effective::{EffectivePolicies, NamedPolicy, SourceType};
use crate::identity::Identity;
use crate::policies::EntityKind;
use crate::policy::{Context, Policy, Principal};

/// A context key given to the simulator.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContextEntry {
    pub context_key_name: Option<String>,
    #[serde(default)]
    pub context_key_values: Vec<String>,
    pub context_key_type: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SimulatePrincipalPolicyRequest {
    pub policy_source_arn: String,
    #[serde(default)]
    pub policy_input_list: Vec<String>,
    pub action_names: Vec<String>,
    #[serde(default)]
    pub resource_arns: Vec<String>,
    #[serde(default)]
    pub context_entries: Vec<ContextEntry>,
    pub marker: Option<String>,
    pub max_items: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SimulateCustomPolicyRequest {
    pub policy_input_list: Vec<String>,
    pub action_names: Vec<String>,
    #[serde(default)]
    pub resource_arns: Vec<String>,
    #[serde(default)]
    pub context_entries: Vec<ContextEntry>,
    pub caller_arn: Option<String>,
    pub marker: Option<String>,
    pub max_items: Option<u32>,
}

/// IAM's `Statement` shape (without positions: the documents are not kept as text with
/// line numbers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MatchedStatement {
    pub source_policy_id: String,
    pub source_policy_type: String,
}

/// IAM's `EvaluationResult` shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EvaluationResult {
    pub eval_action_name: String,
    pub eval_resource_name: String,
    /// `allowed`, `explicitDeny` or `implicitDeny`.
    pub eval_decision: String,
    pub matched_statements: Vec<MatchedStatement>,
    pub missing_context_values: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SimulatePolicyResponse {
    pub evaluation_results: Vec<EvaluationResult>,
    pub is_truncated: bool,
    pub marker: Option<String>,
}

/// The user, group or role an IAM ARN names, with its name.
fn entity_of(arn: &str, account: &str) -> Option<(EntityKind, String)> {
    let rest = arn.strip_prefix(&format!("arn:aws:iam::{account}:"))?;
    let (kind, path) = rest.split_once('/')?;
    let kind = match kind {
        "user" => EntityKind::User,
        "group" => EntityKind::Group,
        "role" => EntityKind::Role,
        _ => return None,
    };
    let name = path.rsplit('/').next().filter(|it| !it.is_empty())?;
    Some((kind, name.to_owned()))
}

/// The given documents as `PolicyInputList.<n>`.
fn given_policies(documents: &[String]) -> Result<Vec<NamedPolicy>, ApiError> {
    let mut policies = Vec::new();
    for (index, text) in documents.iter().enumerate() {
        let policy = Policy::parse_identity(text).map_err(|err| api::malformed(&err))?;
        policies.push(NamedPolicy {
            id: format!("PolicyInputList.{}", index + 1),
            source: SourceType::None,
            policy: Arc::new(policy),
        });
    }
    Ok(policies)
}

fn context_of(entries: &[ContextEntry]) -> Context {
    let mut context = Context::new();
    for entry in entries {
        if let Some(name) = &entry.context_key_name {
            context.set(name, entry.context_key_values.clone());
        }
    }
    context
}

/// Every action on every resource (`*` when none is named).
fn simulate(
    policies: &EffectivePolicies,
    actions: &[String],
    resources: &[String],
    context: &Context,
) -> Vec<EvaluationResult> {
    let star = ["*".to_owned()];
    let resources = if resources.is_empty() { &star[..] } else { resources };
    let mut results = Vec::new();
    for action in actions {
        for resource in resources {
            let evaluation = policies.evaluate(action, resource, context);
            let mut matched: Vec<MatchedStatement> = Vec::new();
            for statement in &evaluation.matched_statements {
                let source = policies.source_of(statement.policy);
                let id = match source {
                    SourceType::AwsManaged | SourceType::UserManaged => {
                        statement.policy.rsplit('/').next().unwrap_or(statement.policy)
                    }
                    _ => statement.policy,
                };
                let shown = MatchedStatement {
                    source_policy_id: id.to_owned(),
                    source_policy_type: source.as_str().to_owned(),
                };
                if !matched.contains(&shown) {
                    matched.push(shown);
                }
            }
            let mut missing: Vec<String> =
                evaluation.missing_context_values.iter().map(|it| (*it).to_owned()).collect();
            missing.dedup();
            results.push(EvaluationResult {
                eval_action_name: action.clone(),
                eval_resource_name: resource.clone(),
                eval_decision: evaluation.decision.as_str().to_owned(),
                matched_statements: matched,
                missing_context_values: missing,
            });
        }
    }
    results
}

fn paged(
    results: Vec<EvaluationResult>,
    marker: Option<&str>,
    max_items: Option<u32>,
) -> Result<SimulatePolicyResponse, ApiError> {
    let (evaluation_results, is_truncated, marker) = api::page(results, marker, max_items)?;
    Ok(SimulatePolicyResponse { evaluation_results, is_truncated, marker })
}

pub async fn simulate_principal_policy(
    identity: &Identity,
    input: SimulatePrincipalPolicyRequest,
) -> Result<SimulatePolicyResponse, ApiError> {
    let arn = &input.policy_source_arn;
    let not_found = || {
        api::invalid_input(&format!(
            "Invalid Entity Arn: {arn} does not clearly define entity type and name."
        ))
    };
    let (kind, name) = entity_of(arn, &identity.account).ok_or_else(not_found)?;
    let mut policies = identity.read_policies(kind, &name).await?.ok_or_else(|| {
        api::no_such_entity(&format!("The {} with name {name} cannot be found.", kind.label()))
    })?;
    policies.policies.extend(given_policies(&input.policy_input_list)?);
    let context = context_of(&input.context_entries);
    let results = simulate(&policies, &input.action_names, &input.resource_arns, &context);
    paged(results, input.marker.as_deref(), input.max_items)
}

pub async fn simulate_custom_policy(
    identity: &Identity,
    input: SimulateCustomPolicyRequest,
) -> Result<SimulatePolicyResponse, ApiError> {
    let caller = input.caller_arn.clone();
    let entity = caller.as_deref().and_then(|arn| entity_of(arn, &identity.account));
    let principal = Principal {
        arn: caller.unwrap_or_default(),
        account: identity.account.clone(),
        user_name: entity.filter(|(kind, _)| *kind == EntityKind::User).map(|(_, name)| name),
        user_id: String::new(),
    };
    let policies =
        EffectivePolicies { principal, policies: given_policies(&input.policy_input_list)? };
    let context = context_of(&input.context_entries);
    let results = simulate(&policies, &input.action_names, &input.resource_arns, &context);
    paged(results, input.marker.as_deref(), input.max_items)
}

#[cfg(test)]
mod tests;
