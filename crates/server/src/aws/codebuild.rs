//! The CodeBuild operation table (`CodeBuild_20161006.*`): each operation's input is parsed
//! into its typed struct (`awsapi::json::typed`), goes to its function in the `codebuild`
//! crate at the one reading of the clock for the request, and its typed output answers as
//! JSON.

use ::codebuild::{builds, projects, reports, webhooks};
use awsapi::json::typed;
use serde::Serialize;
use serde_json::Value;

use crate::AppState;
use crate::aws::Caller;
use crate::error::ApiError;

pub(crate) async fn call(
    state: &AppState,
    caller: &Caller,
    operation: &str,
    input: Value,
) -> Result<String, ApiError> {
    let ctx = &state.codebuild();
    // The one reading of the clock for this request: the service functions take the time.
    let now = engine::clock::now_ms();
    match operation {
        "StartBuild" => answer(builds::start_build(ctx, caller, typed(input)?, now).await?),
        "StopBuild" => answer(builds::stop_build(ctx, typed(input)?, now).await?),
        "RetryBuild" => answer(builds::retry_build(ctx, caller, typed(input)?, now).await?),
        "BatchGetBuilds" => answer(builds::batch_get_builds(ctx, typed(input)?, now).await?),
        "ListBuilds" => answer(builds::list_builds(ctx, typed(input)?).await?),
        "ListBuildsForProject" => {
            answer(builds::list_builds_for_project(ctx, typed(input)?).await?)
        }
        "BatchDeleteBuilds" => answer(builds::batch_delete_builds(ctx, typed(input)?).await?),
        "CreateWebhook" => answer(webhooks::create_webhook(ctx, typed(input)?, now).await?),
        "UpdateWebhook" => answer(webhooks::update_webhook(ctx, typed(input)?).await?),
        "DeleteWebhook" => answer(webhooks::delete_webhook(ctx, typed(input)?).await?),
        "CreateReportGroup" => answer(reports::create_report_group(ctx, typed(input)?, now).await?),
        "BatchGetReportGroups" => {
            answer(reports::batch_get_report_groups(ctx, typed(input)?).await?)
        }
        "ListReportGroups" => answer(reports::list_report_groups(ctx, typed(input)?).await?),
        "ListReportsForReportGroup" => {
            answer(reports::list_reports_for_report_group(ctx, typed(input)?).await?)
        }
        "BatchGetReports" => answer(reports::batch_get_reports(ctx, typed(input)?).await?),
        "DescribeTestCases" => answer(reports::describe_test_cases(ctx, typed(input)?).await?),
        "CreateProject" => answer(projects::create_project(ctx, typed(input)?, now).await?),
        "UpdateProject" => answer(projects::update_project(ctx, typed(input)?, now).await?),
        "DeleteProject" => answer(projects::delete_project(ctx, typed(input)?).await?),
        "BatchGetProjects" => answer(projects::batch_get_projects(ctx, typed(input)?).await?),
        "ListProjects" => answer(projects::list_projects(ctx, typed(input)?).await?),
        _ => Err(ApiError::client(
            "UnknownOperationException",
            format!("Slipway does not implement the CodeBuild operation {operation} yet"),
        )),
    }
}

/// An operation's typed output as the JSON text it answers (written straight from the typed
/// output: BatchGetBuilds' builds are JSON text already, never parsed into a tree).
fn answer(output: impl Serialize) -> Result<String, ApiError> {
    serde_json::to_string(&output).map_err(ApiError::internal)
}

#[cfg(test)]
mod tests;
