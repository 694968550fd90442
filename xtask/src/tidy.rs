//! Repository hygiene checks ("tidy"), written as ordinary tests so that
//! `cargo test --workspace` runs them with everything else.
//!
//! Each test collects every offender before failing, so one run shows the whole list:
//! `//!` docs at the top of every file, no banned test attributes or debugging macros,
//! the dependency rules between our crates (DESIGN.md, "Components"), formatting, and
//! the per-crate manifest settings every crate shares.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The folders whose Rust files tidy reads, relative to the repository root.
const SOURCE_DIRS: &[&str] = &["crates", "xtask"];

/// Text no `.rs` file may contain. Each needle is built from two pieces so that this file
/// does not contain it and need not skip itself.
const BANNED: &[(&str, &str)] = &[
    (concat!("#[ig", "nore"), "tests are never skipped; make them fast or gate them as slow"),
    (concat!("#[should", "_panic"), "test the error value, not a panic"),
    (concat!("tod", "o!("), "finish the code or leave a comment"),
    (concat!("unimplem", "ented!("), "finish the code or return an error"),
    (concat!("db", "g!("), "debugging output left behind"),
];

/// What one of our crates must never depend on, directly or transitively, through normal
/// (not dev, not build) dependencies.
struct DependencyRule {
    krate: &'static str,
    never_reaches: &'static [&'static str],
    /// Whether every other crate of the workspace is forbidden too.
    nor_any_of_ours: bool,
}

/// The "Must never reach" column of DESIGN.md's Components table.
const DEPENDENCY_RULES: &[DependencyRule] = &[
    DependencyRule {
        krate: "protocol",
        never_reaches: &["tokio", "hyper", "http", "axum", "sqlx"],
        nor_any_of_ours: true,
    },
    // What every AWS service shares: no HTTP library, no runtime, none of our crates.
    DependencyRule {
        krate: "awsapi",
        never_reaches: &["tokio", "hyper", "http", "axum", "askama", "tower-http", "sqlx"],
        nor_any_of_ours: true,
    },
    DependencyRule {
        krate: "formats",
        never_reaches: &["tokio", "hyper", "http", "axum", "sqlx", "engine", "server", "agent"],
        nor_any_of_ours: false,
    },
    DependencyRule {
        krate: "engine",
        never_reaches: &["axum", "server", "agent", "slipway", "iam", "codecommit", "codebuild"],
        nor_any_of_ours: false,
    },
    DependencyRule {
        krate: "agent",
        never_reaches: &["engine", "server", "sqlx"],
        nor_any_of_ours: false,
    },
    DependencyRule { krate: "server", never_reaches: &["agent"], nor_any_of_ours: false },
    // Service crates (one per AWS service, ARCHITECTURE.md): no HTTP edge, not the server,
    // and another service only along the edges ARCHITECTURE.md lists (`codecommit` and
    // `codebuild` may use `iam`; `iam` no other service). `hyper`
    // and `tower-http` are not listed: the engine reaches them through object_store's S3
    // client (reqwest).
    DependencyRule {
        krate: "codecommit",
        never_reaches: &["axum", "askama", "server", "agent", "slipway", "codebuild"],
        nor_any_of_ours: false,
    },
    DependencyRule {
        krate: "iam",
        never_reaches: &["axum", "askama", "server", "agent", "slipway", "codecommit", "codebuild"],
        nor_any_of_ours: false,
    },
    // CodeBuild reaches hosted repositories only through its `Repositories` trait, which the
    // server implements: not through the `codecommit` crate.
    DependencyRule {
        krate: "codebuild",
        never_reaches: &["axum", "askama", "server", "agent", "slipway", "codecommit"],
        nor_any_of_ours: false,
    },
    // CloudTrail records every other service's calls, so it must depend on none of them: the
    // server hands it events; it reaches only the engine (the store) and awsapi.
    DependencyRule {
        krate: "s3",
        never_reaches: &[
            "axum",
            "askama",
            "server",
            "agent",
            "slipway",
            "iam",
            "codecommit",
            "codebuild",
            "cloudtrail",
        ],
        nor_any_of_ours: false,
    },
    DependencyRule {
        krate: "cloudtrail",
        never_reaches: &[
            "axum",
            "askama",
            "server",
            "agent",
            "slipway",
            "iam",
            "codecommit",
            "codebuild",
        ],
        nor_any_of_ours: false,
    },
];

