//! `buildspec.yml`, version 0.2: parsing, validation and compiling into a [`BuildPlan`].
//!
//! The rules follow CodeBuild (`shared/reference/aws-formats.md` §1): structure and values of
//! known keys are checked strictly and reported as errors; unknown keys are warnings that name
//! what was expected, because CodeBuild's own handling of them is lenient and a typo such as
//! `bulid` deserves a pointer rather than a refusal.

use protocol::{
    ArtifactSpec, BuildPlan, CacheAction, CacheSpec, EnvVariable, OnFailure, PhasePlan, PhaseType,
    ReportFormat, ReportSpec, SecretReference, Shell,
};

use crate::diagnostic::{Parsed, Pos, Sink};
use crate::read::{self, fields};
use crate::yaml::{self, Node, NodeKind, key_text};

/// A parsed buildspec: the plan it compiles to, and the keys that only matter to a server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Buildspec {
    /// `version`, as written (`0.2`).
    pub version: String,
    /// Everything an executor needs.
    pub plan: BuildPlan,
    /// `env.git-credential-helper`.
    pub git_credential_helper: bool,
    /// `proxy.upload-artifacts` and `proxy.logs`.
    pub proxy: Proxy,
    /// `batch`, when the buildspec defines a batch build.
    pub batch: Option<Batch>,
}

impl Buildspec {
    /// Why this buildspec cannot run as a single build, or `None` when it can: only one that
    /// defines a batch build and no phase cannot. A buildspec with no known phase (its only
    /// phase misspelt `bulid`) runs no commands and succeeds, with the parser's warning, as
    /// in CodeBuild. The local `slipway build` and the server's StartBuild both decide by
    /// this, so a buildspec behaves the same in both.
    pub fn single_build_refusal(&self) -> Option<&'static str> {
        (self.plan.phases.is_empty() && self.batch.is_some())
            .then_some("defines only a batch build")
    }
}

/// `proxy`: whether uploads and logs go through the project's proxy server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Proxy {
    /// `upload-artifacts`.
    pub upload_artifacts: bool,
    /// `logs`.
    pub logs: bool,
}

/// `batch`: how one buildspec fans out into several builds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    /// `fast-fail`: stop the other builds when one fails.
    pub fast_fail: bool,
    /// `build-list` or `build-graph` tasks, in file order.
    pub tasks: Vec<BatchTask>,
    /// Whether the tasks came from `build-graph` (and may `depend-on` each other).
    pub graph: bool,
    /// `build-matrix`.
    pub matrix: Option<BatchMatrix>,
    /// `build-fanout`.
    pub fanout: Option<BatchFanout>,
}

/// One task of a `build-list` or `build-graph`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchTask {
    /// `identifier`.
    pub identifier: String,
    /// `buildspec`: another buildspec file for this task.
    pub buildspec: Option<String>,
    /// `depend-on` (build-graph only).
    pub depend_on: Vec<String>,
    /// `ignore-failure`.
    pub ignore_failure: bool,
    /// `debug-session`.
    pub debug_session: bool,
    /// `env`.
    pub env: BatchEnv,
}

/// A batch task's environment overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchEnv {
    /// `compute-type`.
    pub compute_type: Option<String>,
    /// `image`.
    pub image: Option<String>,
    /// `privileged-mode`.
    pub privileged_mode: Option<bool>,
    /// `type`.
    pub environment_type: Option<String>,
    /// `fleet`.
    pub fleet: Option<String>,
    /// `variables`.
    pub variables: Vec<EnvVariable>,
}

/// `build-matrix`: the cartesian product of the `dynamic` values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchMatrix {
    /// `static.ignore-failure`.
    pub ignore_failure: bool,
    /// `static.env`.
    pub static_env: BatchEnv,
    /// `dynamic.buildspec`.
    pub buildspecs: Vec<String>,
    /// `dynamic.env.image`.
    pub images: Vec<String>,
    /// `dynamic.env.compute-type`.
    pub compute_types: Vec<String>,
    /// `dynamic.env.variables`: each name with its values.
    pub variables: Vec<(String, Vec<String>)>,
}

