//! The CodeCommit operation table: an operation's JSON input parsed into its typed struct
//! (`awsapi::json::typed`), the `codecommit` crate's function for it, and its output back to
//! JSON; any other operation is an `UnknownOperationException`.

use awsapi::json::typed;
use awsapi::{ApiError, Caller};
use codecommit::{api, triggers};
use serde::Serialize;
use serde_json::Value;

use crate::AppState;

/// Runs the CodeCommit `operation` on its JSON `input`.
pub(crate) async fn call(
    state: &AppState,
    caller: &Caller,
    operation: &str,
    input: Value,
) -> Result<Value, ApiError> {
    let ctx = &state.codecommit();
    let now = engine::clock::now_ms();
    match operation {
        "CreateRepository" => json(api::create_repository(ctx, caller, typed(input)?, now).await),
        "GetRepository" => json(api::get_repository(ctx, caller, typed(input)?).await),
        "BatchGetRepositories" => {
            json(api::batch_get_repositories(ctx, caller, typed(input)?).await)
        }
        "ListRepositories" => json(api::list_repositories(ctx, typed(input)?).await),
        "DeleteRepository" => json(api::delete_repository(ctx, typed(input)?).await),
        "UpdateRepositoryDescription" => {
            json(api::update_repository_description(ctx, typed(input)?, now).await)
        }
        "UpdateRepositoryName" => json(api::update_repository_name(ctx, typed(input)?).await),
        "UpdateDefaultBranch" => json(api::update_default_branch(ctx, typed(input)?, now).await),
        "CreateBranch" => json(api::create_branch(ctx, caller, typed(input)?).await),
        "GetBranch" => json(api::get_branch(ctx, typed(input)?).await),
        "ListBranches" => json(api::list_branches(ctx, typed(input)?).await),
        "DeleteBranch" => json(api::delete_branch(ctx, caller, typed(input)?).await),
        "GetCommit" => json(api::get_commit(ctx, typed(input)?).await),
        "GetFile" => json(api::get_file(ctx, typed(input)?).await),
        "GetBlob" => json(api::get_blob(ctx, typed(input)?).await),
        "GetFolder" => json(api::get_folder(ctx, typed(input)?).await),
        "BatchGetCommits" => json(api::batch_get_commits(ctx, typed(input)?).await),
        "GetDifferences" => json(api::get_differences(ctx, typed(input)?).await),
        "PutFile" => json(api::put_file(ctx, caller, typed(input)?, now).await),
        "CreateCommit" => json(api::create_commit(ctx, caller, typed(input)?, now).await),
        "PutRepositoryTriggers" => {
            json(triggers::put_repository_triggers(ctx, typed(input)?).await)
        }
        "GetRepositoryTriggers" => {
            json(triggers::get_repository_triggers(ctx, typed(input)?).await)
        }
        "TestRepositoryTriggers" => {
            json(triggers::test_repository_triggers(ctx, typed(input)?, now).await)
        }
        "CreateApprovalRuleTemplate" => {
            json(api::create_approval_rule_template(ctx, caller, typed(input)?, now).await)
        }
        "GetApprovalRuleTemplate" => {
            json(api::get_approval_rule_template(ctx, typed(input)?).await)
        }
        "DeleteApprovalRuleTemplate" => {
            json(api::delete_approval_rule_template(ctx, typed(input)?).await)
        }
        "ListApprovalRuleTemplates" => {
            json(api::list_approval_rule_templates(ctx, typed(input)?).await)
        }
        "UpdateApprovalRuleTemplateName" => {
            json(api::update_approval_rule_template_name(ctx, caller, typed(input)?, now).await)
        }
        "UpdateApprovalRuleTemplateDescription" => json(
            api::update_approval_rule_template_description(ctx, caller, typed(input)?, now).await,
        ),
        "UpdateApprovalRuleTemplateContent" => {
            json(api::update_approval_rule_template_content(ctx, caller, typed(input)?, now).await)
        }
        "AssociateApprovalRuleTemplateWithRepository" => {
            json(api::associate_approval_rule_template_with_repository(ctx, typed(input)?).await)
        }
        "DisassociateApprovalRuleTemplateFromRepository" => {
            json(api::disassociate_approval_rule_template_from_repository(ctx, typed(input)?).await)
        }
        "BatchAssociateApprovalRuleTemplateWithRepositories" => json(
            api::batch_associate_approval_rule_template_with_repositories(ctx, typed(input)?).await,
        ),
        "BatchDisassociateApprovalRuleTemplateFromRepositories" => json(
            api::batch_disassociate_approval_rule_template_from_repositories(ctx, typed(input)?)
                .await,
        ),
        "ListAssociatedApprovalRuleTemplatesForRepository" => json(
            api::list_associated_approval_rule_templates_for_repository(ctx, typed(input)?).await,
        ),
        "ListRepositoriesForApprovalRuleTemplate" => {
            json(api::list_repositories_for_approval_rule_template(ctx, typed(input)?).await)
        }
        "CreatePullRequest" => {
            json(api::create_pull_request(ctx, caller, typed(input)?, now).await)
        }
        "GetPullRequest" => json(api::get_pull_request(ctx, typed(input)?, now).await),
        "ListPullRequests" => json(api::list_pull_requests(ctx, typed(input)?).await),
        "UpdatePullRequestTitle" => {
            json(api::update_pull_request_title(ctx, typed(input)?, now).await)
        }
        "UpdatePullRequestDescription" => {
            json(api::update_pull_request_description(ctx, typed(input)?, now).await)
        }
        "UpdatePullRequestStatus" => {
            json(api::update_pull_request_status(ctx, caller, typed(input)?, now).await)
        }
        "DescribePullRequestEvents" => {
            json(api::describe_pull_request_events(ctx, typed(input)?, now).await)
        }
        "MergePullRequestByFastForward" => {
            json(api::merge_pull_request_by_fast_forward(ctx, caller, typed(input)?, now).await)
        }
        "MergePullRequestBySquash" => {
            json(api::merge_pull_request_by_squash(ctx, caller, typed(input)?, now).await)
        }
        "MergePullRequestByThreeWay" => {
            json(api::merge_pull_request_by_three_way(ctx, caller, typed(input)?, now).await)
        }
        "CreatePullRequestApprovalRule" => {
            json(api::create_pull_request_approval_rule(ctx, caller, typed(input)?, now).await)
        }
        "UpdatePullRequestApprovalRuleContent" => json(
            api::update_pull_request_approval_rule_content(ctx, caller, typed(input)?, now).await,
        ),
        "DeletePullRequestApprovalRule" => {
            json(api::delete_pull_request_approval_rule(ctx, caller, typed(input)?, now).await)
        }
        "UpdatePullRequestApprovalState" => {
            json(api::update_pull_request_approval_state(ctx, caller, typed(input)?, now).await)
        }
        "GetPullRequestApprovalStates" => {
            json(api::get_pull_request_approval_states(ctx, typed(input)?, now).await)
        }
        "EvaluatePullRequestApprovalRules" => {
            json(api::evaluate_pull_request_approval_rules(ctx, typed(input)?, now).await)
        }
        "OverridePullRequestApprovalRules" => {
            json(api::override_pull_request_approval_rules(ctx, caller, typed(input)?, now).await)
        }
        "GetPullRequestOverrideState" => {
            json(api::get_pull_request_override_state(ctx, typed(input)?, now).await)
        }
        "PostCommentForPullRequest" => {
            json(api::post_comment_for_pull_request(ctx, caller, typed(input)?, now).await)
        }
        "GetCommentsForPullRequest" => {
            json(api::get_comments_for_pull_request(ctx, typed(input)?, now).await)
        }
        _ => Err(ApiError::client(
            "UnknownOperationException",
            format!("Slipway does not implement the CodeCommit operation {operation} yet"),
        )),
    }
}

/// An operation's typed output as the JSON the API answers.
fn json<T: Serialize>(output: Result<T, ApiError>) -> Result<Value, ApiError> {
    serde_json::to_value(output?).map_err(ApiError::internal)
}
