//! The build record (CodeBuild's `Build`), its phases and reports, and the events an
//! executor emits while a build runs.
//!
//! Times are seconds since the Unix epoch as floating-point numbers, which is how the AWS
//! JSON protocol writes timestamps.

use serde::{Deserialize, Serialize};

use crate::{BuildStatus, PhaseType};

/// A build as CodeBuild's API reports it (`Build` in the service model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Build {
    /// `<project>:<uuid>`.
    pub id: String,
    /// `arn:aws:codebuild:<region>:<account>:build/<project>:<uuid>`.
    pub arn: String,
    /// The project's build counter.
    pub build_number: u64,
    /// The project's name.
    pub project_name: String,
    /// When the build was submitted.
    pub start_time: f64,
    /// When the build ended; `None` while it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<f64>,
    /// The phase the build is in (`COMPLETED` once over).
    pub current_phase: PhaseType,
    /// The build's status.
    pub build_status: BuildStatus,
    /// The commit the source was at, when the source is a git checkout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_source_version: Option<String>,
    /// Whether the build finished.
    pub build_complete: bool,
    /// Every phase entered so far, in order. Skipped phases are absent.
    pub phases: Vec<BuildPhase>,
    /// The `exported-variables` and their values at the end of the build.
    pub exported_environment_variables: Vec<ExportedVariable>,
    /// The primary artifact, when the build packaged one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifacts: Option<BuildArtifacts>,
    /// The secondary artifacts the build packaged.
    pub secondary_artifacts: Vec<BuildArtifacts>,
    /// The test and coverage reports the build produced.
    pub reports: Vec<Report>,
    /// The build's timeout.
    pub timeout_in_minutes: u64,
}

/// Where a build's artifact went (`BuildArtifacts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildArtifacts {
    /// Where the artifact is: a file path for a local build, an S3 URL on a server.
    pub location: String,
    /// The SHA-256 of the zip, in hex.
    pub sha256sum: String,
    /// The secondary artifact's identifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_identifier: Option<String>,
    /// Whether the buildspec's `name` named the artifact (CodeBuild's boolean
    /// `overrideArtifactName`). Records written when this held the name itself read as
    /// `true`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "flag_or_name")]
    pub override_artifact_name: Option<bool>,
}

/// `overrideArtifactName` as a boolean, or as the name older records held (`true`).
fn flag_or_name<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum FlagOrName {
        Flag(bool),
        Name(#[allow(dead_code)] String),
    }
    Ok(Option::<FlagOrName>::deserialize(deserializer)?.map(|it| match it {
        FlagOrName::Flag(flag) => flag,
        FlagOrName::Name(_) => true,
    }))
}

/// One phase of a build (`BuildPhase`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildPhase {
    /// Which phase.
    pub phase_type: PhaseType,
    /// How it ended; `None` while it runs and for `COMPLETED`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase_status: Option<BuildStatus>,
    /// When it started.
    pub start_time: f64,
    /// When it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<f64>,
    /// Its duration in whole seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_in_seconds: Option<u64>,
    /// Why it ended as it did: one entry per failure, or a single empty one on success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contexts: Option<Vec<PhaseContext>>,
}

/// Why a phase ended as it did (`PhaseContext`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhaseContext {
    /// E.g. `COMMAND_EXECUTION_ERROR`, `CLIENT_ERROR`, `YAML_FILE_ERROR`; empty on success.
    pub status_code: String,
    /// What happened, e.g. `Error while executing command: make. Reason: exit status 2`.
    pub message: String,
}

/// An exported variable and its final value (`ExportedEnvironmentVariable`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedVariable {
    /// The variable's name.
    pub name: String,
    /// Its value when the build ended (empty when it was never set).
    pub value: String,
}

/// A test report (`Report`), with the test cases it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The report group's name.
    pub name: String,
    /// `TEST` or `CODE_COVERAGE`.
    #[serde(rename = "type")]
    pub report_type: String,
    /// `SUCCEEDED` when every test passed, `FAILED` otherwise (`INCOMPLETE` if files failed to parse).
    pub status: String,
    /// The counts over all test cases.
    pub test_summary: TestSummary,
    /// Every test case found in the report's files.
    pub test_cases: Vec<TestCase>,
}

/// Totals of a test report (`TestReportSummary`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestSummary {
    /// The number of test cases.
    pub total: u64,
    /// The number of test cases per status.
    pub status_counts: StatusCounts,
    /// The sum of the test cases' durations.
    pub duration_in_nano_seconds: u64,
}

/// Test cases per status; the keys CodeBuild uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCounts {
    /// Passed.
    #[serde(rename = "SUCCEEDED")]
    pub succeeded: u64,
    /// Failed an assertion.
    #[serde(rename = "FAILED")]
    pub failed: u64,
    /// Ended in an unexpected error.
    #[serde(rename = "ERROR")]
    pub error: u64,
    /// Not run.
    #[serde(rename = "SKIPPED")]
    pub skipped: u64,
    /// Anything else.
    #[serde(rename = "UNKNOWN")]
    pub unknown: u64,
}

impl StatusCounts {
    /// Counts one more test case with `status`.
    pub fn add(&mut self, status: TestCaseStatus) {
        match status {
            TestCaseStatus::Succeeded => self.succeeded += 1,
            TestCaseStatus::Failed => self.failed += 1,
            TestCaseStatus::Error => self.error += 1,
            TestCaseStatus::Skipped => self.skipped += 1,
            TestCaseStatus::Unknown => self.unknown += 1,
        }
    }
}

/// One test case (`TestCase`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestCase {
    /// The file the test case was read from, relative to its report's base directory.
    pub test_raw_data_path: String,
    /// The class or suite path the test belongs to (JUnit's `classname`).
    pub prefix: String,
    /// The test's name.
    pub name: String,
    /// How it ended.
    pub status: TestCaseStatus,
    /// How long it ran.
    pub duration_in_nano_seconds: u64,
    /// The failure or error message, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The suite it belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_suite_name: Option<String>,
}

/// A test case's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TestCaseStatus {
    /// Passed.
    Succeeded,
    /// Failed an assertion.
    Failed,
    /// Ended in an unexpected error.
    Error,
    /// Not run.
    Skipped,
    /// Anything else.
    Unknown,
}

/// What an executor reports while a build runs, in order.
///
/// The local `slipway build` renders these on the terminal; an agent streams them to the
/// server. Output is already masked: no secret value ever appears in an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "camelCase")]
pub enum BuildEvent {
    /// A phase began.
    PhaseStarted {
        /// Which phase.
        phase: PhaseType,
        /// When.
        time: f64,
    },
    /// A command of a buildspec phase is about to run.
    CommandStarted {
        /// The phase it belongs to.
        phase: PhaseType,
        /// The command, as written.
        command: String,
        /// When, by the executor's clock (absent from older agents: the server's time of
        /// arrival stands in).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        time: Option<f64>,
    },
    /// Output of the build's commands: one or more whole lines, each ending in `\n`.
    Output {
        /// The text.
        text: String,
    },
    /// A message from the executor itself (`Running command`, `Skipping install of runtimes`).
    Message {
        /// The text, one line without the newline.
        text: String,
        /// When, as for [`BuildEvent::CommandStarted`].
        #[serde(default, skip_serializing_if = "Option::is_none")]
        time: Option<f64>,
    },
    /// A phase ended.
    PhaseFinished {
        /// Which phase.
        phase: PhaseType,
        /// How it ended.
        status: BuildStatus,
        /// Why, when it failed.
        context: Option<PhaseContext>,
        /// When.
        time: f64,
    },
}

#[cfg(test)]
mod tests;