/// `build-fanout`: one buildspec run in parallel shards.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchFanout {
    /// `parallelism`.
    pub parallelism: u32,
    /// `ignore-failure`.
    pub ignore_failure: bool,
}

const TOP_KEYS: &[&str] =
    &["version", "run-as", "env", "proxy", "batch", "phases", "reports", "artifacts", "cache"];
const ENV_KEYS: &[&str] = &[
    "shell",
    "variables",
    "parameter-store",
    "exported-variables",
    "secrets-manager",
    "git-credential-helper",
];
const PHASE_NAMES: &[&str] = &["install", "pre_build", "build", "post_build"];
const PHASE_KEYS: &[&str] = &["run-as", "on-failure", "runtime-versions", "commands", "finally"];
const ARTIFACT_KEYS: &[&str] = &[
    "files",
    "name",
    "discard-paths",
    "base-directory",
    "exclude-paths",
    "enable-symlinks",
    "s3-prefix",
    "secondary-artifacts",
];
const CACHE_KEYS: &[&str] = &["key", "fallback-keys", "action", "paths"];
const REPORT_KEYS: &[&str] = &["files", "base-directory", "discard-paths", "file-format"];

/// Parses a buildspec. `file` is the name diagnostics use.
pub fn parse(file: &str, text: &str) -> Parsed<Buildspec> {
    let mut sink = Sink::new(file);
    let value = yaml::parse(text, &mut sink).and_then(|root| buildspec(&root, &mut sink));
    Parsed { value, diagnostics: sink.finish() }
}

fn buildspec(root: &Node, sink: &mut Sink) -> Option<Buildspec> {
    let NodeKind::Map(entries) = &root.kind else {
        sink.error(
            root.pos,
            format!(
                "a buildspec must be a mapping with `version` and `phases`, found {}",
                root.type_name()
            ),
        );
        return None;
    };
    let mut spec = Buildspec::default();
    let mut version_seen = false;
    let mut phases_seen = false;
    fields(entries, "", TOP_KEYS, sink, |key, _, value, sink| match key {
        "version" => {
            version_seen = true;
            if let Some(version) = read::string(value, "version", sink) {
                check_version(&version, value.pos, sink);
                spec.version = version;
            }
        }
        "run-as" => spec.plan.run_as = read::required_string(value, "run-as", sink),
        "env" => env(value, &mut spec, sink),
        "proxy" => spec.proxy = proxy(value, sink),
        "batch" => spec.batch = batch(value, sink),
        "phases" => {
            phases_seen = true;
            spec.plan.phases = phases(value, sink);
        }
        "reports" => spec.plan.reports = reports(value, sink),
        "artifacts" => {
            if let Some((primary, secondary)) = artifacts(value, sink) {
                spec.plan.artifacts = primary;
                spec.plan.secondary_artifacts = secondary;
            }
        }
        "cache" => spec.plan.cache = cache(value, sink),
        _ => unreachable!("fields() only passes known keys"),
    });
    if !version_seen {
        sink.error(root.pos, "missing `version` (write `version: 0.2` at the top)");
    }
    if !phases_seen && spec.batch.is_none() {
        sink.error(
            root.pos,
            "missing `phases` (a buildspec needs `phases`, or `batch` for a batch build)",
        );
    }
    Some(spec)
}

fn check_version(version: &str, pos: Pos, sink: &mut Sink) {
    match version {
        "0.2" => {}
        "0.1" => sink.error(
            pos,
            "buildspec version 0.1 is not supported: it runs every command in a fresh shell; \
             change to `version: 0.2` (and `environment_variables`/`plaintext` to `env`/`variables`)",
        ),
        other => sink.error(pos, format!("unsupported buildspec version `{other}`; the version is 0.2")),
    }
}