#[test]
fn every_rust_file_starts_with_a_doc_comment() {
    let root = repo_root();
    let mut offenders = Vec::new();
    for path in rust_files(&root) {
        let text = read(&path);
        if !text.lines().next().is_some_and(|line| line.starts_with("//!")) {
            offenders.push(format!("  {}", relative(&root, &path)));
        }
    }
    assert!(
        offenders.is_empty(),
        "these files do not start with a `//!` paragraph saying what they are for:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn no_skipped_tests_or_leftover_macros() {
    let root = repo_root();
    let mut offenders = Vec::new();
    for path in rust_files(&root) {
        let text = read(&path);
        for (index, line) in text.lines().enumerate() {
            for (needle, why) in BANNED {
                if line.contains(needle) {
                    offenders.push(format!(
                        "  {}:{}: `{needle}`: {why}",
                        relative(&root, &path),
                        index + 1
                    ));
                }
            }
        }
    }
    assert!(offenders.is_empty(), "banned text found:\n{}", offenders.join("\n"));
}

#[test]
fn dependency_rules_hold() {
    let metadata = cargo_metadata();
    let graph = DependencyGraph::new(&metadata);
    let mut violations = Vec::new();
    for rule in DEPENDENCY_RULES {
        let Some(start) = graph.workspace_member(rule.krate) else {
            violations
                .push(format!("  a rule names `{}`, which is not a workspace crate", rule.krate));
            continue;
        };
        let forbidden = |id: &str| {
            let name = graph.name(id);
            rule.never_reaches.contains(&name)
                || (rule.nor_any_of_ours && id != start && graph.is_workspace_member(id))
        };
        for path in graph.paths_to(start, forbidden) {
            violations.push(format!(
                "  {} must never reach {}: {}",
                rule.krate,
                graph.name(path.last().unwrap()),
                graph.render(&path)
            ));
        }
    }
    assert!(
        violations.is_empty(),
        "dependency rules from DESIGN.md's Components table are broken \
         (normal dependencies, as resolved by `cargo metadata`):\n{}",
        violations.join("\n")
    );
}

/// The one module that names the store's document kinds.
const KINDS_FILE: &str = "crates/engine/src/kinds.rs";

/// String constants whose value happens to be a kind's name but which name something else.
const NOT_KINDS: &[&str] = &["MIRROR_USER"];

#[test]
fn document_kinds_are_named_only_in_engine_kinds() {
    let root = repo_root();
    let kinds: Vec<String> = read(&root.join(KINDS_FILE))
        .lines()
        .filter_map(|line| line.strip_prefix("pub const ")?.split_once(": &str = \""))
        .map(|(_, value)| value.trim_end_matches("\";").to_owned())
        .collect();
    assert!(kinds.len() > 10, "{KINDS_FILE}: no kinds found");
    let mut offenders = Vec::new();
    for path in rust_files(&root) {
        let relative_path = relative(&root, &path);
        if relative_path == KINDS_FILE
            || relative_path.ends_with("tests.rs")
            || relative_path.contains("/tests/")
            || relative_path.starts_with("xtask")
        {
            continue;
        }
        for (index, line) in read(&path).lines().enumerate() {
            let trimmed = line.trim_start();
            let redeclared = trimmed
                .split_once("const ")
                .and_then(|(_, rest)| rest.split_once(": &str = \""))
                .filter(|(name, _)| !NOT_KINDS.contains(name))
                .is_some_and(|(_, value)| kinds.iter().any(|kind| value == format!("{kind}\";")));
            let literal = kinds.iter().any(|kind| {
                trimmed.contains(&format!("kind: \"{kind}\""))
                    || trimmed.contains(&format!("get(\"{kind}\","))
            });
            if !trimmed.starts_with("//") && (redeclared || literal) {
                offenders.push(format!("  {relative_path}:{}: {}", index + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "document kinds are named through engine::kinds, not with their own strings:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn code_is_formatted() {
    let root = repo_root();
    let installed =
        cargo().arg("fmt").arg("--version").output().is_ok_and(|output| output.status.success());
    if !installed {
        eprintln!("tidy: skipping the formatting check: `cargo fmt` is not installed");
        return;
    }
    // `--files-with-diff` keeps the failure to one line per file, not whole diffs.
    let output = cargo()
        .args(["fmt", "--all", "--check", "--", "--files-with-diff"])
        .current_dir(&root)
        .output()
        .expect("running `cargo fmt --all --check`");
    assert!(
        output.status.success(),
        "`cargo fmt --all --check` failed; run `cargo fmt --all` (or rustfmt on these files):\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn every_crate_shares_the_workspace_settings() {
    let root = repo_root();
    let mut offenders = Vec::new();
    for crate_dir in crate_dirs(&root) {
        let manifest_path = crate_dir.join("Cargo.toml");
        let manifest = read(&manifest_path);
        let shown = relative(&root, &manifest_path);
        if !section_has(&manifest, "lints", "workspace = true") {
            offenders.push(format!("  {shown}: missing `[lints] workspace = true`"));
        }
        let has_lib = crate_dir.join("src/lib.rs").exists() || section_exists(&manifest, "lib");
        if has_lib && !section_has(&manifest, "lib", "doctest = false") {
            offenders.push(format!("  {shown}: missing `doctest = false` in `[lib]`"));
        }
    }
    assert!(
        offenders.is_empty(),
        "crate manifests that do not share the workspace settings:\n{}",
        offenders.join("\n")
    );
}

/// The resolved graph of normal dependencies, from `cargo metadata`.
struct DependencyGraph {
    /// Package id to package name.
    names: HashMap<String, String>,
    /// Package id to the ids of its normal dependencies.
    edges: HashMap<String, Vec<String>>,
    workspace_members: BTreeSet<String>,
}

impl DependencyGraph {
    fn new(metadata: &Value) -> DependencyGraph {
        let mut names = HashMap::new();
        for package in array(&metadata["packages"], "packages") {
            names.insert(
                string(&package["id"], "packages[].id"),
                string(&package["name"], "packages[].name"),
            );
        }
        let mut edges = HashMap::new();
        for node in array(&metadata["resolve"]["nodes"], "resolve.nodes") {
            let mut normal = Vec::new();
            for dep in array(&node["deps"], "resolve.nodes[].deps") {
                // A dependency is normal when any of its declarations has no kind
                // ("dev" and "build" are the others).
                let is_normal = array(&dep["dep_kinds"], "resolve.nodes[].deps[].dep_kinds")
                    .iter()
                    .any(|dep_kind| dep_kind["kind"].is_null());
                if is_normal {
                    normal.push(string(&dep["pkg"], "resolve.nodes[].deps[].pkg"));
                }
            }
            edges.insert(string(&node["id"], "resolve.nodes[].id"), normal);
        }
        let workspace_members = array(&metadata["workspace_members"], "workspace_members")
            .iter()
            .map(|id| string(id, "workspace_members[]"))
            .collect();
        DependencyGraph { names, edges, workspace_members }
    }

    fn name<'a>(&'a self, id: &'a str) -> &'a str {
        self.names.get(id).map_or(id, String::as_str)
    }

    fn is_workspace_member(&self, id: &str) -> bool {
        self.workspace_members.contains(id)
    }

    fn workspace_member(&self, name: &str) -> Option<&str> {
        self.workspace_members.iter().find(|id| self.name(id) == name).map(String::as_str)
    }

    /// The shortest path from `start` to each package that `forbidden` matches, without
    /// walking through a forbidden package (the first one on a path is the one to report).
    fn paths_to<'a>(
        &'a self,
        start: &'a str,
        forbidden: impl Fn(&str) -> bool,
    ) -> Vec<Vec<&'a str>> {
        let mut parent: HashMap<&str, &str> = HashMap::new();
        let mut queue = VecDeque::from([start]);
        let mut found = Vec::new();
        while let Some(id) = queue.pop_front() {
            for dep in self.edges.get(id).into_iter().flatten() {
                let dep = dep.as_str();
                if dep == start || parent.contains_key(dep) {
                    continue;
                }
                parent.insert(dep, id);
                if forbidden(dep) {
                    found.push(dep);
                } else {
                    queue.push_back(dep);
                }
            }
        }
        found
            .into_iter()
            .map(|end| {
                let mut path = vec![end];
                while let Some(&previous) = parent.get(path.last().unwrap()) {
                    path.push(previous);
                }
                path.reverse();
                path
            })
            .collect()
    }

    fn render(&self, path: &[&str]) -> String {
        path.iter().map(|id| self.name(id)).collect::<Vec<_>>().join(" -> ")
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the repository root")
        .to_owned()
}

/// The cargo that is building us, so the checks use the pinned toolchain.
fn cargo() -> Command {
    Command::new(env!("CARGO"))
}

fn cargo_metadata() -> Value {
    let output = cargo()
        .args(["metadata", "--format-version", "1"])
        .current_dir(repo_root())
        .output()
        .expect("running `cargo metadata`");
    assert!(
        output.status.success(),
        "`cargo metadata` failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("`cargo metadata` printed invalid JSON")
}

fn array<'a>(value: &'a Value, what: &str) -> &'a Vec<Value> {
    value.as_array().unwrap_or_else(|| panic!("`cargo metadata`: `{what}` is not an array"))
}

fn string(value: &Value, what: &str) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("`cargo metadata`: `{what}` is not a string"))
        .to_owned()
}

/// Every `.rs` file under [`SOURCE_DIRS`], sorted, skipping build output and hidden folders.
fn rust_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in SOURCE_DIRS {
        collect_rust_files(&root.join(dir), &mut files);
    }
    files.sort();
    files
}

fn collect_rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries =
        fs::read_dir(dir).unwrap_or_else(|err| panic!("reading {}: {err}", dir.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|err| panic!("reading {}: {err}", dir.display()));
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let file_type =
            entry.file_type().unwrap_or_else(|err| panic!("reading {}: {err}", path.display()));
        if file_type.is_dir() {
            if name != "target" && !name.starts_with('.') {
                collect_rust_files(&path, files);
            }
        } else if name.ends_with(".rs") {
            files.push(path);
        }
    }
}

/// Every folder directly under `crates/` that has a `Cargo.toml`, sorted.
fn crate_dirs(root: &Path) -> Vec<PathBuf> {
    let crates = root.join("crates");
    let entries =
        fs::read_dir(&crates).unwrap_or_else(|err| panic!("reading {}: {err}", crates.display()));
    let mut dirs: Vec<PathBuf> = entries
        .map(|entry| {
            entry.unwrap_or_else(|err| panic!("reading {}: {err}", crates.display())).path()
        })
        .filter(|path| path.join("Cargo.toml").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// The lines of a TOML `[section]`, trimmed, without comments and blank lines. A small
/// reader rather than a TOML parser: our manifests only use plain `key = value` lines.
fn section_lines<'a>(manifest: &'a str, section: &str) -> Option<Vec<&'a str>> {
    let header = format!("[{section}]");
    let mut lines = manifest.lines().map(|line| line.split('#').next().unwrap_or("").trim());
    lines.find(|line| *line == header)?;
    Some(lines.take_while(|line| !line.starts_with('[')).filter(|line| !line.is_empty()).collect())
}

fn section_exists(manifest: &str, section: &str) -> bool {
    section_lines(manifest, section).is_some()
}

/// Whether `[section]` holds `key_value`, compared with spaces removed.
fn section_has(manifest: &str, section: &str, key_value: &str) -> bool {
    let wanted: String = key_value.split_whitespace().collect();
    section_lines(manifest, section).is_some_and(|lines| {
        lines.iter().any(|line| line.split_whitespace().collect::<String>() == wanted)
    })
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|err| panic!("reading {}: {err}", path.display()))
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}
