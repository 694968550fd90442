//! Report groups, reports and test cases (CodeBuild's test reporting).
//!
//! An agent reports the test cases its build read from the buildspec's `reports` files; when
//! the build finishes they become a report in the report group `<project>-<name>` (created on
//! first use, as CodeBuild does). An agent uploads each report's test cases as JSON lines
//! before it finishes (`PUT /agent/v1/jobs/<job>/reports/<index>`); the finish reads them line
//! by line and stores them in documents of 1,000 cases, so that neither the request nor the
//! server's memory grows with the report. A report keeps at most 100,000 test cases.

use engine::store::{Document, ListQuery, StoreError, Write};
use protocol::{Build, TestCase};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use awsapi::ApiError;
use engine::kinds::{REPORT, REPORT_GROUP, REPORT_TEST_CASES};
use serde::{Deserialize, Serialize};

use crate::{Context, invalid};

/// CreateReportGroup's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateReportGroupInput {
    /// Required.
    pub name: Option<String>,
    /// `TEST` or `CODE_COVERAGE`; required.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Required; kept as it came.
    pub export_config: Option<Value>,
    /// Kept as they came.
    pub tags: Option<Value>,
}

/// CreateReportGroup's output: the report group as stored.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateReportGroupOutput {
    pub report_group: Value,
}

/// BatchGetReportGroups' input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchGetReportGroupsInput {
    /// 1 to 100; required.
    pub report_group_arns: Option<Vec<String>>,
}

/// BatchGetReportGroups' output: the report groups as stored.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchGetReportGroupsOutput {
    pub report_groups: Vec<Value>,
    pub report_groups_not_found: Vec<String>,
}

/// BatchGetReports' input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchGetReportsInput {
    /// 1 to 100; required.
    pub report_arns: Option<Vec<String>>,
}

/// BatchGetReports' output: the reports as stored.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchGetReportsOutput {
    pub reports: Vec<Value>,
    pub reports_not_found: Vec<String>,
}

/// ListReportGroups' input.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListReportGroupsInput {
    /// `DESCENDING` unless `ASCENDING`.
    pub sort_order: Option<String>,
    pub next_token: Option<String>,
    /// 1 to 100 (the default).
    pub max_results: Option<i64>,
}

/// ListReportGroups' output: a page of report group ARNs.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListReportGroupsOutput {
    pub report_groups: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// ListReportsForReportGroup's input.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListReportsForReportGroupInput {
    /// Required.
    pub report_group_arn: Option<String>,
    /// `DESCENDING` unless `ASCENDING`.
    pub sort_order: Option<String>,
    pub next_token: Option<String>,
    /// 1 to 100 (the default).
    pub max_results: Option<i64>,
}

/// ListReportsForReportGroup's output: a page of report ARNs.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListReportsForReportGroupOutput {
    pub reports: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// DescribeTestCases' input.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeTestCasesInput {
    /// Required.
    pub report_arn: Option<String>,
    pub next_token: Option<String>,
    /// 1 to 1,000; 50 by default.
    pub max_results: Option<i64>,
    pub filter: Option<TestCaseFilter>,
}

/// Which test cases DescribeTestCases returns.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestCaseFilter {
    /// Only cases of this status.
    pub status: Option<String>,
    /// Only cases whose name or prefix contains this.
    pub keyword: Option<String>,
}

/// DescribeTestCases' output: a page of test cases as stored.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeTestCasesOutput {
    pub test_cases: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// The most test cases a report keeps; the rest are dropped and the report is `truncated`.
const MAX_CASES: usize = 100_000;
/// How many test cases one stored document holds.
const BATCH: usize = 1_000;
/// The longest line (one test case, its message bounded by the agent) an upload may hold.
const LINE_LIMIT: usize = 1 << 20;

fn group_arn(ctx: &Context, name: &str) -> String {
    crate::arn(ctx, &format!("report-group/{name}"))
}

fn group_body(
    ctx: &Context,
    name: &str,
    kind: &str,
    export: Value,
    tags: Value,
    now: f64,
) -> Value {
    json!({
        "arn": group_arn(ctx, name),
        "name": name,
        "type": kind,
        "exportConfig": export,
        "created": now,
        "lastModified": now,
        "tags": tags,
        "status": "ACTIVE",
    })
}

/// Where the test cases of a job's report `index` wait between their upload and the finish.
pub fn upload_key(job_id: &str, index: usize) -> String {
    format!("builds/{}/reports/{index}.jsonl", job_id.replace(':', "/"))
}