fn env(node: &Node, spec: &mut Buildspec, sink: &mut Sink) {
    let Some(entries) = read::map(node, "env", sink) else { return };
    let plan = &mut spec.plan;
    let mut credential_helper = false;
    fields(entries, "env", ENV_KEYS, sink, |key, _, value, sink| match key {
        "shell" => {
            if let Some(shell) = read::string(value, "env.shell", sink) {
                match shell.as_str() {
                    "bash" | "/bin/bash" => plan.shell = Shell::Bash,
                    "sh" | "/bin/sh" => plan.shell = Shell::Sh,
                    "powershell.exe" | "cmd.exe" | "pwsh" | "pwsh.exe" => sink.error(
                        value.pos,
                        format!("`env.shell: {shell}` needs a Windows build host; Slipway agents run Linux shells (bash, /bin/sh)"),
                    ),
                    _ => sink.error(value.pos, format!("unknown `env.shell` `{shell}`; expected bash or /bin/sh")),
                }
            }
        }
        "variables" => plan.variables = variables(value, "env.variables", sink),
        "parameter-store" => {
            plan.parameter_store = secret_references(value, "env.parameter-store", sink)
        }
        "secrets-manager" => {
            plan.secrets_manager = secret_references(value, "env.secrets-manager", sink);
            for reference in &plan.secrets_manager {
                let parts: Vec<&str> = reference.reference.split(':').collect();
                // An ARN holds colons of its own: `arn:aws:secretsmanager:region:account:secret:name`.
                let parts = if parts.first() == Some(&"arn") && parts.len() >= 7 {
                    &parts[6..]
                } else {
                    &parts[..]
                };
                if parts.len() > 4 {
                    sink.error(
                        value.pos,
                        format!("`env.secrets-manager.{}` has too many parts; expected secret-id[:json-key[:version-stage[:version-id]]]", reference.name),
                    );
                }
            }
        }
        "exported-variables" => {
            plan.exported_variables =
                read::string_list(value, "env.exported-variables", false, sink).unwrap_or_default();
            if let NodeKind::Seq(items) = &value.kind {
                for item in items {
                    if let Some(s) = item.as_scalar().filter(|it| it.text.starts_with("AWS_")) {
                        sink.error(
                            item.pos,
                            format!(
                                "`{}` cannot be exported: names starting with AWS_ are reserved",
                                s.text
                            ),
                        );
                    }
                }
            }
        }
        "git-credential-helper" => {
            credential_helper =
                read::boolean(value, "env.git-credential-helper", sink).unwrap_or(false)
        }
        _ => unreachable!(),
    });
    spec.git_credential_helper = credential_helper;
    spec.plan.git_credential_helper = credential_helper;
}

fn variables(node: &Node, what: &str, sink: &mut Sink) -> Vec<EnvVariable> {
    let Some(entries) = read::map(node, what, sink) else { return Vec::new() };
    let mut out = Vec::new();
    for (key, value) in entries {
        let name = key_text(key);
        if !valid_variable_name(&name) {
            sink.error(key.pos, format!("`{name}` is not a valid environment variable name"));
            continue;
        }
        if name.starts_with("CODEBUILD_") {
            sink.error(
                key.pos,
                format!("`{name}`: variable names starting with CODEBUILD_ are reserved"),
            );
            continue;
        }
        // A null value is an empty string, as an empty `export NAME=` would be.
        let value = if value.is_null() {
            Some(String::new())
        } else {
            read::string(value, &format!("{what}.{name}"), sink)
        };
        if let Some(value) = value {
            out.push(EnvVariable { name, value });
        }
    }
    out
}

fn secret_references(node: &Node, what: &str, sink: &mut Sink) -> Vec<SecretReference> {
    variables(node, what, sink)
        .into_iter()
        .zip(read::map(node, what, &mut Sink::new("")).unwrap_or_default())
        .filter_map(|(var, (_, value))| {
            if var.value.is_empty() {
                sink.error(
                    value.pos,
                    format!("`{what}.{}` must name a parameter or secret", var.name),
                );
                return None;
            }
            Some(SecretReference { name: var.name, reference: var.value })
        })
        .collect()
}

