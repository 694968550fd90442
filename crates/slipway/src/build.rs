//! `slipway build`: run a buildspec locally with the agent's executor.
//!
//! The source is copied into a fresh workspace, so the user's directory is never changed.
//! Nothing runs unless the arguments, the buildspec and the secrets file are all valid.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use agent::{BuildContext, MapSecrets};
use formats::Severity;
use protocol::{BuildStatus, EnvVariable};
use tokio::sync::{mpsc, watch};

use crate::render::Renderer;
use crate::{EXIT_FAILED, EXIT_INVALID, config};

/// The longest build timeout CodeBuild allows, in minutes (36 hours).
const MAX_TIMEOUT_MINUTES: f64 = 2160.0;

#[derive(Debug, clap::Args)]
pub(crate) struct BuildArgs {
    /// The source directory; it is copied into a fresh workspace and never changed.
    #[arg(long, default_value = ".", value_name = "DIR")]
    source: PathBuf,
    /// The buildspec, relative to the source directory or the current one
    /// [default: buildspec.yml, then buildspec.yaml, in the source]
    #[arg(long, value_name = "FILE")]
    buildspec: Option<PathBuf>,
    /// Where to write artifacts.zip and <identifier>.zip for secondary artifacts.
    #[arg(long, default_value = "slipway-artifacts", value_name = "DIR")]
    artifacts: PathBuf,
    /// Write the build record, shaped like CodeBuild's Build, as JSON to this file.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Set a variable, overriding the buildspec's (repeatable).
    #[arg(long = "env", value_name = "NAME=VALUE")]
    env: Vec<String>,
    /// A JSON or YAML map of parameter names and secret ids to values, for
    /// `env.parameter-store` and `env.secrets-manager`.
    #[arg(long, value_name = "FILE")]
    secrets: Option<PathBuf>,
    /// Keep the cache (`cache` in the buildspec) in this directory.
    #[arg(long, value_name = "DIR")]
    cache: Option<PathBuf>,
    /// Stop the build after this many minutes (fractions allowed).
    #[arg(long, default_value_t = 60.0, value_name = "MINUTES")]
    timeout: f64,
    /// Run the commands inside bubblewrap: the host read-only, the workspace writable.
    #[arg(long)]
    sandbox: bool,
}

