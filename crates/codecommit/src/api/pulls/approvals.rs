//! Approval rules of pull requests, the approvals that satisfy them and the override.
//!
//! A rule's content is CodeCommit's JSON rule document (version `2018-11-08`): statements of
//! type `Approvers`, each needing `NumberOfApprovalsNeeded` approvals from users matching its
//! `ApprovalPoolMembers` (user ARNs or `CodeCommitApprovers:<account>:<name>`, both with `*`
//! wildcards; without a pool every approval counts). Approvals and the override belong to one
//! revision: the pull request's refresh drops them when the source branch moves.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{
    BOOKKEEPING, load, modify, push_event, require_open, required_id, sha256_hex, timestamp,
    user_arn,
};
use crate::Context;
use crate::api::Empty;
use crate::api::error;
use awsapi::ApiError;
use awsapi::Caller;

/// The rule document version CodeCommit accepts.
const RULE_VERSION: &str = "2018-11-08";
/// The most approval rules one pull request may have.
const MAX_RULES: usize = 25;
const MAX_RULE_NAME: usize = 100;

/// One `Approvers` statement of a rule.
#[derive(Debug, PartialEq, Eq)]
pub(in crate::api) struct Statement {
    pub needed: usize,
    pub pool: Vec<String>,
}

/// Parses a rule document; why it is not valid otherwise.
pub(in crate::api) fn parse_rule(content: &str) -> Result<Vec<Statement>, String> {
    let document: Value =
        serde_json::from_str(content).map_err(|err| format!("not JSON: {err}"))?;
    if document["Version"] != RULE_VERSION {
        return Err(format!("Version must be {RULE_VERSION}"));
    }
    if let Some(references) = document.get("DestinationReferences")
        && !references.as_array().is_some_and(|it| it.iter().all(Value::is_string))
    {
        return Err("DestinationReferences must be a list of references".to_owned());
    }
    let statements = document["Statements"]
        .as_array()
        .filter(|it| !it.is_empty())
        .ok_or("Statements must be a non-empty list")?;
    statements
        .iter()
        .map(|statement| {
            if statement["Type"] != "Approvers" {
                return Err("every statement must be of Type Approvers".to_owned());
            }
            let needed = statement["NumberOfApprovalsNeeded"]
                .as_u64()
                .filter(|it| *it >= 1)
                .ok_or("NumberOfApprovalsNeeded must be a positive integer")?;
            let pool = match statement.get("ApprovalPoolMembers") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(members)) => members
                    .iter()
                    .map(|it| it.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or("ApprovalPoolMembers must be strings")?,
                Some(_) => return Err("ApprovalPoolMembers must be a list".to_owned()),
            };
            Ok(Statement { needed: usize::try_from(needed).unwrap_or(usize::MAX), pool })
        })
        .collect()
}

/// `*` matches any run of characters, `?` any one; everything else itself.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let (pattern, text): (Vec<char>, Vec<char>) =
        (pattern.chars().collect(), text.chars().collect());
    // The classic greedy matcher with one backtrack point: linear enough for ARNs.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|it| *it == '*')
}

/// Whether a pool member names the user of `arn` (`arn:aws:iam::<account>:user/<name>`).
pub(crate) fn in_pool(member: &str, arn: &str) -> bool {
    match member.strip_prefix("CodeCommitApprovers:") {
        Some(rest) => {
            let Some((account, name)) = rest.split_once(':') else { return false };
            let Some((user_account, user_name)) =
                arn.strip_prefix("arn:aws:iam::").and_then(|it| it.split_once(":user/"))
            else {
                return false;
            };
            glob(account, user_account) && glob(name, user_name)
        }
        None => glob(member, arn),
    }
}

/// Whether the approvals of `approvers` satisfy a rule's content (a rule that no longer
/// parses is never satisfied).
pub(crate) fn satisfied(content: &str, approvers: &[&str]) -> bool {
    let Ok(statements) = parse_rule(content) else { return false };
    statements.iter().all(|statement| {
        let counted = approvers
            .iter()
            .filter(|user| {
                statement.pool.is_empty() || statement.pool.iter().any(|it| in_pool(it, user))
            })
            .count();
        counted >= statement.needed
    })
}