fn valid_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn proxy(node: &Node, sink: &mut Sink) -> Proxy {
    let mut proxy = Proxy::default();
    let Some(entries) = read::map(node, "proxy", sink) else { return proxy };
    fields(entries, "proxy", &["upload-artifacts", "logs"], sink, |key, _, value, sink| {
        let on = read::boolean(value, &format!("proxy.{key}"), sink).unwrap_or(false);
        if key == "logs" { proxy.logs = on } else { proxy.upload_artifacts = on }
    });
    proxy
}

fn phases(node: &Node, sink: &mut Sink) -> Vec<PhasePlan> {
    let Some(entries) = read::map(node, "phases", sink) else { return Vec::new() };
    let mut out = Vec::new();
    fields(entries, "phases", PHASE_NAMES, sink, |name, _, value, sink| {
        let phase = PhaseType::BUILDSPEC
            .into_iter()
            .find(|it| it.buildspec_key() == Some(name))
            .expect("PHASE_NAMES are the buildspec keys");
        out.push(phase_plan(phase, name, value, sink));
    });
    // Phases run in a fixed order, whatever order the file lists them in.
    out.sort_by_key(|it| it.phase);
    out
}

fn phase_plan(phase: PhaseType, name: &str, node: &Node, sink: &mut Sink) -> PhasePlan {
    let mut plan = PhasePlan {
        phase,
        run_as: None,
        on_failure: None,
        runtime_versions: Vec::new(),
        commands: Vec::new(),
        finally: Vec::new(),
    };
    let what = format!("phases.{name}");
    let Some(entries) = read::map(node, &what, sink) else { return plan };
    fields(entries, &what, PHASE_KEYS, sink, |key, key_node, value, sink| match key {
        "run-as" => plan.run_as = read::required_string(value, &format!("{what}.run-as"), sink),
        "on-failure" => {
            if let Some(text) = read::required_string(value, &format!("{what}.on-failure"), sink) {
                match parse_on_failure(&text) {
                    Ok(it) => plan.on_failure = Some(it),
                    Err(message) => sink.error(value.pos, message),
                }
            }
        }
        "runtime-versions" => {
            if phase != PhaseType::Install {
                sink.warning(
                    key_node.pos,
                    format!(
                        "`runtime-versions` is only used in the install phase; ignored in `{what}`"
                    ),
                );
                return;
            }
            plan.runtime_versions = variables_any(value, &format!("{what}.runtime-versions"), sink);
        }
        "commands" => plan.commands = commands(value, &format!("{what}.commands"), sink),
        "finally" => plan.finally = commands(value, &format!("{what}.finally"), sink),
        _ => unreachable!(),
    });
    plan
}

/// A mapping of names to scalar values, names unchecked (runtime names such as `nodejs`).
fn variables_any(node: &Node, what: &str, sink: &mut Sink) -> Vec<(String, String)> {
    let Some(entries) = read::map(node, what, sink) else { return Vec::new() };
    entries
        .iter()
        .filter_map(|(key, value)| {
            let name = key_text(key);
            read::string(value, &format!("{what}.{name}"), sink).map(|it| (name, it))
        })
        .collect()
}

fn commands(node: &Node, what: &str, sink: &mut Sink) -> Vec<String> {
    if let NodeKind::Scalar(_) = node.kind
        && !node.is_null()
    {
        sink.error(node.pos, format!("`{what}` must be a list of commands (each on a line starting with `- `), found a single string"));
        return Vec::new();
    }
    read::string_list(node, what, false, sink).unwrap_or_default()
}

