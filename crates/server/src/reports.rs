//! Report groups, reports and test cases (CodeBuild's test reporting).
//!
//! An agent reports the test cases its build read from the buildspec's `reports` files; when
//! the build finishes they become a report in the report group `<project>-<name>` (created on
//! first use, as CodeBuild does). A report keeps at most 500 test cases, failed ones first.

use engine::store::{Document, ListQuery, StoreError, Write};
use protocol::{Build, TestCase, TestCaseStatus};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;

const GROUP: &str = "report-group";
const REPORT: &str = "report";
const CASES: &str = "report-test-cases";
/// The most test cases a report keeps, as in CodeBuild.
const MAX_CASES: usize = 500;

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::client("InvalidInputException", message)
}

fn group_arn(state: &AppState, name: &str) -> String {
    format!("arn:aws:codebuild:{}:{}:report-group/{name}", state.region, state.account)
}

fn group_body(
    state: &AppState,
    name: &str,
    kind: &str,
    export: Value,
    tags: Value,
    now: f64,
) -> Value {
    json!({
        "arn": group_arn(state, name),
        "name": name,
        "type": kind,
        "exportConfig": export,
        "created": now,
        "lastModified": now,
        "tags": tags,
        "status": "ACTIVE",
    })
}

/// The writes that record a finished build's reports, and their ARNs on the build.
pub(crate) async fn report_writes(
    state: &AppState,
    build_document: &mut Document,
    build: &Build,
) -> Result<Vec<Write>, StoreError> {
    let now_ms = engine::clock::now_ms();
    let now = engine::clock::aws_timestamp(now_ms);
    let mut writes = Vec::new();
    let mut arns = Vec::new();
    for report in &build.reports {
        let group = group_arn(state, &report.name);
        if state.store.get(GROUP, &group).await?.is_none() {
            let body = group_body(
                state,
                &report.name,
                "TEST",
                json!({ "exportConfigType": "NO_EXPORT" }),
                json!([]),
                now,
            );
            writes.push(Write::Put(Document {
                kind: GROUP.to_owned(),
                key: group.clone(),
                parent: None,
                sort: now_ms,
                version: 0,
                body,
            }));
        }
        let arn = format!(
            "arn:aws:codebuild:{}:{}:report/{}:{}",
            state.region,
            state.account,
            report.name,
            uuid::Uuid::new_v4()
        );
        let mut cases: Vec<&TestCase> = report.test_cases.iter().collect();
        // Failed and errored cases first, so that truncation keeps what matters.
        cases
            .sort_by_key(|it| !matches!(it.status, TestCaseStatus::Failed | TestCaseStatus::Error));
        let truncated = cases.len() > MAX_CASES;
        cases.truncate(MAX_CASES);
        let cases: Vec<Value> = cases
            .iter()
            .map(|case| {
                let mut value = serde_json::to_value(case).expect("a test case serializes");
                value["reportArn"] = json!(arn);
                value["expired"] = json!(now + 30.0 * 86_400.0);
                value
            })
            .collect();
        let body = json!({
            "arn": arn,
            "type": report.report_type,
            "name": report.name,
            "reportGroupArn": group,
            "executionId": build.arn,
            "status": report.status,
            "created": now,
            "expired": now + 30.0 * 86_400.0,
            "exportConfig": { "exportConfigType": "NO_EXPORT" },
            "truncated": truncated,
            "testSummary": report.test_summary,
        });
        writes.push(Write::Put(Document {
            kind: REPORT.to_owned(),
            key: arn.clone(),
            parent: Some(group),
            sort: now_ms,
            version: 0,
            body,
        }));
        writes.push(Write::Put(Document {
            kind: CASES.to_owned(),
            key: arn.clone(),
            parent: None,
            sort: now_ms,
            version: 0,
            body: json!({ "testCases": cases }),
        }));
        arns.push(arn);
    }
    build_document.body["reportArns"] = json!(arns);
    // The reports live on in their own documents; the build's copy is only its summary.
    if let Some(reports) = build_document.body.get_mut("reports").and_then(Value::as_array_mut) {
        for report in reports {
            if let Some(object) = report.as_object_mut() {
                object.remove("testCases");
            }
        }
    }
    Ok(writes)
}

pub(crate) async fn create_report_group(state: &AppState, input: Value) -> Result<Value, ApiError> {
    let name =
        input.get("name").and_then(Value::as_str).ok_or_else(|| invalid("name is required"))?;
    if name.is_empty()
        || name.len() > 128
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(invalid(format!("Invalid report group name: {name}")));
    }
    let kind =
        input.get("type").and_then(Value::as_str).ok_or_else(|| invalid("type is required"))?;
    if !["TEST", "CODE_COVERAGE"].contains(&kind) {
        return Err(invalid(format!("Invalid type: {kind}; expected TEST or CODE_COVERAGE")));
    }
    let export =
        input.get("exportConfig").cloned().ok_or_else(|| invalid("exportConfig is required"))?;
    let now_ms = engine::clock::now_ms();
    let body = group_body(
        state,
        name,
        kind,
        export,
        input.get("tags").cloned().unwrap_or(json!([])),
        engine::clock::aws_timestamp(now_ms),
    );
    let arn = group_arn(state, name);
    let document = Document {
        kind: GROUP.to_owned(),
        key: arn.clone(),
        parent: None,
        sort: now_ms,
        version: 0,
        body: body.clone(),
    };
    match state.store.apply(vec![Write::Insert(document)]).await {
        Ok(()) => Ok(json!({ "reportGroup": body })),
        Err(StoreError::AlreadyExists { .. }) => Err(ApiError::client(
            "ResourceAlreadyExistsException",
            format!("Report group already exists: {arn}"),
        )),
        Err(err) => Err(err.into()),
    }
}

