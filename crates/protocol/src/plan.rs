//! The compiled build plan: what an agent executes for one build.
//!
//! `spec` compiles a `buildspec.yml` into a [`BuildPlan`]; an agent runs it without ever
//! seeing YAML. Field values are kept exactly as the user wrote them (commands, globs,
//! `$VARIABLE` references): expansion happens at run time, in the build's shell, because
//! CodeBuild expands artifact and cache fields with variables set by earlier commands.

use serde::{Deserialize, Serialize};

/// One build, ready to run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildPlan {
    /// The shell every command runs in (`env.shell`).
    pub shell: Shell,
    /// The user every command runs as (`run-as`), unless a phase says otherwise.
    pub run_as: Option<String>,
    /// Plain-text variables (`env.variables`), in the order they were written.
    pub variables: Vec<EnvVariable>,
    /// Variables whose value comes from the parameter store (`env.parameter-store`).
    pub parameter_store: Vec<SecretReference>,
    /// Variables whose value comes from the secrets manager (`env.secrets-manager`).
    pub secrets_manager: Vec<SecretReference>,
    /// Names whose values are captured when the build ends (`env.exported-variables`).
    pub exported_variables: Vec<String>,
    /// `env.git-credential-helper`: git commands in the build authenticate to the server.
    #[serde(default)]
    pub git_credential_helper: bool,
    /// The declared phases, always in execution order: install, pre_build, build, post_build.
    pub phases: Vec<PhasePlan>,
    /// The primary artifact (`artifacts`), if any.
    pub artifacts: Option<ArtifactSpec>,
    /// Secondary artifacts by identifier (`artifacts.secondary-artifacts`), in file order.
    pub secondary_artifacts: Vec<(String, ArtifactSpec)>,
    /// The cache (`cache`), if any.
    pub cache: Option<CacheSpec>,
    /// Test and coverage reports (`reports`), in file order.
    pub reports: Vec<ReportSpec>,
}

/// The shell commands run in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shell {
    /// `/bin/sh` semantics (the CodeBuild default). Slipway runs it as bash in POSIX mode.
    #[default]
    Sh,
    /// `shell: bash`.
    Bash,
}

/// A plain-text environment variable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvVariable {
    /// The variable's name.
    pub name: String,
    /// Its literal value: `$OTHER` in it is *not* expanded, as in CodeBuild.
    pub value: String,
}

/// A variable whose value is a secret held elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretReference {
    /// The environment variable to set.
    pub name: String,
    /// The parameter name, or `secret-id[:json-key[:version-stage[:version-id]]]`.
    pub reference: String,
}

/// The phases a buildspec declares, and the ones the platform adds around them.
///
/// The order of the variants is the order a build goes through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PhaseType {
    /// The build request was accepted.
    Submitted,
    /// Waiting for an agent.
    Queued,
    /// Preparing the workspace and resolving secrets.
    Provisioning,
    /// Fetching the source and restoring the cache.
    DownloadSource,
    /// `phases.install`.
    Install,
    /// `phases.pre_build`.
    PreBuild,
    /// `phases.build`.
    Build,
    /// `phases.post_build`.
    PostBuild,
    /// Packaging artifacts, reports and the cache.
    UploadArtifacts,
    /// Cleaning up.
    Finalizing,
    /// The build is over.
    Completed,
}

impl PhaseType {
    /// The name used on the wire and in logs, e.g. `PRE_BUILD`.
    pub fn as_str(self) -> &'static str {
        match self {
            PhaseType::Submitted => "SUBMITTED",
            PhaseType::Queued => "QUEUED",
            PhaseType::Provisioning => "PROVISIONING",
            PhaseType::DownloadSource => "DOWNLOAD_SOURCE",
            PhaseType::Install => "INSTALL",
            PhaseType::PreBuild => "PRE_BUILD",
            PhaseType::Build => "BUILD",
            PhaseType::PostBuild => "POST_BUILD",
            PhaseType::UploadArtifacts => "UPLOAD_ARTIFACTS",
            PhaseType::Finalizing => "FINALIZING",
            PhaseType::Completed => "COMPLETED",
        }
    }

    /// The key of a buildspec phase (`pre_build`), or `None` for a platform phase.
    pub fn buildspec_key(self) -> Option<&'static str> {
        match self {
            PhaseType::Install => Some("install"),
            PhaseType::PreBuild => Some("pre_build"),
            PhaseType::Build => Some("build"),
            PhaseType::PostBuild => Some("post_build"),
            _ => None,
        }
    }

    /// The four phases a buildspec can declare, in execution order.
    pub const BUILDSPEC: [PhaseType; 4] =
        [PhaseType::Install, PhaseType::PreBuild, PhaseType::Build, PhaseType::PostBuild];
}