/// `ABORT`, `CONTINUE`, `RETRY`, `RETRY-<count>`, `RETRY-<regex>`, `RETRY-<count>-<regex>`.
pub fn parse_on_failure(text: &str) -> Result<OnFailure, String> {
    const DEFAULT_RETRIES: u32 = 3;
    match text {
        "ABORT" => return Ok(OnFailure::Abort),
        "CONTINUE" => return Ok(OnFailure::Continue),
        "RETRY" => return Ok(OnFailure::Retry { count: DEFAULT_RETRIES, pattern: None }),
        _ => {}
    }
    let expected =
        "expected ABORT, CONTINUE, RETRY, RETRY-<count>, RETRY-<regex> or RETRY-<count>-<regex>";
    let Some(rest) = text.strip_prefix("RETRY-") else {
        let upper = text.to_ascii_uppercase();
        if upper != text && parse_on_failure(&upper).is_ok() {
            return Err(format!(
                "invalid `on-failure` value `{text}`: values are upper case (`{upper}`)"
            ));
        }
        return Err(format!("invalid `on-failure` value `{text}`; {expected}"));
    };
    let (count, pattern) = match rest.split_once('-') {
        _ if rest.chars().all(|c| c.is_ascii_digit()) => (rest, None),
        Some((count, pattern))
            if !count.is_empty() && count.chars().all(|c| c.is_ascii_digit()) =>
        {
            (count, Some(pattern))
        }
        _ => ("", Some(rest)),
    };
    let count = if count.is_empty() {
        DEFAULT_RETRIES
    } else {
        match count.parse::<u32>() {
            Ok(n) if n <= 100 => n,
            _ => {
                return Err(format!(
                    "invalid `on-failure` value `{text}`: the retry count must be between 0 and 100"
                ));
            }
        }
    };
    if let Some(pattern) = pattern {
        if pattern.is_empty() {
            return Err(format!("invalid `on-failure` value `{text}`: the retry pattern is empty"));
        }
        if let Err(err) = regex::Regex::new(pattern) {
            // The regex crate's message draws a caret over several lines; its last line says why.
            let err = err.to_string();
            let why = err.lines().last().unwrap_or_default().trim_start_matches("error: ");
            return Err(format!(
                "invalid `on-failure` value `{text}`: `{pattern}` is not a valid regular expression ({why})"
            ));
        }
    }
    Ok(OnFailure::Retry { count, pattern: pattern.map(str::to_owned) })
}

fn reports(node: &Node, sink: &mut Sink) -> Vec<ReportSpec> {
    let Some(entries) = read::map(node, "reports", sink) else { return Vec::new() };
    let mut out = Vec::new();
    for (key, value) in entries {
        let name = key_text(key);
        let what = format!("reports.{name}");
        let Some(fields_) = read::map(value, &what, sink) else { continue };
        let mut report = ReportSpec {
            name: name.clone(),
            files: Vec::new(),
            base_directory: None,
            discard_paths: false,
            file_format: ReportFormat::default(),
        };
        let mut has_files = false;
        fields(fields_, &what, REPORT_KEYS, sink, |key, _, value, sink| match key {
            "files" => {
                has_files = true;
                report.files = read::string_list(value, &format!("{what}.files"), true, sink)
                    .unwrap_or_default();
            }
            "base-directory" => {
                report.base_directory =
                    read::required_string(value, &format!("{what}.base-directory"), sink)
            }
            "discard-paths" => {
                report.discard_paths =
                    read::boolean(value, &format!("{what}.discard-paths"), sink).unwrap_or(false)
            }
            "file-format" => {
                if let Some(text) = read::string(value, &format!("{what}.file-format"), sink) {
                    match ReportFormat::ALL
                        .into_iter()
                        .find(|it| it.as_str().eq_ignore_ascii_case(text.trim()))
                    {
                        Some(format) => report.file_format = format,
                        None => sink.error(
                            value.pos,
                            format!(
                                "unknown report `file-format` `{text}`; expected one of {}",
                                ReportFormat::ALL.map(|it| it.as_str()).join(", ")
                            ),
                        ),
                    }
                }
            }
            _ => unreachable!(),
        });
        if !has_files || report.files.is_empty() {
            sink.error(key.pos, format!("`{what}` needs `files`: the report files to read"));
        }
        out.push(report);
    }
    if out.len() > 5 {
        sink.error(
            node.pos,
            format!("a buildspec may have at most 5 report groups, found {}", out.len()),
        );
    }
    out
}