/// The users who approved the pull request's current revision.
fn approvers(body: &Value) -> Vec<&str> {
    let revision = &body["revisionId"];
    body[BOOKKEEPING]["approvals"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|it| &it["revisionId"] == revision)
        .filter_map(|it| it["userArn"].as_str())
        .collect()
}

/// Who overrode the rules of the current revision, if anyone did.
fn overrider(body: &Value) -> Option<&str> {
    let overridden = &body[BOOKKEEPING]["override"];
    (overridden["revisionId"] == body["revisionId"])
        .then(|| overridden["overrider"].as_str())
        .flatten()
}

/// CodeCommit's `Evaluation` of a pull request's current revision.
pub(crate) fn evaluation(body: &Value) -> Value {
    let approvers = approvers(body);
    let (mut yes, mut no) = (Vec::new(), Vec::new());
    for rule in body["approvalRules"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let name = rule["approvalRuleName"].clone();
        if satisfied(rule["approvalRuleContent"].as_str().unwrap_or_default(), &approvers) {
            yes.push(name);
        } else {
            no.push(name);
        }
    }
    json!({
        "approved": no.is_empty(),
        "overridden": overrider(body).is_some(),
        "approvalRulesSatisfied": yes,
        "approvalRulesNotSatisfied": no,
    })
}

/// Whether a merge may go ahead: every rule satisfied, or the rules overridden.
pub(crate) fn mergeable(body: &Value) -> bool {
    let evaluation = evaluation(body);
    evaluation["approved"] == true || evaluation["overridden"] == true
}

fn rule_name(name: Option<&str>) -> Result<String, ApiError> {
    let name = name.filter(|it| !it.is_empty()).ok_or_else(|| {
        error("ApprovalRuleNameRequiredException", "An approval rule name is required")
    })?;
    if name.chars().count() > MAX_RULE_NAME {
        return Err(error(
            "InvalidApprovalRuleNameException",
            format!("The approval rule name {name} is longer than {MAX_RULE_NAME} characters"),
        ));
    }
    Ok(name.to_owned())
}

fn rule_content(content: Option<&str>) -> Result<String, ApiError> {
    let content = content.filter(|it| !it.is_empty()).ok_or_else(|| {
        error("ApprovalRuleContentRequiredException", "The approval rule content is required")
    })?;
    parse_rule(content).map_err(|why| {
        error(
            "InvalidApprovalRuleContentException",
            format!("The approval rule content is not valid: {why}"),
        )
    })?;
    Ok(content.to_owned())
}

fn rules_mut(body: &mut Value) -> &mut Vec<Value> {
    if !body["approvalRules"].is_array() {
        body["approvalRules"] = json!([]);
    }
    body["approvalRules"].as_array_mut().expect("made an array above")
}

fn rule_event(rule: &Value) -> Value {
    json!({
        "approvalRuleName": rule["approvalRuleName"],
        "approvalRuleId": rule["approvalRuleId"],
        "approvalRuleContent": rule["approvalRuleContent"],
    })
}

/// An approval rule as it is kept and returned (CodeCommit's `ApprovalRule`, a JSON document).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRuleOutput {
    pub approval_rule: Value,
}

pub type CreatePullRequestApprovalRuleOutput = ApprovalRuleOutput;
pub type UpdatePullRequestApprovalRuleContentOutput = ApprovalRuleOutput;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatePullRequestApprovalRuleInput {
    pub pull_request_id: Option<String>,
    pub approval_rule_name: Option<String>,
    pub approval_rule_content: Option<String>,
}

