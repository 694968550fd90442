//! The CodeCommit operation table: an operation's JSON input parsed into its typed struct
//! (`awsapi::json::typed`), the `codecommit` crate's function for it, and its output back to
//! JSON. Operations not typed yet go to `codecommit::api::call` with their JSON as it is.

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
        _ => api::call(ctx, caller, operation, input).await,
    }
}

/// An operation's typed output as the JSON the API answers.
fn json<T: Serialize>(output: Result<T, ApiError>) -> Result<Value, ApiError> {
    serde_json::to_value(output?).map_err(ApiError::internal)
}