fn arns(input: &Value, field: &str) -> Result<Vec<String>, ApiError> {
    let arns: Vec<String> = input
        .get(field)
        .and_then(Value::as_array)
        .ok_or_else(|| invalid(format!("{field} is required")))?
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    if arns.is_empty() || arns.len() > 100 {
        return Err(invalid(format!("{field} must hold 1 to 100 ARNs")));
    }
    Ok(arns)
}

pub(crate) async fn batch_get_report_groups(
    state: &AppState,
    input: Value,
) -> Result<Value, ApiError> {
    let arns = arns(&input, "reportGroupArns")?;
    let found = state.store.get_many(GROUP, &arns).await?;
    let missing: Vec<&String> =
        arns.iter().filter(|arn| !found.iter().any(|it| &&it.key == arn)).collect();
    let groups: Vec<&Value> = found.iter().map(|it| &it.body).collect();
    Ok(json!({ "reportGroups": groups, "reportGroupsNotFound": missing }))
}

pub(crate) async fn batch_get_reports(state: &AppState, input: Value) -> Result<Value, ApiError> {
    let arns = arns(&input, "reportArns")?;
    let found = state.store.get_many(REPORT, &arns).await?;
    let missing: Vec<&String> =
        arns.iter().filter(|arn| !found.iter().any(|it| &&it.key == arn)).collect();
    let reports: Vec<&Value> = found.iter().map(|it| &it.body).collect();
    Ok(json!({ "reports": reports, "reportsNotFound": missing }))
}

/// A page of keys of one kind, with the store's cursor as the `nextToken`.
async fn page(
    state: &AppState,
    kind: &str,
    parent: Option<String>,
    input: &Value,
) -> Result<(Vec<String>, Option<String>), ApiError> {
    let descending = input.get("sortOrder").and_then(Value::as_str) != Some("ASCENDING");
    let limit = input.get("maxResults").and_then(Value::as_i64).unwrap_or(100).clamp(1, 100);
    let query = ListQuery {
        kind: kind.to_owned(),
        parent,
        descending,
        after: input.get("nextToken").and_then(Value::as_str).map(str::to_owned),
        limit,
    };
    let page = match state.store.list(&query).await {
        Err(StoreError::BadCursor) => return Err(invalid("Invalid nextToken")),
        other => other?,
    };
    Ok((page.documents.into_iter().map(|it| it.key).collect(), page.next))
}

fn with_token(mut output: Value, next: Option<String>) -> Value {
    if let Some(next) = next {
        output["nextToken"] = json!(next);
    }
    output
}

pub(crate) async fn list_report_groups(state: &AppState, input: Value) -> Result<Value, ApiError> {
    let (arns, next) = page(state, GROUP, None, &input).await?;
    Ok(with_token(json!({ "reportGroups": arns }), next))
}

pub(crate) async fn list_reports_for_report_group(
    state: &AppState,
    input: Value,
) -> Result<Value, ApiError> {
    let group = input
        .get("reportGroupArn")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("reportGroupArn is required"))?;
    if state.store.get(GROUP, group).await?.is_none() {
        return Err(ApiError::client(
            "ResourceNotFoundException",
            format!("Report group {group} does not exist"),
        ));
    }
    let (arns, next) = page(state, REPORT, Some(group.to_owned()), &input).await?;
    Ok(with_token(json!({ "reports": arns }), next))
}

pub(crate) async fn describe_test_cases(state: &AppState, input: Value) -> Result<Value, ApiError> {
    let arn = input
        .get("reportArn")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("reportArn is required"))?;
    let Some(document) = state.store.get(CASES, arn).await? else {
        return Err(ApiError::client(
            "ResourceNotFoundException",
            format!("Report {arn} does not exist"),
        ));
    };
    let status = input["filter"]["status"].as_str();
    let keyword = input["filter"]["keyword"].as_str();
    let cases: Vec<&Value> = document.body["testCases"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|case| status.is_none_or(|it| case["status"] == it))
        .filter(|case| {
            keyword.is_none_or(|it| {
                case["name"].as_str().is_some_and(|name| name.contains(it))
                    || case["prefix"].as_str().is_some_and(|prefix| prefix.contains(it))
            })
        })
        .collect();
    let limit =
        input.get("maxResults").and_then(Value::as_u64).unwrap_or(50).clamp(1, 1000) as usize;
    let start = match input.get("nextToken").and_then(Value::as_str) {
        Some(token) => token.parse::<usize>().map_err(|_| invalid("Invalid nextToken"))?,
        None => 0,
    };
    let page: Vec<&&Value> = cases.iter().skip(start).take(limit).collect();
    let next = (start + limit < cases.len()).then(|| (start + limit).to_string());
    Ok(with_token(json!({ "testCases": page }), next))
}
