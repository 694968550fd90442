//! The CodeBuild operation table (`CodeBuild_20161006.*`): each operation's input goes to its
//! function in the `codebuild` crate, at the one reading of the clock for the request.

use ::codebuild::{builds, projects, reports, webhooks};
use serde_json::Value;

use crate::AppState;
use crate::aws::Caller;
use crate::error::ApiError;

pub(crate) async fn call(
    state: &AppState,
    caller: &Caller,
    operation: &str,
    input: Value,
) -> Result<Value, ApiError> {
    let ctx = &state.codebuild();
    // The one reading of the clock for this request: the service functions take the time.
    let now = engine::clock::now_ms();
    match operation {
        "StartBuild" => builds::start_build(ctx, caller, input, now).await,
        "StopBuild" => builds::stop_build(ctx, input, now).await,
        "RetryBuild" => builds::retry_build(ctx, caller, input, now).await,
        "BatchGetBuilds" => builds::batch_get_builds(ctx, input, now).await,
        "ListBuilds" => builds::list_builds(ctx, input, None).await,
        "ListBuildsForProject" => {
            let project = input
                .get("projectName")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    ApiError::client("InvalidInputException", "projectName is required")
                })?
                .to_owned();
            builds::list_builds(ctx, input, Some(&project)).await
        }
        "BatchDeleteBuilds" => builds::batch_delete_builds(ctx, input).await,
        "CreateWebhook" => webhooks::create_webhook(ctx, input, now).await,
        "UpdateWebhook" => webhooks::update_webhook(ctx, input).await,
        "DeleteWebhook" => webhooks::delete_webhook(ctx, input).await,
        "CreateReportGroup" => reports::create_report_group(ctx, input, now).await,
        "BatchGetReportGroups" => reports::batch_get_report_groups(ctx, input).await,
        "ListReportGroups" => reports::list_report_groups(ctx, input).await,
        "ListReportsForReportGroup" => reports::list_reports_for_report_group(ctx, input).await,
        "BatchGetReports" => reports::batch_get_reports(ctx, input).await,
        "DescribeTestCases" => reports::describe_test_cases(ctx, input).await,
        "CreateProject" => projects::create_project(ctx, input, now).await,
        "UpdateProject" => projects::update_project(ctx, input, now).await,
        "DeleteProject" => projects::delete_project(ctx, input).await,
        "BatchGetProjects" => projects::batch_get_projects(ctx, input).await,
        "ListProjects" => projects::list_projects(ctx, input).await,
        _ => Err(ApiError::client(
            "UnknownOperationException",
            format!("Slipway does not implement the CodeBuild operation {operation} yet"),
        )),
    }
}

#[cfg(test)]
mod tests;