/// Removes a finished job's uploaded test cases (they live on in the store).
pub async fn remove_uploads(ctx: &Context, job_id: &str, uploaded: &[usize]) {
    for index in uploaded {
        if let Err(err) = ctx.blobs.delete(&upload_key(job_id, *index)).await {
            tracing::warn!(%err, job = job_id, "removing uploaded test cases");
        }
    }
}

/// The key of the `number`th batch of a report's test cases.
fn batch_key(arn: &str, number: usize) -> String {
    format!("{arn}#{number:06}")
}

/// The ARN of a job's report `index`: the same on every retry of the finish request, so that
/// a retry overwrites the test cases it stored instead of leaving a second copy.
fn report_arn(ctx: &Context, job_id: &str, index: usize, name: &str) -> String {
    let digest = Sha256::digest(format!("{job_id}/{index}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    let id = uuid::Uuid::from_bytes(bytes);
    crate::arn(ctx, &format!("report/{name}:{id}"))
}

/// Stores test cases in batches of [`BATCH`], each its own document, as they come: memory
/// holds one batch, never the report.
struct CaseWriter<'a> {
    ctx: &'a Context,
    arn: String,
    expired: f64,
    batch: Vec<Value>,
    batches: usize,
    stored: usize,
}

impl CaseWriter<'_> {
    /// Adds a case; `false` once the report holds [`MAX_CASES`] and the rest is dropped.
    async fn push(&mut self, case: &TestCase) -> Result<bool, StoreError> {
        if self.stored + self.batch.len() >= MAX_CASES {
            return Ok(false);
        }
        let mut value = serde_json::to_value(case).expect("a test case serializes");
        value["reportArn"] = json!(self.arn);
        value["expired"] = json!(self.expired);
        self.batch.push(value);
        if self.batch.len() == BATCH {
            self.flush().await?;
        }
        Ok(true)
    }

    async fn flush(&mut self) -> Result<(), StoreError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let cases = std::mem::take(&mut self.batch);
        self.stored += cases.len();
        let document = Document {
            kind: REPORT_TEST_CASES.to_owned(),
            key: batch_key(&self.arn, self.batches),
            parent: Some(self.arn.clone()),
            sort: self.batches as i64,
            version: 0,
            body: json!({ "testCases": cases }),
        };
        self.batches += 1;
        self.ctx.store.apply(vec![Write::Put(document)]).await
    }
}

/// Feeds the test cases uploaded for a report (JSON lines in the blob store) to `writer`,
/// line by line. Returns whether every case was kept.
async fn read_uploaded(
    ctx: &Context,
    key: &str,
    writer: &mut CaseWriter<'_>,
) -> Result<bool, StoreError> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};
    let temp = ctx.temp_dir.clone();
    let _ = std::fs::create_dir_all(&temp);
    let path = temp.join(format!("report-{}", uuid::Uuid::new_v4()));
    let result = async {
        if let Err(err) = ctx.blobs.get_to_file(key, &path).await {
            tracing::error!(%err, key, "reading uploaded test cases");
            return Ok(false);
        }
        let Ok(file) = tokio::fs::File::open(&path).await else { return Ok(false) };
        let mut reader = tokio::io::BufReader::new(file);
        let mut line = Vec::new();
        loop {
            line.clear();
            let limit = LINE_LIMIT as u64;
            let Ok(read) = (&mut reader).take(limit).read_until(b'\n', &mut line).await else {
                return Ok(false);
            };
            if read == 0 {
                return Ok(true);
            }
            if line.len() as u64 == limit && !line.ends_with(b"\n") {
                tracing::warn!(key, "an uploaded test case is too long; the rest is dropped");
                return Ok(false);
            }
            match serde_json::from_slice::<TestCase>(&line) {
                Ok(case) => {
                    if !writer.push(&case).await? {
                        return Ok(false);
                    }
                }
                Err(err) => {
                    tracing::warn!(%err, key, "an uploaded test case is not valid; the rest is dropped");
                    return Ok(false);
                }
            }
        }
    }
    .await;
    let _ = std::fs::remove_file(&path);
    result
}