pub async fn create_pull_request_approval_rule(
    ctx: &Context,
    caller: &Caller,
    input: CreatePullRequestApprovalRuleInput,
    now: i64,
) -> Result<CreatePullRequestApprovalRuleOutput, ApiError> {
    let id = required_id(input.pull_request_id.as_deref())?;
    let name = rule_name(input.approval_rule_name.as_deref())?;
    let content = rule_content(input.approval_rule_content.as_deref())?;
    let actor = user_arn(ctx, caller);
    let rule_id = uuid::Uuid::new_v4().to_string();
    let (_, rule) = modify(ctx, &id, now, |body| {
        require_open(body)?;
        let rules = rules_mut(body);
        if rules.iter().any(|it| it["approvalRuleName"] == name.as_str()) {
            return Err(error(
                "ApprovalRuleNameAlreadyExistsException",
                format!("An approval rule named {name} already exists"),
            ));
        }
        if rules.len() >= MAX_RULES {
            return Err(error(
                "NumberOfRulesExceededException",
                format!("A pull request has at most {MAX_RULES} approval rules"),
            ));
        }
        let at = timestamp(now);
        let rule = json!({
            "approvalRuleId": rule_id,
            "approvalRuleName": name,
            "approvalRuleContent": content,
            "ruleContentSha256": sha256_hex(&content),
            "lastModifiedDate": at,
            "creationDate": at,
            "lastModifiedUser": actor,
        });
        rules.push(rule.clone());
        push_event(
            body,
            now,
            "PULL_REQUEST_APPROVAL_RULE_CREATED",
            &actor,
            Some(("approvalRuleEventMetadata", rule_event(&rule))),
        );
        Ok(rule)
    })
    .await?;
    Ok(ApprovalRuleOutput { approval_rule: rule })
}