/// One buildspec phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhasePlan {
    /// Which phase this is; one of [`PhaseType::BUILDSPEC`].
    pub phase: PhaseType,
    /// The user this phase runs as, overriding the build's.
    pub run_as: Option<String>,
    /// What to do when the phase fails; `None` follows the default transitions.
    pub on_failure: Option<OnFailure>,
    /// `runtime-versions` (install only): runtime name and version, in file order.
    pub runtime_versions: Vec<(String, String)>,
    /// The commands, each run as one shell script.
    pub commands: Vec<String>,
    /// Commands that run after `commands`, whether they succeeded or not.
    pub finally: Vec<String>,
}

/// A phase's `on-failure` setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OnFailure {
    /// Skip every remaining buildspec phase.
    Abort,
    /// Go on with the next phase; the build still fails.
    Continue,
    /// Run the phase again, up to `count` more times, when the failure matches `pattern`.
    Retry {
        /// How many more times the phase may run (0 to 100).
        count: u32,
        /// A regular expression the failure's message or output must match; `None` matches all.
        pattern: Option<String>,
    },
}

/// One artifact: which files, from where, packaged how.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactSpec {
    /// Globs relative to the base directory (or absolute paths).
    pub files: Vec<String>,
    /// The artifact's name, shell-evaluated when the build ends.
    pub name: Option<String>,
    /// Put every file at the root of the artifact.
    pub discard_paths: bool,
    /// The directory (or a glob matching directories) the files are relative to.
    pub base_directory: Option<String>,
    /// Globs, relative to the base directory, of files to leave out.
    pub exclude_paths: Vec<String>,
    /// Keep symbolic links as links instead of the files they point at.
    pub enable_symlinks: bool,
    /// `s3-prefix`: where the artifact goes in an S3 bucket.
    pub s3_prefix: Option<String>,
}

/// The build cache.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheSpec {
    /// Globs of the files to keep between builds.
    pub paths: Vec<String>,
    /// The exact key of this cache entry, shell-evaluated; `None` means one mutable entry.
    pub key: Option<String>,
    /// Key prefixes to try, in order, when `key` misses.
    pub fallback_keys: Vec<String>,
    /// Whether to restore, save, or both.
    pub action: CacheAction,
}

/// When a cache is used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheAction {
    /// Restore before the build and save after it.
    #[default]
    Both,
    /// Only restore.
    Restore,
    /// Only save.
    Save,
}

/// One report group's files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportSpec {
    /// The report group's name or ARN, as written (it may hold `$VARIABLES`).
    pub name: String,
    /// Globs of the report files.
    pub files: Vec<String>,
    /// The directory the globs are relative to.
    pub base_directory: Option<String>,
    /// Flatten the paths of the report files.
    pub discard_paths: bool,
    /// The files' format.
    pub file_format: ReportFormat,
}

/// The formats of test and coverage report files (`file-format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReportFormat {
    /// JUnit XML (the default).
    #[default]
    Junitxml,
    /// Cucumber JSON.
    Cucumberjson,
    /// NUnit 2 XML.
    Nunitxml,
    /// NUnit 3 XML.
    Nunit3xml,
    /// TestNG XML.
    Testngxml,
    /// Visual Studio TRX.
    Visualstudiotrx,
    /// Clover XML coverage.
    Cloverxml,
    /// Cobertura XML coverage.
    Coberturaxml,
    /// JaCoCo XML coverage.
    Jacocoxml,
    /// SimpleCov JSON coverage.
    Simplecov,
}

impl ReportFormat {
    /// Every format, in the order CodeBuild documents them.
    pub const ALL: [ReportFormat; 10] = [
        ReportFormat::Junitxml,
        ReportFormat::Cucumberjson,
        ReportFormat::Nunitxml,
        ReportFormat::Nunit3xml,
        ReportFormat::Testngxml,
        ReportFormat::Visualstudiotrx,
        ReportFormat::Cloverxml,
        ReportFormat::Coberturaxml,
        ReportFormat::Jacocoxml,
        ReportFormat::Simplecov,
    ];

    /// The name used in buildspecs and on the wire, e.g. `JUNITXML`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportFormat::Junitxml => "JUNITXML",
            ReportFormat::Cucumberjson => "CUCUMBERJSON",
            ReportFormat::Nunitxml => "NUNITXML",
            ReportFormat::Nunit3xml => "NUNIT3XML",
            ReportFormat::Testngxml => "TESTNGXML",
            ReportFormat::Visualstudiotrx => "VISUALSTUDIOTRX",
            ReportFormat::Cloverxml => "CLOVERXML",
            ReportFormat::Coberturaxml => "COBERTURAXML",
            ReportFormat::Jacocoxml => "JACOCOXML",
            ReportFormat::Simplecov => "SIMPLECOV",
        }
    }

    /// Whether the format holds test results (as opposed to code coverage).
    pub fn is_test(self) -> bool {
        !matches!(
            self,
            ReportFormat::Cloverxml
                | ReportFormat::Coberturaxml
                | ReportFormat::Jacocoxml
                | ReportFormat::Simplecov
        )
    }
}