/// The writes that record a finished build's reports, and their ARNs on the build. The test
/// cases are stored before, in batches (see [`CaseWriter`]): those of the reports in
/// `uploaded` from their upload, the others from the build record (older agents).
pub async fn report_writes(
    ctx: &Context,
    build_document: &mut Document,
    build: &Build,
    job_id: &str,
    uploaded: &[usize],
    now_ms: i64,
) -> Result<Vec<Write>, StoreError> {
    let now = engine::clock::aws_timestamp(now_ms);
    let mut writes = Vec::new();
    let mut arns = Vec::new();
    for (index, report) in build.reports.iter().enumerate() {
        let group = group_arn(ctx, &report.name);
        if ctx.store.get(REPORT_GROUP, &group).await?.is_none() {
            let body = group_body(
                ctx,
                &report.name,
                "TEST",
                json!({ "exportConfigType": "NO_EXPORT" }),
                json!([]),
                now,
            );
            writes.push(Write::Put(Document {
                kind: REPORT_GROUP.to_owned(),
                key: group.clone(),
                parent: None,
                sort: now_ms,
                version: 0,
                body,
            }));
        }
        let arn = report_arn(ctx, job_id, index, &report.name);
        let expired = now + 30.0 * 86_400.0;
        let mut writer =
            CaseWriter { ctx, arn: arn.clone(), expired, batch: Vec::new(), batches: 0, stored: 0 };
        let mut complete = true;
        if uploaded.contains(&index) {
            complete = read_uploaded(ctx, &upload_key(job_id, index), &mut writer).await?;
        }
        for case in &report.test_cases {
            if !writer.push(case).await? {
                complete = false;
                break;
            }
        }
        writer.flush().await?;
        let body = json!({
            "arn": arn,
            "type": report.report_type,
            "name": report.name,
            "reportGroupArn": group,
            "executionId": build.arn,
            "status": report.status,
            "created": now,
            "expired": expired,
            "exportConfig": { "exportConfigType": "NO_EXPORT" },
            "truncated": !complete,
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

/// CreateReportGroup at `now_ms`.
pub async fn create_report_group(
    ctx: &Context,
    input: CreateReportGroupInput,
    now_ms: i64,
) -> Result<CreateReportGroupOutput, ApiError> {
    let name = input.name.as_deref().ok_or_else(|| invalid("name is required"))?;
    if name.is_empty()
        || name.len() > 128
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(invalid(format!("Invalid report group name: {name}")));
    }
    let kind = input.kind.as_deref().ok_or_else(|| invalid("type is required"))?;
    if !["TEST", "CODE_COVERAGE"].contains(&kind) {
        return Err(invalid(format!("Invalid type: {kind}; expected TEST or CODE_COVERAGE")));
    }
    let export = input.export_config.ok_or_else(|| invalid("exportConfig is required"))?;
    let body = group_body(
        ctx,
        name,
        kind,
        export,
        input.tags.unwrap_or(json!([])),
        engine::clock::aws_timestamp(now_ms),
    );
    let arn = group_arn(ctx, name);
    let document = Document {
        kind: REPORT_GROUP.to_owned(),
        key: arn.clone(),
        parent: None,
        sort: now_ms,
        version: 0,
        body: body.clone(),
    };
    match ctx.store.apply(vec![Write::Insert(document)]).await {
        Ok(()) => Ok(CreateReportGroupOutput { report_group: body }),
        Err(StoreError::AlreadyExists { .. }) => Err(ApiError::client(
            "ResourceAlreadyExistsException",
            format!("Report group already exists: {arn}"),
        )),
        Err(err) => Err(err.into()),
    }
}

/// The ARNs of a batch call's member `field`: 1 to 100.
fn arns(arns: Option<Vec<String>>, field: &str) -> Result<Vec<String>, ApiError> {
    let arns = arns.ok_or_else(|| invalid(format!("{field} is required")))?;
    if arns.is_empty() || arns.len() > 100 {
        return Err(invalid(format!("{field} must hold 1 to 100 ARNs")));
    }
    Ok(arns)
}

/// BatchGetReportGroups.
pub async fn batch_get_report_groups(
    ctx: &Context,
    input: BatchGetReportGroupsInput,
) -> Result<BatchGetReportGroupsOutput, ApiError> {
    let arns = arns(input.report_group_arns, "reportGroupArns")?;
    let found = ctx.store.get_many(REPORT_GROUP, &arns).await?;
    let report_groups_not_found: Vec<String> =
        arns.iter().filter(|arn| !found.iter().any(|it| &&it.key == arn)).cloned().collect();
    let report_groups: Vec<Value> = found.into_iter().map(|it| it.body).collect();
    Ok(BatchGetReportGroupsOutput { report_groups, report_groups_not_found })
}

/// BatchGetReports.
pub async fn batch_get_reports(
    ctx: &Context,
    input: BatchGetReportsInput,
) -> Result<BatchGetReportsOutput, ApiError> {
    let arns = arns(input.report_arns, "reportArns")?;
    let found = ctx.store.get_many(REPORT, &arns).await?;
    let reports_not_found: Vec<String> =
        arns.iter().filter(|arn| !found.iter().any(|it| &&it.key == arn)).cloned().collect();
    let reports: Vec<Value> = found.into_iter().map(|it| it.body).collect();
    Ok(BatchGetReportsOutput { reports, reports_not_found })
}

/// A page of keys of one kind, with the store's cursor as the `nextToken`.
async fn page(
    ctx: &Context,
    kind: &str,
    parent: Option<String>,
    sort_order: Option<&str>,
    next_token: Option<String>,
    max_results: Option<i64>,
) -> Result<(Vec<String>, Option<String>), ApiError> {
    let descending = sort_order != Some("ASCENDING");
    let limit = max_results.unwrap_or(100).clamp(1, 100);
    let query = ListQuery { kind: kind.to_owned(), parent, descending, after: next_token, limit };
    let page = match ctx.store.list(&query).await {
        Err(StoreError::BadCursor) => return Err(invalid("Invalid nextToken")),
        other => other?,
    };
    Ok((page.documents.into_iter().map(|it| it.key).collect(), page.next))
}

/// ListReportGroups.
pub async fn list_report_groups(
    ctx: &Context,
    input: ListReportGroupsInput,
) -> Result<ListReportGroupsOutput, ApiError> {
    let order = input.sort_order.as_deref();
    let (report_groups, next_token) =
        page(ctx, REPORT_GROUP, None, order, input.next_token, input.max_results).await?;
    Ok(ListReportGroupsOutput { report_groups, next_token })
}

/// ListReportsForReportGroup.
pub async fn list_reports_for_report_group(
    ctx: &Context,
    input: ListReportsForReportGroupInput,
) -> Result<ListReportsForReportGroupOutput, ApiError> {
    let group = input.report_group_arn.ok_or_else(|| invalid("reportGroupArn is required"))?;
    if ctx.store.get(REPORT_GROUP, &group).await?.is_none() {
        return Err(ApiError::client(
            "ResourceNotFoundException",
            format!("Report group {group} does not exist"),
        ));
    }
    let order = input.sort_order.as_deref();
    let (reports, next_token) =
        page(ctx, REPORT, Some(group), order, input.next_token, input.max_results).await?;
    Ok(ListReportsForReportGroupOutput { reports, next_token })
}

/// DescribeTestCases: a page of a report's test cases, filtered.
pub async fn describe_test_cases(
    ctx: &Context,
    input: DescribeTestCasesInput,
) -> Result<DescribeTestCasesOutput, ApiError> {
    let arn = input.report_arn.as_deref().ok_or_else(|| invalid("reportArn is required"))?;
    if ctx.store.get(REPORT, arn).await?.is_none() {
        return Err(ApiError::client(
            "ResourceNotFoundException",
            format!("Report {arn} does not exist"),
        ));
    }
    let filter = input.filter.unwrap_or_default();
    let status = filter.status.as_deref();
    let keyword = filter.keyword.as_deref();
    let matches = |case: &Value| {
        status.is_none_or(|it| case["status"] == it)
            && keyword.is_none_or(|it| {
                case["name"].as_str().is_some_and(|name| name.contains(it))
                    || case["prefix"].as_str().is_some_and(|prefix| prefix.contains(it))
            })
    };
    // A negative maxResults counts as none given.
    let limit = input.max_results.and_then(|it| u64::try_from(it).ok()).unwrap_or(50).clamp(1, 1000)
        as usize;
    // The token is the position of the next case to look at: `<batch>.<index>`.
    let (mut batch, mut skip) = match input.next_token.as_deref() {
        Some(token) => token
            .split_once('.')
            .and_then(|(batch, index)| Some((batch.parse().ok()?, index.parse().ok()?)))
            .ok_or_else(|| invalid("Invalid nextToken"))?,
        None => (0usize, 0usize),
    };
    let mut page = Vec::new();
    // One batch in memory at a time; the page ends at `limit` cases or the last batch.
    loop {
        let document = match ctx.store.get(REPORT_TEST_CASES, &batch_key(arn, batch)).await? {
            Some(document) => document,
            // Reports stored before batching kept their cases in one document under the ARN.
            None if batch == 0 => match ctx.store.get(REPORT_TEST_CASES, arn).await? {
                Some(document) => document,
                None => break,
            },
            None => break,
        };
        let cases = document.body["testCases"].as_array().cloned().unwrap_or_default();
        for (index, case) in cases.into_iter().enumerate().skip(skip) {
            if page.len() == limit {
                let next_token = Some(format!("{batch}.{index}"));
                return Ok(DescribeTestCasesOutput { test_cases: page, next_token });
            }
            if matches(&case) {
                page.push(case);
            }
        }
        batch += 1;
        skip = 0;
    }
    Ok(DescribeTestCasesOutput { test_cases: page, next_token: None })
}

#[cfg(test)]
mod tests;