type Artifacts = (Option<ArtifactSpec>, Vec<(String, ArtifactSpec)>);

fn artifacts(node: &Node, sink: &mut Sink) -> Option<Artifacts> {
    let entries = read::map(node, "artifacts", sink)?;
    let mut secondary = Vec::new();
    let primary = artifact(entries, node, "artifacts", true, &mut secondary, sink);
    Some((Some(primary), secondary))
}

fn artifact(
    entries: &[(Node, Node)],
    node: &Node,
    what: &str,
    primary: bool,
    secondary: &mut Vec<(String, ArtifactSpec)>,
    sink: &mut Sink,
) -> ArtifactSpec {
    let mut spec = ArtifactSpec::default();
    let mut has_files = false;
    let keys = if primary { ARTIFACT_KEYS } else { &ARTIFACT_KEYS[..ARTIFACT_KEYS.len() - 1] };
    fields(entries, what, keys, sink, |key, _, value, sink| {
        let field = format!("{what}.{key}");
        match key {
            "files" => {
                has_files = true;
                spec.files = read::string_list(value, &field, true, sink).unwrap_or_default();
            }
            "name" => spec.name = read::required_string(value, &field, sink),
            "discard-paths" => {
                spec.discard_paths = read::boolean(value, &field, sink).unwrap_or(false)
            }
            "base-directory" => spec.base_directory = read::required_string(value, &field, sink),
            "exclude-paths" => {
                spec.exclude_paths =
                    read::string_list(value, &field, true, sink).unwrap_or_default()
            }
            "enable-symlinks" => {
                spec.enable_symlinks = read::boolean(value, &field, sink).unwrap_or(false)
            }
            "s3-prefix" => spec.s3_prefix = read::required_string(value, &field, sink),
            "secondary-artifacts" => {
                let Some(items) = read::map(value, &field, sink) else { return };
                for (id_node, item) in items {
                    let id = key_text(id_node);
                    let item_what = format!("{field}.{id}");
                    if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                        || id.is_empty()
                    {
                        sink.error(id_node.pos, format!("artifact identifier `{id}` may only hold letters, digits, `_` and `-`"));
                    }
                    if let Some(entries) = read::map(item, &item_what, sink) {
                        let spec =
                            artifact(entries, item, &item_what, false, &mut Vec::new(), sink);
                        secondary.push((id, spec));
                    }
                }
            }
            _ => unreachable!(),
        }
    });
    if !has_files || spec.files.is_empty() {
        sink.error(node.pos, format!("`{what}` needs `files`: the globs of the files to package"));
    }
    spec
}

fn cache(node: &Node, sink: &mut Sink) -> Option<CacheSpec> {
    let entries = read::map(node, "cache", sink)?;
    let mut spec = CacheSpec::default();
    let mut has_paths = false;
    fields(entries, "cache", CACHE_KEYS, sink, |key, _, value, sink| {
        let field = format!("cache.{key}");
        match key {
            "paths" => {
                has_paths = true;
                spec.paths = read::string_list(value, &field, true, sink).unwrap_or_default();
            }
            "key" => spec.key = read::required_string(value, &field, sink),
            "fallback-keys" => {
                spec.fallback_keys =
                    read::string_list(value, &field, true, sink).unwrap_or_default();
                if spec.fallback_keys.len() > 5 {
                    sink.error(
                        value.pos,
                        format!(
                            "`cache.fallback-keys` may hold at most 5 keys, found {}",
                            spec.fallback_keys.len()
                        ),
                    );
                }
            }
            "action" => {
                if let Some(text) = read::string(value, &field, sink) {
                    match text.as_str() {
                        "restore" => spec.action = CacheAction::Restore,
                        "save" => spec.action = CacheAction::Save,
                        _ => sink.error(
                            value.pos,
                            format!("unknown `cache.action` `{text}`; expected restore or save"),
                        ),
                    }
                }
            }
            _ => unreachable!(),
        }
    });
    if !has_paths || spec.paths.is_empty() {
        sink.error(
            node.pos,
            "`cache` needs `paths`: the globs of the files to keep between builds",
        );
    }
    if !spec.fallback_keys.is_empty() && spec.key.is_none() {
        sink.warning(node.pos, "`cache.fallback-keys` is ignored without `cache.key`");
    }
    Some(spec)
}

