//! The CodeCommit operation table: an operation's JSON input parsed into its typed struct
//! (`awsapi::json::typed`), the `codecommit` crate's function for it, and its output back to
//! JSON. Operations not typed yet (pull requests, approvals, comments, merges) go to
//! `codecommit::api::call` with their JSON as it is.

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
        _ => api::call(ctx, caller, operation, input).await,
    }
}

/// An operation's typed output as the JSON the API answers.
fn json<T: Serialize>(output: Result<T, ApiError>) -> Result<Value, ApiError> {
    serde_json::to_value(output?).map_err(ApiError::internal)
}