pub(crate) fn run(args: BuildArgs) -> ExitCode {
    let prepared = match prepare(&args) {
        Ok(prepared) => prepared,
        Err(message) => {
            eprintln!("slipway build: {message}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("slipway build: cannot start: {err}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    runtime.block_on(execute(args, prepared))
}

/// Everything checked before anything runs.
struct Prepared {
    plan: protocol::BuildPlan,
    buildspec_path: PathBuf,
    source: PathBuf,
    secrets: MapSecrets,
    overrides: Vec<EnvVariable>,
    timeout: Duration,
}

fn prepare(args: &BuildArgs) -> Result<Prepared, String> {
    let source = args
        .source
        .canonicalize()
        .map_err(|err| format!("source directory {}: {err}", args.source.display()))?;
    if !source.is_dir() {
        return Err(format!("source {} is not a directory", args.source.display()));
    }
    let buildspec_path = find_buildspec(&source, args.buildspec.as_deref())?;
    let text = std::fs::read_to_string(&buildspec_path)
        .map_err(|err| format!("cannot read {}: {err}", buildspec_path.display()))?;
    let display_name = display_path(&buildspec_path);
    let parsed = formats::buildspec::parse(&display_name, &text);
    for diagnostic in &parsed.diagnostics {
        eprintln!("{diagnostic}");
    }
    let errors = parsed.diagnostics.iter().filter(|it| it.severity == Severity::Error).count();
    let buildspec = match (parsed.value, errors) {
        (Some(buildspec), 0) => buildspec,
        _ => {
            let noun = if errors == 1 { "error" } else { "errors" };
            return Err(format!("{display_name} is invalid ({errors} {noun}); nothing was run"));
        }
    };
    if let Some(reason) = buildspec.single_build_refusal() {
        return Err(format!("{display_name} {reason}; run each task's buildspec with --buildspec"));
    }
    if !(args.timeout > 0.0 && args.timeout <= MAX_TIMEOUT_MINUTES) {
        return Err(format!(
            "--timeout must be more than 0 and at most {MAX_TIMEOUT_MINUTES} minutes"
        ));
    }
    let overrides = args.env.iter().map(|it| parse_env(it)).collect::<Result<Vec<_>, _>>()?;
    let secrets = match &args.secrets {
        Some(path) => MapSecrets::new(read_secrets(path)?),
        None => MapSecrets::default(),
    };
    Ok(Prepared {
        plan: buildspec.plan,
        buildspec_path,
        source,
        secrets,
        overrides,
        timeout: Duration::from_secs_f64(args.timeout * 60.0),
    })
}

async fn execute(args: BuildArgs, prepared: Prepared) -> ExitCode {
    let project_name = project_name(&prepared.source);
    let uuid = uuid::Uuid::new_v4();
    let build_id = format!("{project_name}:{uuid}");
    let region = "us-east-1";
    let work_dir = match tempfile::Builder::new().prefix("slipway-build-").tempdir() {
        Ok(dir) => dir.keep(),
        Err(err) => {
            eprintln!("slipway build: cannot create a workspace: {err}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let artifacts_dir = absolute(&args.artifacts);
    let context = BuildContext {
        build_arn: format!("arn:aws:codebuild:{region}:000000000000:build/{build_id}"),
        build_id,
        build_number: 1,
        project_name,
        region: region.to_owned(),
        initiator: "slipway-build".to_owned(),
        source_dir: prepared.source.clone(),
        work_dir,
        artifacts_dir,
        cache_dir: args.cache.as_deref().map(absolute),
        timeout: prepared.timeout,
        base_env: config::host_environment(),
        env_overrides: prepared.overrides,
        helper_program: std::env::current_exe().ok(),
        sandbox: args.sandbox,
        sandbox_hidden: Vec::new(),
        output_budget: None,
        git_credentials: None,
        platform_variables: Vec::new(),
        source_version: None,
        source_repo_url: None,
        source_commit: None,
        refused_artifacts: None,
    };

    let colour = std::io::stdout().is_terminal();
    let mut renderer = Renderer::new(colour);
    renderer.start(&prepared.buildspec_path, &prepared.source);
    let (events_tx, mut events_rx) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = watch::channel(false);
    // Ctrl-C stops the build: the executor kills everything it started and finishes cleanly.
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = stop_tx.send(true);
        }
    });
    let plan = prepared.plan;
    let secrets = prepared.secrets;
    let build = tokio::spawn(async move {
        agent::run_build(&plan, &context, &secrets, events_tx, stop_rx).await
    });
    while let Some(event) = events_rx.recv().await {
        renderer.event(&event);
    }
    let result = match build.await {
        Ok(result) => result,
        Err(err) => {
            eprintln!("slipway build: the build crashed: {err}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    renderer.summary(&result);
    if let Some(path) = &args.report {
        let json = serde_json::to_string_pretty(&result.build).expect("a build record serializes");
        if let Err(err) = std::fs::write(path, json + "\n") {
            eprintln!("slipway build: cannot write the report {}: {err}", path.display());
            return ExitCode::from(EXIT_FAILED);
        }
    }
    match result.build.build_status {
        BuildStatus::Succeeded => ExitCode::SUCCESS,
        _ => ExitCode::from(EXIT_FAILED),
    }
}

/// `--buildspec` relative to the source first (as CodeBuild reads it), then to the current
/// directory; without it, `buildspec.yml` then `buildspec.yaml` in the source.
fn find_buildspec(source: &Path, given: Option<&Path>) -> Result<PathBuf, String> {
    match given {
        Some(path) => {
            let candidates = [source.join(path), path.to_owned()];
            candidates.into_iter().find(|it| it.is_file()).ok_or_else(|| {
                format!(
                    "buildspec {} not found in {} or the current directory",
                    path.display(),
                    source.display()
                )
            })
        }
        None => ["buildspec.yml", "buildspec.yaml"]
            .into_iter()
            .map(|it| source.join(it))
            .find(|it| it.is_file())
            .ok_or_else(|| {
                format!(
                    "no buildspec.yml or buildspec.yaml in {} (use --buildspec FILE)",
                    source.display()
                )
            }),
    }
}

fn parse_env(text: &str) -> Result<EnvVariable, String> {
    let Some((name, value)) = text.split_once('=') else {
        return Err(format!("--env {text}: expected NAME=VALUE"));
    };
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!("--env {text}: `{name}` is not a valid variable name"));
    }
    if name.starts_with("CODEBUILD_") {
        return Err(format!("--env {text}: names starting with CODEBUILD_ are reserved"));
    }
    Ok(EnvVariable { name: name.to_owned(), value: value.to_owned() })
}

/// A `--secrets` file: a JSON or YAML mapping of names to values (other scalars are taken
/// as their text; a mapping value is stored as JSON, for `secret-id:json-key` lookups).
fn read_secrets(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| format!("--secrets {}: {err}", path.display()))?;
    let value: serde_json::Value = match serde_json::from_str(&text) {
        Ok(value) => value,
        Err(_) => serde_saphyr::from_str(&text)
            .map_err(|err| format!("--secrets {}: {err}", path.display()))?,
    };
    let serde_json::Value::Object(map) = value else {
        return Err(format!("--secrets {}: expected a mapping of names to values", path.display()));
    };
    map.into_iter()
        .map(|(name, value)| {
            let text = match value {
                serde_json::Value::String(it) => it,
                serde_json::Value::Null => {
                    return Err(format!("--secrets {}: `{name}` has no value", path.display()));
                }
                other => other.to_string(),
            };
            Ok((name, text))
        })
        .collect()
}

/// The source directory's name, as a CodeBuild project name (letters, digits, `-`, `_`).
fn project_name(source: &Path) -> String {
    let name: String = source
        .file_name()
        .map(|it| {
            it.to_string_lossy()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' })
                .collect()
        })
        .unwrap_or_default();
    if name.is_empty() { "local".to_owned() } else { name }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// A path as the user would like to read it: relative to the current directory when inside it.
fn display_path(path: &Path) -> String {
    let cwd = std::env::current_dir().ok().and_then(|it| it.canonicalize().ok());
    match cwd.as_deref().and_then(|cwd| path.strip_prefix(cwd).ok()) {
        Some(relative) => relative.display().to_string(),
        None => path.display().to_string(),
    }
}