fn batch(node: &Node, sink: &mut Sink) -> Option<Batch> {
    let entries = read::map(node, "batch", sink)?;
    let mut batch = Batch::default();
    let mut kinds = Vec::new();
    let keys = &["fast-fail", "build-list", "build-graph", "build-matrix", "build-fanout"];
    fields(entries, "batch", keys, sink, |key, key_node, value, sink| {
        let field = format!("batch.{key}");
        match key {
            "fast-fail" => batch.fast_fail = read::boolean(value, &field, sink).unwrap_or(false),
            "build-list" | "build-graph" => {
                kinds.push(key_node.pos);
                batch.graph = key == "build-graph";
                batch.tasks = batch_tasks(value, &field, batch.graph, sink);
            }
            "build-matrix" => {
                kinds.push(key_node.pos);
                batch.matrix = batch_matrix(value, sink);
            }
            "build-fanout" => {
                kinds.push(key_node.pos);
                batch.fanout = batch_fanout(value, sink);
            }
            _ => unreachable!(),
        }
    });
    match kinds.len() {
        0 => sink.error(
            node.pos,
            "`batch` needs one of build-list, build-graph, build-matrix or build-fanout",
        ),
        1 => {}
        _ => sink.error(
            kinds[1],
            "`batch` may hold only one of build-list, build-graph, build-matrix and build-fanout",
        ),
    }
    Some(batch)
}

fn batch_tasks(node: &Node, what: &str, graph: bool, sink: &mut Sink) -> Vec<BatchTask> {
    let NodeKind::Seq(items) = &node.kind else {
        sink.error(
            node.pos,
            format!("`{what}` must be a list of tasks, found {}", node.type_name()),
        );
        return Vec::new();
    };
    let mut keys = vec!["identifier", "buildspec", "debug-session", "env", "ignore-failure"];
    if graph {
        keys.push("depend-on");
    }
    let mut tasks: Vec<BatchTask> = Vec::new();
    for item in items {
        let Some(entries) = read::map(item, &format!("{what}[]"), sink) else { continue };
        let mut task = BatchTask::default();
        fields(entries, &format!("{what}[]"), &keys, sink, |key, _, value, sink| {
            let field = format!("{what}[].{key}");
            match key {
                "identifier" => {
                    task.identifier = read::required_string(value, &field, sink).unwrap_or_default()
                }
                "buildspec" => task.buildspec = read::required_string(value, &field, sink),
                "debug-session" => {
                    task.debug_session = read::boolean(value, &field, sink).unwrap_or(false)
                }
                "ignore-failure" => {
                    task.ignore_failure = read::boolean(value, &field, sink).unwrap_or(false)
                }
                "depend-on" => {
                    task.depend_on =
                        read::string_list(value, &field, true, sink).unwrap_or_default()
                }
                "env" => task.env = batch_env(value, &field, sink),
                _ => unreachable!(),
            }
        });
        if task.identifier.is_empty() {
            sink.error(item.pos, format!("every task in `{what}` needs an `identifier`"));
        } else if tasks.iter().any(|it| it.identifier == task.identifier) {
            sink.error(
                item.pos,
                format!("duplicate task identifier `{}` in `{what}`", task.identifier),
            );
        }
        tasks.push(task);
    }
    for (task, item) in tasks.iter().zip(items) {
        for dependency in &task.depend_on {
            if !tasks.iter().any(|it| &it.identifier == dependency) {
                sink.error(
                    item.pos,
                    format!(
                        "task `{}` depends on `{dependency}`, which is not a task of `{what}`",
                        task.identifier
                    ),
                );
            }
        }
    }
    tasks
}