fn missing_rule(name: &str) -> ApiError {
    error("ApprovalRuleDoesNotExistException", format!("The approval rule {name} does not exist"))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdatePullRequestApprovalRuleContentInput {
    pub pull_request_id: Option<String>,
    pub approval_rule_name: Option<String>,
    pub existing_rule_content_sha256: Option<String>,
    pub new_rule_content: Option<String>,
}

pub async fn update_pull_request_approval_rule_content(
    ctx: &Context,
    caller: &Caller,
    input: UpdatePullRequestApprovalRuleContentInput,
    now: i64,
) -> Result<UpdatePullRequestApprovalRuleContentOutput, ApiError> {
    let id = required_id(input.pull_request_id.as_deref())?;
    let name = rule_name(input.approval_rule_name.as_deref())?;
    let content = rule_content(input.new_rule_content.as_deref())?;
    let expected = input.existing_rule_content_sha256.as_deref().filter(|it| !it.is_empty());
    let actor = user_arn(ctx, caller);
    let (_, rule) = modify(ctx, &id, now, |body| {
        require_open(body)?;
        let rule = rules_mut(body)
            .iter_mut()
            .find(|it| it["approvalRuleName"] == name.as_str())
            .ok_or_else(|| missing_rule(&name))?;
        if rule.get("originApprovalRuleTemplate").is_some_and(|it| !it.is_null()) {
            return Err(error(
                "CannotModifyApprovalRuleFromTemplateException",
                format!("The approval rule {name} was made from a template"),
            ));
        }
        if let Some(expected) = expected
            && rule["ruleContentSha256"] != expected
        {
            return Err(error(
                "InvalidRuleContentSha256Exception",
                "The rule's content has changed since its SHA-256 was read",
            ));
        }
        rule["approvalRuleContent"] = json!(content);
        rule["ruleContentSha256"] = json!(sha256_hex(&content));
        rule["lastModifiedDate"] = json!(timestamp(now));
        rule["lastModifiedUser"] = json!(actor);
        let rule = rule.clone();
        push_event(
            body,
            now,
            "PULL_REQUEST_APPROVAL_RULE_UPDATED",
            &actor,
            Some(("approvalRuleEventMetadata", rule_event(&rule))),
        );
        Ok(rule)
    })
    .await?;
    Ok(ApprovalRuleOutput { approval_rule: rule })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletePullRequestApprovalRuleInput {
    pub pull_request_id: Option<String>,
    pub approval_rule_name: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletePullRequestApprovalRuleOutput {
    /// Empty when there was no such rule.
    pub approval_rule_id: String,
}

pub async fn delete_pull_request_approval_rule(
    ctx: &Context,
    caller: &Caller,
    input: DeletePullRequestApprovalRuleInput,
    now: i64,
) -> Result<DeletePullRequestApprovalRuleOutput, ApiError> {
    let id = required_id(input.pull_request_id.as_deref())?;
    let name = rule_name(input.approval_rule_name.as_deref())?;
    let actor = user_arn(ctx, caller);
    let (_, rule_id) = modify(ctx, &id, now, |body| {
        require_open(body)?;
        let rules = rules_mut(body);
        // Deleting a rule that does not exist succeeds with an empty id, as in CodeCommit.
        let Some(at) = rules.iter().position(|it| it["approvalRuleName"] == name.as_str()) else {
            return Ok(String::new());
        };
        if rules[at].get("originApprovalRuleTemplate").is_some_and(|it| !it.is_null()) {
            return Err(error(
                "CannotDeleteApprovalRuleFromTemplateException",
                format!("The approval rule {name} was made from a template"),
            ));
        }
        let rule = rules.remove(at);
        push_event(
            body,
            now,
            "PULL_REQUEST_APPROVAL_RULE_DELETED",
            &actor,
            Some(("approvalRuleEventMetadata", rule_event(&rule))),
        );
        Ok(rule["approvalRuleId"].as_str().unwrap_or_default().to_owned())
    })
    .await?;
    Ok(DeletePullRequestApprovalRuleOutput { approval_rule_id: rule_id })
}

fn required_revision(revision: Option<&str>) -> Result<String, ApiError> {
    revision
        .filter(|it| !it.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| error("RevisionIdRequiredException", "A revision ID is required"))
}

fn require_current(body: &Value, revision: &str) -> Result<(), ApiError> {
    if body["revisionId"] == revision {
        Ok(())
    } else {
        Err(error(
            "RevisionNotCurrentException",
            format!("The revision {revision} is not the current revision of the pull request"),
        ))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdatePullRequestApprovalStateInput {
    pub pull_request_id: Option<String>,
    pub revision_id: Option<String>,
    pub approval_state: Option<String>,
}

pub async fn update_pull_request_approval_state(
    ctx: &Context,
    caller: &Caller,
    input: UpdatePullRequestApprovalStateInput,
    now: i64,
) -> Result<Empty, ApiError> {
    let id = required_id(input.pull_request_id.as_deref())?;
    let revision = required_revision(input.revision_id.as_deref())?;
    let approval =
        input.approval_state.as_deref().filter(|it| !it.is_empty()).ok_or_else(|| {
            error("ApprovalStateRequiredException", "An approval state is required")
        })?;
    if !["APPROVE", "REVOKE"].contains(&approval) {
        return Err(error(
            "InvalidApprovalStateException",
            format!("The approval state {approval} is not valid"),
        ));
    }
    let actor = user_arn(ctx, caller);
    modify(ctx, &id, now, |body| {
        require_open(body)?;
        require_current(body, &revision)?;
        if approval == "APPROVE" && body["authorArn"] == actor.as_str() {
            return Err(error(
                "PullRequestCannotBeApprovedByAuthorException",
                "The author of a pull request cannot approve it",
            ));
        }
        let approvals = &mut body[BOOKKEEPING]["approvals"];
        if !approvals.is_array() {
            *approvals = json!([]);
        }
        let list = approvals.as_array_mut().expect("made an array above");
        let had = list
            .iter()
            .any(|it| it["userArn"] == actor.as_str() && it["revisionId"] == revision.as_str());
        list.retain(|it| it["userArn"] != actor.as_str());
        if approval == "APPROVE" {
            list.push(json!({ "userArn": actor, "revisionId": revision }));
        }
        // Only a change of state is an event: approving twice records one approval.
        if had != (approval == "APPROVE") {
            let metadata = json!({ "revisionId": revision, "approvalStatus": approval });
            push_event(
                body,
                now,
                "PULL_REQUEST_APPROVAL_STATE_CHANGED",
                &actor,
                Some(("approvalStateChangedEventMetadata", metadata)),
            );
        }
        Ok(())
    })
    .await?;
    Ok(Empty {})
}

/// The input of the reads of one pull request revision's approvals.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PullRequestRevisionInput {
    pub pull_request_id: Option<String>,
    pub revision_id: Option<String>,
}

pub type GetPullRequestApprovalStatesInput = PullRequestRevisionInput;
pub type EvaluatePullRequestApprovalRulesInput = PullRequestRevisionInput;
pub type GetPullRequestOverrideStateInput = PullRequestRevisionInput;

/// CodeCommit's `Approval`: a user who approved a revision.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    pub user_arn: String,
    pub approval_state: &'static str,
}

#[derive(Debug, Serialize)]
pub struct GetPullRequestApprovalStatesOutput {
    pub approvals: Vec<Approval>,
}

pub async fn get_pull_request_approval_states(
    ctx: &Context,
    input: GetPullRequestApprovalStatesInput,
    now: i64,
) -> Result<GetPullRequestApprovalStatesOutput, ApiError> {
    let id = required_id(input.pull_request_id.as_deref())?;
    let revision = required_revision(input.revision_id.as_deref())?;
    let body = load(ctx, &id, now).await?;
    // The approvals of an earlier revision are gone with it.
    let approvals = if body["revisionId"] == revision.as_str() {
        approvers(&body)
            .into_iter()
            .map(|it| Approval { user_arn: it.to_owned(), approval_state: "APPROVE" })
            .collect()
    } else {
        Vec::new()
    };
    Ok(GetPullRequestApprovalStatesOutput { approvals })
}

#[derive(Debug, Serialize)]
pub struct EvaluatePullRequestApprovalRulesOutput {
    /// CodeCommit's `Evaluation` (see `evaluation`).
    pub evaluation: Value,
}

pub async fn evaluate_pull_request_approval_rules(
    ctx: &Context,
    input: EvaluatePullRequestApprovalRulesInput,
    now: i64,
) -> Result<EvaluatePullRequestApprovalRulesOutput, ApiError> {
    let id = required_id(input.pull_request_id.as_deref())?;
    let revision = required_revision(input.revision_id.as_deref())?;
    let body = load(ctx, &id, now).await?;
    require_current(&body, &revision)?;
    Ok(EvaluatePullRequestApprovalRulesOutput { evaluation: evaluation(&body) })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OverridePullRequestApprovalRulesInput {
    pub pull_request_id: Option<String>,
    pub revision_id: Option<String>,
    pub override_status: Option<String>,
}

pub async fn override_pull_request_approval_rules(
    ctx: &Context,
    caller: &Caller,
    input: OverridePullRequestApprovalRulesInput,
    now: i64,
) -> Result<Empty, ApiError> {
    let id = required_id(input.pull_request_id.as_deref())?;
    let revision = required_revision(input.revision_id.as_deref())?;
    let status = input.override_status.as_deref().filter(|it| !it.is_empty()).ok_or_else(|| {
        error("OverrideStatusRequiredException", "An override status is required")
    })?;
    if !["OVERRIDE", "REVOKE"].contains(&status) {
        return Err(error(
            "InvalidOverrideStatusException",
            format!("The override status {status} is not valid"),
        ));
    }
    let actor = user_arn(ctx, caller);
    modify(ctx, &id, now, |body| {
        require_open(body)?;
        require_current(body, &revision)?;
        let overridden = overrider(body).is_some();
        if overridden == (status == "OVERRIDE") {
            return Err(error(
                "OverrideAlreadySetException",
                format!(
                    "The override status is already {}",
                    if overridden { "OVERRIDE" } else { "REVOKE" }
                ),
            ));
        }
        body[BOOKKEEPING]["override"] = if status == "OVERRIDE" {
            json!({ "revisionId": revision, "overrider": actor })
        } else {
            Value::Null
        };
        let metadata = json!({ "revisionId": revision, "overrideStatus": status });
        push_event(
            body,
            now,
            "PULL_REQUEST_APPROVAL_RULE_OVERRIDDEN",
            &actor,
            Some(("approvalRuleOverriddenEventMetadata", metadata)),
        );
        Ok(())
    })
    .await?;
    Ok(Empty {})
}

#[derive(Debug, Serialize)]
pub struct GetPullRequestOverrideStateOutput {
    pub overridden: bool,
    /// Who overrode the rules, when they are overridden.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overrider: Option<String>,
}

pub async fn get_pull_request_override_state(
    ctx: &Context,
    input: GetPullRequestOverrideStateInput,
    now: i64,
) -> Result<GetPullRequestOverrideStateOutput, ApiError> {
    let id = required_id(input.pull_request_id.as_deref())?;
    let revision = required_revision(input.revision_id.as_deref())?;
    let body = load(ctx, &id, now).await?;
    let by = if body["revisionId"] == revision.as_str() { overrider(&body) } else { None };
    Ok(GetPullRequestOverrideStateOutput {
        overridden: by.is_some(),
        overrider: by.map(str::to_owned),
    })
}
