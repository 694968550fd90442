//! The vocabulary shared by every Slipway process.
//!
//! Everything that crosses a process boundary is defined here and nowhere else: the compiled
//! [`BuildPlan`] an agent executes, the [`BuildEvent`]s it reports while it runs, and the
//! [`Build`] record that the API (and `slipway build --report`) returns in CodeBuild's shape.
//! A change to this crate is an API change.
//!
//! The crate depends only on `serde`: no tokio, no HTTP, no database.

#![warn(missing_docs)]

pub mod agent;
mod build;
mod plan;

pub use build::{
    Build, BuildArtifacts, BuildEvent, BuildPhase, ExportedVariable, PhaseContext, Report,
    StatusCounts, TestCase, TestCaseStatus, TestSummary,
};
pub use plan::{
    ArtifactSpec, BuildPlan, CacheAction, CacheSpec, EnvVariable, OnFailure, PhasePlan, PhaseType,
    ReportFormat, ReportSpec, SecretReference, Shell,
};

use serde::{Deserialize, Serialize};

/// The status of a build, and of each of its phases (`StatusType` in the CodeBuild model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BuildStatus {
    /// Finished without a failure.
    Succeeded,
    /// A command or the build's own definition failed: the user's fault.
    Failed,
    /// The platform failed (an agent lost, a disk full): not the user's fault.
    Fault,
    /// The build ran longer than its timeout and was killed.
    TimedOut,
    /// Still running.
    InProgress,
    /// Stopped on request (StopBuild, Ctrl-C).
    Stopped,
}

impl BuildStatus {
    /// The name used on the wire and in logs, e.g. `TIMED_OUT`.
    pub fn as_str(self) -> &'static str {
        match self {
            BuildStatus::Succeeded => "SUCCEEDED",
            BuildStatus::Failed => "FAILED",
            BuildStatus::Fault => "FAULT",
            BuildStatus::TimedOut => "TIMED_OUT",
            BuildStatus::InProgress => "IN_PROGRESS",
            BuildStatus::Stopped => "STOPPED",
        }
    }
}