fn batch_env(node: &Node, what: &str, sink: &mut Sink) -> BatchEnv {
    let mut env = BatchEnv::default();
    let Some(entries) = read::map(node, what, sink) else { return env };
    let keys = &["compute-type", "image", "privileged-mode", "type", "fleet", "variables"];
    fields(entries, what, keys, sink, |key, _, value, sink| {
        let field = format!("{what}.{key}");
        match key {
            "compute-type" => env.compute_type = read::required_string(value, &field, sink),
            "image" => env.image = read::required_string(value, &field, sink),
            "privileged-mode" => env.privileged_mode = read::boolean(value, &field, sink),
            "type" => env.environment_type = read::required_string(value, &field, sink),
            "fleet" => env.fleet = read::required_string(value, &field, sink),
            "variables" => env.variables = variables(value, &field, sink),
            _ => unreachable!(),
        }
    });
    env
}

fn batch_matrix(node: &Node, sink: &mut Sink) -> Option<BatchMatrix> {
    let entries = read::map(node, "batch.build-matrix", sink)?;
    let mut matrix = BatchMatrix::default();
    fields(entries, "batch.build-matrix", &["static", "dynamic"], sink, |key, _, value, sink| {
        let Some(inner) = read::map(value, &format!("batch.build-matrix.{key}"), sink) else {
            return;
        };
        if key == "static" {
            let what = "batch.build-matrix.static";
            fields(inner, what, &["ignore-failure", "env"], sink, |key, _, value, sink| {
                if key == "env" {
                    matrix.static_env = batch_env(value, &format!("{what}.env"), sink);
                } else {
                    matrix.ignore_failure =
                        read::boolean(value, &format!("{what}.{key}"), sink).unwrap_or(false);
                }
            });
            return;
        }
        let what = "batch.build-matrix.dynamic";
        fields(inner, what, &["buildspec", "env"], sink, |key, _, value, sink| {
            if key == "buildspec" {
                matrix.buildspecs =
                    read::string_list(value, &format!("{what}.buildspec"), true, sink)
                        .unwrap_or_default();
                return;
            }
            let what = format!("{what}.env");
            let Some(env) = read::map(value, &what, sink) else { return };
            fields(
                env,
                &what,
                &["compute-type", "image", "variables"],
                sink,
                |key, _, value, sink| {
                    let field = format!("{what}.{key}");
                    match key {
                        "compute-type" => {
                            matrix.compute_types =
                                read::string_list(value, &field, true, sink).unwrap_or_default()
                        }
                        "image" => {
                            matrix.images =
                                read::string_list(value, &field, true, sink).unwrap_or_default()
                        }
                        _ => {
                            let Some(vars) = read::map(value, &field, sink) else { return };
                            for (name, values) in vars {
                                let name = key_text(name);
                                let values = read::string_list(
                                    values,
                                    &format!("{field}.{name}"),
                                    true,
                                    sink,
                                )
                                .unwrap_or_default();
                                matrix.variables.push((name, values));
                            }
                        }
                    }
                },
            );
        });
    });
    Some(matrix)
}

fn batch_fanout(node: &Node, sink: &mut Sink) -> Option<BatchFanout> {
    let entries = read::map(node, "batch.build-fanout", sink)?;
    let mut fanout = BatchFanout { parallelism: 1, ignore_failure: false };
    fields(
        entries,
        "batch.build-fanout",
        &["parallelism", "ignore-failure"],
        sink,
        |key, _, value, sink| {
            let field = format!("batch.build-fanout.{key}");
            if key == "ignore-failure" {
                fanout.ignore_failure = read::boolean(value, &field, sink).unwrap_or(false);
            } else if let Some(text) = read::string(value, &field, sink) {
                match text.parse::<u32>() {
                    Ok(n) if n >= 1 => fanout.parallelism = n,
                    _ => sink.error(
                        value.pos,
                        format!("`{field}` must be a whole number of at least 1, found `{text}`"),
                    ),
                }
            }
        },
    );
    Some(fanout)
}

#[cfg(test)]
mod tests;
