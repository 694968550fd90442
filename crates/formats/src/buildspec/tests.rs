//! Buildspec parsing: the fixtures in `test_data/buildspec` as snapshots, and the real-world
//! corpus in `shared/corpus`.

use std::path::{Path, PathBuf};

use crate::{Severity, buildspec};

/// Renders a parse result as text: every diagnostic, then the model.
fn render(file: &str, text: &str) -> String {
    let parsed = buildspec::parse(file, text);
    let mut out = String::new();
    for diagnostic in &parsed.diagnostics {
        out.push_str(&format!("{diagnostic}\n"));
    }
    if parsed.diagnostics.is_empty() {
        out.push_str("no diagnostics\n");
    }
    out.push_str(&format!("\n{:#?}\n", parsed.value));
    out
}

#[test]
fn fixtures() {
    insta::glob!("../../test_data/buildspec", "*.yml", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        insta::assert_snapshot!(render(name, &text));
    });
}

fn corpus(folder: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus").join(folder);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| {
            panic!("the corpus must be beside the checkout at {}: {err}", dir.display())
        })
        .map(|it| it.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no files in {}", dir.display());
    files
}

#[test]
fn every_corpus_buildspec_parses_without_errors() {
    let mut failures = Vec::new();
    let files = corpus("buildspec");
    assert!(files.len() >= 44, "expected the 44 valid corpus buildspecs, found {}", files.len());
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        let parsed = buildspec::parse(name, &text);
        if parsed.has_errors() || parsed.value.is_none() {
            failures.extend(parsed.diagnostics.iter().map(|it| it.to_string()));
            failures.push(format!("{name}: no usable buildspec"));
        }
    }
    assert!(failures.is_empty(), "corpus buildspecs with errors:\n{}", failures.join("\n"));
}

#[test]
fn invalid_corpus_buildspec_names_the_miscased_key() {
    let name = "aws__aws-toolkit-vscode__buildspec__release__50githubrelease.yml";
    let text = std::fs::read_to_string(
        corpus("buildspec-invalid").iter().find(|it| it.ends_with(name)).unwrap(),
    )
    .unwrap();
    let parsed = buildspec::parse(name, &text);
    let warning = parsed
        .diagnostics
        .iter()
        .find(|it| it.severity == Severity::Warning && it.message.contains("`Commands`"))
        .unwrap_or_else(|| panic!("no diagnostic about `Commands`: {:?}", parsed.diagnostics));
    assert_eq!((warning.pos.line, warning.pos.column), (8, 9));
    assert!(warning.message.contains("did you mean `commands`?"), "{}", warning.message);
    // The install phase then has no commands: the miscased key is not silently accepted.
    let install = &parsed.value.unwrap().plan.phases[0];
    assert!(install.commands.is_empty());
}

#[test]
fn alias_bombs_are_refused() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
    for level in 1..10 {
        let prev = level - 1;
        text.push_str(&format!("a{level}: &a{level} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
    }
    let parsed = buildspec::parse("bomb.yml", &text);
    assert!(parsed.value.is_none());
    assert!(parsed.diagnostics[0].message.contains("alias"), "{:?}", parsed.diagnostics);
}

#[test]
fn on_failure_forms() {
    use protocol::OnFailure;
    let retry = |count, pattern: Option<&str>| OnFailure::Retry {
        count,
        pattern: pattern.map(str::to_owned),
    };
    assert_eq!(buildspec::parse_on_failure("RETRY"), Ok(retry(3, None)));
    assert_eq!(buildspec::parse_on_failure("RETRY-0"), Ok(retry(0, None)));
    assert_eq!(buildspec::parse_on_failure("RETRY-100"), Ok(retry(100, None)));
    assert_eq!(buildspec::parse_on_failure("RETRY-abc"), Ok(retry(3, Some("abc"))));
    assert_eq!(buildspec::parse_on_failure("RETRY-2-a-b"), Ok(retry(2, Some("a-b"))));
    assert_eq!(buildspec::parse_on_failure("RETRY--5"), Ok(retry(3, Some("-5"))));
    assert!(buildspec::parse_on_failure("RETRY-101").is_err());
    assert!(buildspec::parse_on_failure("abort").unwrap_err().contains("upper case"));
}

/// Local and server builds decide by one function whether a buildspec runs as one build: a
/// misspelt only phase runs (no commands, with the warning), a batch-only one does not.
#[test]
fn only_a_batch_only_buildspec_is_refused_as_a_single_build() {
    let misspelt =
        buildspec::parse("b.yml", "version: 0.2\nphases:\n  bulid:\n    commands: [make]\n");
    assert!(!misspelt.has_errors(), "{:?}", misspelt.diagnostics);
    assert!(misspelt.diagnostics.iter().any(|it| it.severity == Severity::Warning));
    let misspelt = misspelt.value.unwrap();
    assert!(misspelt.plan.phases.is_empty());
    assert_eq!(misspelt.single_build_refusal(), None);

    let batch = "version: 0.2\nbatch:\n  build-list:\n    - identifier: one\n";
    let batch = buildspec::parse("b.yml", batch).value.unwrap();
    assert_eq!(batch.single_build_refusal(), Some("defines only a batch build"));
}
