//! Test report files (JUnit XML, Cucumber JSON, TestNG, NUnit, NUnit 3, TRX) into test cases.
//!
//! Each reader turns the text of one report file into the [`TestCase`]s CodeBuild would
//! show for it, and [`summarize`] totals them. The XML formats are read with quick-xml's
//! streaming reader, so a report of any size costs memory only for the cases it yields.
//! Readers are lenient about content (unknown elements and attributes are ignored, missing
//! or odd numbers become zero durations) and strict about syntax: a file that is not
//! well-formed is an error naming the file and the line, never a panic.

use std::collections::HashMap;
use std::io::{BufRead, Read};

use protocol::{ReportFormat, TestCase, TestCaseStatus, TestSummary};
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};
use serde::Deserialize;

#[cfg(test)]
mod tests;

/// The longest message a test case keeps, in characters; stack traces can run to megabytes.
const MESSAGE_LIMIT: usize = 5_000;

/// How many bytes of element text are collected before the rest is dropped. It leaves room
/// for leading whitespace and multi-byte characters before [`MESSAGE_LIMIT`] applies.
const CAPTURE_LIMIT: usize = 64 * 1024;

/// Why a report file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The file is not well-formed XML.
    #[error("{path}:{line}: malformed XML: {message}")]
    Xml {
        /// The file, as given to [`parse_test_report`].
        path: String,
        /// The 1-based line where the problem was found.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The file is not valid JSON, or its values have the wrong types.
    #[error("{path}:{line}:{column}: malformed JSON: {message}")]
    Json {
        /// The file, as given to [`parse_test_report`].
        path: String,
        /// The 1-based line where the problem was found.
        line: usize,
        /// The 1-based column where the problem was found.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The file is well-formed but is not a report of the expected format.
    #[error("{path}: expected {expected}, found {found}")]
    UnexpectedRoot {
        /// The file, as given to [`parse_test_report`].
        path: String,
        /// What the file starts with, e.g. `<html>` or `a JSON object`.
        found: String,
        /// What the format requires, e.g. `<testsuites> or <testsuite>`.
        expected: &'static str,
    },
    /// The file could not be read.
    #[error("{path}: {message}")]
    Io {
        /// The file, as given to [`parse_test_report_file`].
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The format holds code coverage, which this module does not read.
    #[error("{} is a code coverage format, not a test report format", .format.as_str())]
    CoverageNotSupported {
        /// The format asked for.
        format: ReportFormat,
    },
}

/// Parses one report file held in memory. `path` is the file's path as it should appear in
/// `test_raw_data_path`.
pub fn parse_test_report(
    format: ReportFormat,
    path: &str,
    text: &str,
) -> Result<Vec<TestCase>, ReportError> {
    // Files written on Windows (TRX above all) often start with a byte order mark, which
    // neither reader expects. It holds no newline, so line numbers are unaffected.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let locate = |position: Option<u64>| {
        let end = match position {
            Some(position) => usize::try_from(position).map_or(text.len(), |p| p.min(text.len())),
            None => text.trim_end().len(),
        };
        text.as_bytes()[..end].iter().filter(|&&byte| byte == b'\n').count() + 1
    };
    parse_reader(format, path, text.as_bytes(), &locate)
}

/// Parses one report file on disk, reading it as a stream: memory goes to the cases it
/// yields (each message bounded), never to the file, which may be hundreds of megabytes.
/// `path` is the file's path as it should appear in `test_raw_data_path`.
pub fn parse_test_report_file(
    format: ReportFormat,
    path: &str,
    file: &std::path::Path,
) -> Result<Vec<TestCase>, ReportError> {
    let io =
        |err: std::io::Error| ReportError::Io { path: path.to_owned(), message: err.to_string() };
    let mut reader =
        std::io::BufReader::with_capacity(64 * 1024, std::fs::File::open(file).map_err(io)?);
    let bom = if reader.fill_buf().map_err(io)?.starts_with("\u{feff}".as_bytes()) { 3 } else { 0 };
    reader.consume(bom);
    // Line numbers are only needed for an error: the file is read again to find them.
    let locate = |position: Option<u64>| line_in_file(file, bom as u64, position).unwrap_or(0);
    parse_reader(format, path, reader, &locate)
}

/// The 1-based line of byte `position` (after `skip` bytes) of `file`, or with `None`, of the
/// file's last line with content; read as a stream.
fn line_in_file(
    file: &std::path::Path,
    skip: u64,
    position: Option<u64>,
) -> std::io::Result<usize> {
    let mut reader = std::io::BufReader::new(std::fs::File::open(file)?);
    std::io::copy(&mut (&mut reader).take(skip), &mut std::io::sink())?;
    let (mut offset, mut lines, mut content_line) = (0u64, 1, 1);
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            break;
        }
        let length = buffer.len();
        for &byte in buffer {
            if position.is_some_and(|it| offset >= it) {
                return Ok(lines);
            }
            if byte == b'\n' {
                lines += 1;
            } else if !byte.is_ascii_whitespace() {
                content_line = lines;
            }
            offset += 1;
        }
        reader.consume(length);
    }
    Ok(if position.is_some() { lines } else { content_line })
}

/// Turns a byte position (`None`: the end of the content) into a 1-based line number.
type Locate<'a> = &'a dyn Fn(Option<u64>) -> usize;

fn parse_reader<R: BufRead>(
    format: ReportFormat,
    path: &str,
    reader: R,
    locate: Locate<'_>,
) -> Result<Vec<TestCase>, ReportError> {
    match format {
        ReportFormat::Junitxml => parse_junit(path, reader, locate),
        ReportFormat::Cucumberjson => parse_cucumber(path, reader),
        ReportFormat::Testngxml => parse_testng(path, reader, locate),
        ReportFormat::Nunitxml => parse_nunit2(path, reader, locate),
        ReportFormat::Nunit3xml => parse_nunit3(path, reader, locate),
        ReportFormat::Visualstudiotrx => parse_trx(path, reader, locate),
        ReportFormat::Cloverxml
        | ReportFormat::Coberturaxml
        | ReportFormat::Jacocoxml
        | ReportFormat::Simplecov => Err(ReportError::CoverageNotSupported { format }),
    }
}

/// Totals over test cases (total, status counts, summed durations).
pub fn summarize(cases: &[TestCase]) -> TestSummary {
    let mut summary = TestSummary::default();
    for case in cases {
        summary.total += 1;
        summary.status_counts.add(case.status);
        summary.duration_in_nano_seconds =
            summary.duration_in_nano_seconds.saturating_add(case.duration_in_nano_seconds);
    }
    summary
}

// ---------------------------------------------------------------------------------------
// JUnit XML
// ---------------------------------------------------------------------------------------

/// Reads JUnit XML as written by Surefire, Gradle, pytest, Jest and most other tools.
///
/// A test case's status comes from its `<failure>`, `<error>` and `<skipped>` children; when
/// a case has several, the most severe wins (see [`severity`]). Surefire's
/// `<flakyFailure>` and `<rerunFailure>` are ignored on purpose: they describe attempts
/// before the one that counted. The message of `<skipped>` is kept too, because a skip
/// reason is as useful to a reader as a failure message.
fn parse_junit<R: BufRead>(
    path: &str,
    reader: R,
    locate: Locate<'_>,
) -> Result<Vec<TestCase>, ReportError> {
    let mut xml = XmlCursor::new(
        path,
        reader,
        locate,
        &["testsuites", "testsuite"],
        "<testsuites> or <testsuite>",
    );
    let mut cases = Vec::new();
    // The names of the enclosing `<testsuite>` elements, innermost last.
    let mut suites: Vec<Option<String>> = Vec::new();
    // The test case being read, and the depth of its element.
    let mut current: Option<(TestCase, usize)> = None;
    loop {
        match xml.next()? {
            Node::Open { name, attrs } => match (name.as_str(), &mut current) {
                ("testsuite", None) => suites.push(attrs.get("name").map(str::to_owned)),
                ("testcase", None) => {
                    let case = TestCase {
                        test_raw_data_path: path.to_owned(),
                        prefix: attrs.get("classname").unwrap_or_default().to_owned(),
                        name: attrs.get("name").unwrap_or_default().to_owned(),
                        status: TestCaseStatus::Succeeded,
                        duration_in_nano_seconds: attrs.get("time").map_or(0, seconds_to_nanos),
                        message: None,
                        test_suite_name: suites.iter().rev().flatten().next().cloned(),
                    };
                    current = Some((case, xml.depth()));
                }
                (outcome @ ("failure" | "error" | "skipped"), Some((case, depth)))
                    if xml.depth() == *depth + 1 =>
                {
                    let status = match outcome {
                        "failure" => TestCaseStatus::Failed,
                        "error" => TestCaseStatus::Error,
                        _ => TestCaseStatus::Skipped,
                    };
                    if severity(status) > severity(case.status) {
                        case.status = status;
                        // The message should explain the status shown, so a more severe
                        // outcome replaces the message of a milder one.
                        case.message = None;
                    }
                    if case.message.is_none() && case.status == status {
                        case.message = attrs.get("message").and_then(bounded_message);
                        if case.message.is_none() {
                            xml.capture_text();
                        }
                    }
                }
                _ => {}
            },
            Node::Close { name, text } => {
                if let (Some(text), Some((case, _))) = (text, &mut current) {
                    case.message = bounded_message(&text);
                }
                match name.as_str() {
                    "testcase" if current.as_ref().is_some_and(|(_, d)| *d > xml.depth()) => {
                        cases.extend(current.take().map(|(case, _)| case));
                    }
                    "testsuite" if current.is_none() => {
                        suites.pop();
                    }
                    _ => {}
                }
            }
            Node::End => return Ok(cases),
        }
    }
}

// ---------------------------------------------------------------------------------------
// TestNG XML
// ---------------------------------------------------------------------------------------

/// Reads `testng-results.xml`.
///
/// Configuration methods (`is-config="true"`, i.e. `@BeforeMethod` and friends) are not
/// tests and are left out. TestNG does not tell assertion failures from other exceptions,
/// so `FAIL` is always FAILED. The suite name is the enclosing `<test>`'s, TestNG's
/// innermost grouping, falling back to the `<suite>`'s.
fn parse_testng<R: BufRead>(
    path: &str,
    reader: R,
    locate: Locate<'_>,
) -> Result<Vec<TestCase>, ReportError> {
    let mut xml = XmlCursor::new(path, reader, locate, &["testng-results"], "<testng-results>");
    let mut cases = Vec::new();
    let mut suite: Option<String> = None;
    let mut test: Option<String> = None;
    let mut class = String::new();
    let mut current: Option<TestCase> = None;
    let mut exception_class: Option<String> = None;
    loop {
        match xml.next()? {
            Node::Open { name, attrs } => match name.as_str() {
                "suite" => suite = attrs.get("name").map(str::to_owned),
                "test" => test = attrs.get("name").map(str::to_owned),
                "class" => class = attrs.get("name").unwrap_or_default().to_owned(),
                "test-method" if current.is_none() => {
                    if attrs.get("is-config") == Some("true") {
                        continue;
                    }
                    let status = match attrs.get("status") {
                        Some("PASS") => TestCaseStatus::Succeeded,
                        Some("FAIL") => TestCaseStatus::Failed,
                        Some("SKIP") => TestCaseStatus::Skipped,
                        _ => TestCaseStatus::Unknown,
                    };
                    current = Some(TestCase {
                        test_raw_data_path: path.to_owned(),
                        prefix: class.clone(),
                        name: attrs.get("name").unwrap_or_default().to_owned(),
                        status,
                        duration_in_nano_seconds: attrs
                            .get("duration-ms")
                            .map_or(0, millis_to_nanos),
                        message: None,
                        test_suite_name: test.clone().or_else(|| suite.clone()),
                    });
                    exception_class = None;
                }
                "exception" if current.is_some() => {
                    exception_class = attrs.get("class").map(str::to_owned);
                }
                "message" if current.is_some() && xml.parent() == Some("exception") => {
                    xml.capture_text();
                }
                _ => {}
            },
            Node::Close { name, text } => match (name.as_str(), &mut current) {
                ("message", Some(case)) => {
                    if let Some(text) = text {
                        case.message = bounded_message(&text);
                    }
                }
                ("test-method", Some(case)) => {
                    // An exception without a message still says what went wrong by its class.
                    if case.message.is_none() {
                        case.message = exception_class.take().as_deref().and_then(bounded_message);
                    }
                    cases.extend(current.take());
                }
                _ => {}
            },
            Node::End => return Ok(cases),
        }
    }
}

// ---------------------------------------------------------------------------------------
// NUnit 2 and NUnit 3 XML
// ---------------------------------------------------------------------------------------

/// A `<test-suite>` enclosing the element being read, for the NUnit formats.
struct NunitSuite {
    /// The suite's `type`, e.g. `Assembly`, `TestFixture` or `ParameterizedTest`.
    kind: String,
    /// The suite's `name`.
    name: Option<String>,
}

/// The suite name for an NUnit test case: the innermost enclosing suite that is not a
/// parameterized method, since such a suite only repeats the test's own name.
fn nunit_suite_name(suites: &[NunitSuite]) -> Option<String> {
    let named = || suites.iter().rev().filter(|suite| suite.name.is_some());
    named()
        .find(|suite| {
            !matches!(
                suite.kind.as_str(),
                "ParameterizedTest" | "ParameterizedMethod" | "Theory" | "GenericMethod"
            )
        })
        .or_else(|| named().next())
        .and_then(|suite| suite.name.clone())
}

/// Reads NUnit 2 results (`<test-results>`).
///
/// NUnit 2 writes each test case's full name (`Namespace.Fixture.Method(args)`) as its
/// `name`, so the prefix is the part before the method and the name the rest. `result`
/// decides the status; for the rare files without it, `executed` and `success` do.
/// Inconclusive tests are UNKNOWN: they neither passed nor failed.
fn parse_nunit2<R: BufRead>(
    path: &str,
    reader: R,
    locate: Locate<'_>,
) -> Result<Vec<TestCase>, ReportError> {
    let mut xml = XmlCursor::new(path, reader, locate, &["test-results"], "<test-results>");
    let mut cases = Vec::new();
    let mut suites: Vec<NunitSuite> = Vec::new();
    let mut current: Option<TestCase> = None;
    loop {
        match xml.next()? {
            Node::Open { name, attrs } => match name.as_str() {
                "test-suite" if current.is_none() => suites.push(NunitSuite {
                    kind: attrs.get("type").unwrap_or_default().to_owned(),
                    name: attrs.get("name").map(str::to_owned),
                }),
                "test-case" if current.is_none() => {
                    let status = match attrs.get("result") {
                        Some("Success") => TestCaseStatus::Succeeded,
                        Some("Failure") => TestCaseStatus::Failed,
                        Some("Error" | "Cancelled") => TestCaseStatus::Error,
                        Some("Ignored" | "Skipped" | "NotRunnable") => TestCaseStatus::Skipped,
                        Some(_) => TestCaseStatus::Unknown,
                        None => match (attrs.get("executed"), attrs.get("success")) {
                            (Some(executed), _) if executed.eq_ignore_ascii_case("false") => {
                                TestCaseStatus::Skipped
                            }
                            (_, Some(success)) if success.eq_ignore_ascii_case("true") => {
                                TestCaseStatus::Succeeded
                            }
                            (_, Some(_)) => TestCaseStatus::Failed,
                            _ => TestCaseStatus::Unknown,
                        },
                    };
                    let (prefix, name) = split_qualified(attrs.get("name").unwrap_or_default());
                    current = Some(TestCase {
                        test_raw_data_path: path.to_owned(),
                        prefix: prefix.to_owned(),
                        name: name.to_owned(),
                        status,
                        duration_in_nano_seconds: attrs.get("time").map_or(0, seconds_to_nanos),
                        message: None,
                        test_suite_name: nunit_suite_name(&suites),
                    });
                }
                "message"
                    if current.is_some() && matches!(xml.parent(), Some("failure" | "reason")) =>
                {
                    xml.capture_text();
                }
                _ => {}
            },
            Node::Close { name, text } => match (name.as_str(), &mut current) {
                ("message", Some(case)) => {
                    if let Some(text) = text {
                        case.message = case.message.take().or_else(|| bounded_message(&text));
                    }
                }
                ("test-case", Some(_)) => cases.extend(current.take()),
                ("test-suite", None) => {
                    suites.pop();
                }
                _ => {}
            },
            Node::End => return Ok(cases),
        }
    }
}

/// Reads NUnit 3 results (`<test-run>`).
///
/// A failed test labelled `Error` (an unexpected exception), `Cancelled` or `Invalid` (not
/// runnable) is ERROR; `Inconclusive` is UNKNOWN; `Warning` counts as SUCCEEDED because
/// NUnit itself does not fail a run for warnings.
fn parse_nunit3<R: BufRead>(
    path: &str,
    reader: R,
    locate: Locate<'_>,
) -> Result<Vec<TestCase>, ReportError> {
    let mut xml = XmlCursor::new(path, reader, locate, &["test-run"], "<test-run>");
    let mut cases = Vec::new();
    let mut suites: Vec<NunitSuite> = Vec::new();
    let mut current: Option<TestCase> = None;
    loop {
        match xml.next()? {
            Node::Open { name, attrs } => match name.as_str() {
                "test-suite" if current.is_none() => suites.push(NunitSuite {
                    kind: attrs.get("type").unwrap_or_default().to_owned(),
                    name: attrs.get("name").map(str::to_owned),
                }),
                "test-case" if current.is_none() => {
                    let status = match (attrs.get("result"), attrs.get("label")) {
                        (Some("Passed" | "Warning"), _) => TestCaseStatus::Succeeded,
                        (Some("Failed"), Some("Error" | "Cancelled" | "Invalid")) => {
                            TestCaseStatus::Error
                        }
                        (Some("Failed"), _) => TestCaseStatus::Failed,
                        (Some("Skipped"), _) => TestCaseStatus::Skipped,
                        _ => TestCaseStatus::Unknown,
                    };
                    let fullname = attrs.get("fullname").unwrap_or_default();
                    let (full_prefix, full_name) = split_qualified(fullname);
                    let prefix = attrs.get("classname").unwrap_or(full_prefix);
                    let name = attrs.get("name").unwrap_or(full_name);
                    current = Some(TestCase {
                        test_raw_data_path: path.to_owned(),
                        prefix: prefix.to_owned(),
                        name: name.to_owned(),
                        status,
                        duration_in_nano_seconds: attrs.get("duration").map_or(0, seconds_to_nanos),
                        message: None,
                        test_suite_name: nunit_suite_name(&suites),
                    });
                }
                "message"
                    if current.is_some() && matches!(xml.parent(), Some("failure" | "reason")) =>
                {
                    xml.capture_text();
                }
                _ => {}
            },
            Node::Close { name, text } => match (name.as_str(), &mut current) {
                ("message", Some(case)) => {
                    if let Some(text) = text {
                        case.message = case.message.take().or_else(|| bounded_message(&text));
                    }
                }
                ("test-case", Some(_)) => cases.extend(current.take()),
                ("test-suite", None) => {
                    suites.pop();
                }
                _ => {}
            },
            Node::End => return Ok(cases),
        }
    }
}

/// Splits a qualified test name such as `Shop.Tests.CartTests.Adds(1,"a.b")` into the
/// class part (`Shop.Tests.CartTests`) and the test part (`Adds(1,"a.b")`). Dots inside
/// the arguments are not separators. A name without a dot has an empty class part.
fn split_qualified(full: &str) -> (&str, &str) {
    let head = full.find('(').map_or(full, |open| &full[..open]);
    match head.rfind('.') {
        Some(dot) => (&full[..dot], &full[dot + 1..]),
        None => ("", full),
    }
}

// ---------------------------------------------------------------------------------------
// Visual Studio TRX
// ---------------------------------------------------------------------------------------

/// Reads Visual Studio / `dotnet test` TRX files.
///
/// Results come before the test definitions in a TRX file, so the class of each result is
/// looked up by `testId` once the whole file is read. The name drops a leading
/// `Class.` (xUnit writes fully qualified names) so that the class is not shown twice.
/// The suite name is the test assembly's file name, .NET's natural grouping of tests.
/// Results nested in `<InnerResults>` (data-driven rows) are covered by their parent
/// result and are not counted again, though their messages stand in for a missing one.
fn parse_trx<R: BufRead>(
    path: &str,
    reader: R,
    locate: Locate<'_>,
) -> Result<Vec<TestCase>, ReportError> {
    /// What a `<UnitTest>` definition says about the tests that refer to it.
    #[derive(Default)]
    struct Definition {
        class: Option<String>,
        assembly: Option<String>,
    }

    let mut xml = XmlCursor::new(path, reader, locate, &["TestRun"], "<TestRun>");
    // Each result with the `testId` of its definition.
    let mut results: Vec<(TestCase, Option<String>)> = Vec::new();
    let mut current: Option<(TestCase, Option<String>, usize)> = None;
    let mut definitions: HashMap<String, Definition> = HashMap::new();
    let mut definition_id: Option<String> = None;
    loop {
        match xml.next()? {
            Node::Open { name, attrs } => match name.as_str() {
                "UnitTestResult" if current.is_none() => {
                    let status = match attrs.get("outcome") {
                        Some("Passed" | "PassedButRunAborted" | "Completed" | "Warning") => {
                            TestCaseStatus::Succeeded
                        }
                        Some("Failed") => TestCaseStatus::Failed,
                        Some("Error" | "Timeout" | "Aborted" | "Disconnected" | "NotRunnable") => {
                            TestCaseStatus::Error
                        }
                        Some("NotExecuted") => TestCaseStatus::Skipped,
                        _ => TestCaseStatus::Unknown,
                    };
                    let case = TestCase {
                        test_raw_data_path: path.to_owned(),
                        prefix: String::new(),
                        name: attrs.get("testName").unwrap_or_default().to_owned(),
                        status,
                        duration_in_nano_seconds: attrs
                            .get("duration")
                            .map_or(0, timespan_to_nanos),
                        message: None,
                        test_suite_name: None,
                    };
                    let test_id = attrs.get("testId").map(str::to_owned);
                    current = Some((case, test_id, xml.depth()));
                }
                "Message" if current.is_some() && xml.parent() == Some("ErrorInfo") => {
                    xml.capture_text();
                }
                "UnitTest" => {
                    let id = attrs.get("id").unwrap_or_default().to_owned();
                    let assembly = attrs.get("storage").map(file_name);
                    definitions.entry(id.clone()).or_default().assembly = assembly;
                    definition_id = Some(id);
                }
                "TestMethod" => {
                    if let (Some(id), Some(class)) = (&definition_id, attrs.get("className")) {
                        definitions.entry(id.clone()).or_default().class =
                            Some(strip_assembly_qualification(class).to_owned());
                    }
                }
                _ => {}
            },
            Node::Close { name, text } => match (name.as_str(), &mut current) {
                ("Message", Some((case, _, depth))) => {
                    // The result's own `<Output>` (result, `Output`, `ErrorInfo`, `Message`)
                    // explains it best; a data-driven result often has none, and then the
                    // first failing row's message says why it failed.
                    let own = xml.depth() == *depth + 2;
                    if let Some(text) = text
                        && (own || case.message.is_none())
                    {
                        case.message = bounded_message(&text);
                    }
                }
                ("UnitTestResult", Some((_, _, depth))) if *depth > xml.depth() => {
                    results.extend(current.take().map(|(case, id, _)| (case, id)));
                }
                ("UnitTest", _) => definition_id = None,
                _ => {}
            },
            Node::End => break,
        }
    }
    let cases = results
        .into_iter()
        .map(|(mut case, test_id)| {
            let definition = test_id.and_then(|id| definitions.get(&id));
            if let Some(definition) = definition {
                if let Some(class) = &definition.class {
                    if let Some(rest) = case
                        .name
                        .strip_prefix(class.as_str())
                        .and_then(|rest| rest.strip_prefix('.'))
                    {
                        case.name = rest.to_owned();
                    }
                    case.prefix.clone_from(class);
                }
                case.test_suite_name.clone_from(&definition.assembly);
            }
            case
        })
        .collect();
    Ok(cases)
}

/// Drops the assembly part of a .NET type name: MSTest writes `className` as
/// `Ns.Class, Assembly, Version=1.0.0.0, ...`. Commas inside generic brackets stay.
fn strip_assembly_qualification(class: &str) -> &str {
    let mut depth = 0usize;
    for (index, character) in class.char_indices() {
        match character {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => return class[..index].trim_end(),
            _ => {}
        }
    }
    class
}

/// The last component of a path written on Windows or Unix.
fn file_name(path: &str) -> String {
    path.rsplit(['/', '\\']).next().unwrap_or(path).to_owned()
}

/// Parses a .NET `TimeSpan` as TRX writes it, `[d.]hh:mm:ss[.fffffff]`, into nanoseconds.
/// Anything unreadable counts as zero.
fn timespan_to_nanos(value: &str) -> u64 {
    let mut parts = value.trim().rsplitn(3, ':');
    let (Some(seconds), Some(minutes), Some(hours)) = (parts.next(), parts.next(), parts.next())
    else {
        return seconds_to_nanos(value);
    };
    let (days, hours) = hours.split_once('.').unwrap_or(("0", hours));
    let whole = |text: &str| text.trim().parse::<u64>().ok();
    let (Some(days), Some(hours), Some(minutes)) = (whole(days), whole(hours), whole(minutes))
    else {
        return 0;
    };
    let minutes =
        days.saturating_mul(24).saturating_add(hours).saturating_mul(60).saturating_add(minutes);
    minutes.saturating_mul(60_000_000_000).saturating_add(seconds_to_nanos(seconds))
}

// ---------------------------------------------------------------------------------------
// Cucumber JSON
// ---------------------------------------------------------------------------------------

/// A feature of a Cucumber JSON report. Every field is optional because the many Cucumber
/// implementations disagree on which ones they write.
#[derive(Deserialize)]
struct CucumberFeature {
    uri: Option<String>,
    name: Option<String>,
    #[serde(default)]
    elements: Vec<CucumberElement>,
}

/// A scenario or background of a feature.
#[derive(Deserialize)]
struct CucumberElement {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    before: Vec<CucumberStep>,
    #[serde(default)]
    steps: Vec<CucumberStep>,
    #[serde(default)]
    after: Vec<CucumberStep>,
}

/// A step or a hook; hooks have no keyword or name.
#[derive(Deserialize)]
struct CucumberStep {
    keyword: Option<String>,
    name: Option<String>,
    result: Option<CucumberResult>,
}

/// How a step or hook ended.
#[derive(Deserialize)]
struct CucumberResult {
    status: Option<String>,
    duration: Option<serde_json::Number>,
    error_message: Option<String>,
}

/// Reads Cucumber JSON: an array of features, each scenario of which is a test case.
///
/// A scenario's status is the most severe of its steps' and hooks' statuses (see
/// [`severity`]), where `passed` is SUCCEEDED, `failed` is FAILED, `skipped` is SKIPPED,
/// and `undefined`, `pending` and `ambiguous` are ERROR: the scenario could not run as
/// written, which is a problem with the test rather than a failed expectation. Any other
/// status is UNKNOWN. Durations are nanoseconds as Cucumber writes them. A background's
/// steps run as part of the scenario that follows it, so they count towards that scenario.
fn parse_cucumber<R: BufRead>(path: &str, mut reader: R) -> Result<Vec<TestCase>, ReportError> {
    let json_error = |error: serde_json::Error| ReportError::Json {
        path: path.to_owned(),
        line: error.line(),
        column: error.column(),
        message: error.to_string(),
    };
    // Checking the first character first lets a well-formed report of the wrong shape get
    // a clear error instead of serde's "invalid type" message. It is only looked at, so
    // serde's line numbers stay the file's.
    let first = reader
        .fill_buf()
        .map_err(serde_json::Error::io)
        .map_err(json_error)?
        .iter()
        .find(|it| !it.is_ascii_whitespace())
        .copied();
    if first != Some(b'[') {
        let value: serde_json::Value = serde_json::from_reader(reader).map_err(json_error)?;
        let found = match value {
            serde_json::Value::Null => "null",
            serde_json::Value::Bool(_) => "a JSON boolean",
            serde_json::Value::Number(_) => "a JSON number",
            serde_json::Value::String(_) => "a JSON string",
            serde_json::Value::Array(_) => "a JSON array",
            serde_json::Value::Object(_) => "a JSON object",
        };
        return Err(ReportError::UnexpectedRoot {
            path: path.to_owned(),
            found: found.to_owned(),
            expected: "a JSON array of Cucumber features",
        });
    }
    let features: Vec<CucumberFeature> = serde_json::from_reader(reader).map_err(json_error)?;
    let mut cases = Vec::new();
    for feature in features {
        let feature_name = feature.name.filter(|name| !name.is_empty());
        let prefix = feature_name.clone().or(feature.uri).unwrap_or_default();
        let mut background: Vec<CucumberStep> = Vec::new();
        for element in feature.elements {
            let steps = element.before.into_iter().chain(element.steps).chain(element.after);
            if element.kind.as_deref() == Some("background") {
                background.extend(steps);
                continue;
            }
            let steps: Vec<CucumberStep> = background.drain(..).chain(steps).collect();
            let (status, message) = cucumber_outcome(&steps);
            let duration_in_nano_seconds = steps
                .iter()
                .filter_map(|step| step.result.as_ref()?.duration.as_ref())
                .map(json_nanos)
                .fold(0u64, u64::saturating_add);
            cases.push(TestCase {
                test_raw_data_path: path.to_owned(),
                prefix: prefix.clone(),
                name: element.name.unwrap_or_default(),
                status,
                duration_in_nano_seconds,
                message,
                test_suite_name: feature_name.clone(),
            });
        }
    }
    Ok(cases)
}

/// The status of a scenario made of `steps`, with the message of the first step that has
/// that status: its error message, or for a step that never ran, which step it was.
fn cucumber_outcome(steps: &[CucumberStep]) -> (TestCaseStatus, Option<String>) {
    let step_status = |step: &CucumberStep| {
        let status = step.result.as_ref().and_then(|result| result.status.as_deref());
        match status {
            Some("passed") => TestCaseStatus::Succeeded,
            Some("failed") => TestCaseStatus::Failed,
            Some("skipped") => TestCaseStatus::Skipped,
            Some("undefined" | "pending" | "ambiguous") => TestCaseStatus::Error,
            _ => TestCaseStatus::Unknown,
        }
    };
    let status = steps
        .iter()
        .map(step_status)
        .max_by_key(|status| severity(*status))
        .unwrap_or(TestCaseStatus::Succeeded);
    let message = steps.iter().find(|step| step_status(step) == status).and_then(|step| {
        let result = step.result.as_ref();
        if let Some(message) = result.and_then(|result| result.error_message.as_deref()) {
            return bounded_message(message);
        }
        if status != TestCaseStatus::Error {
            return None;
        }
        let what = result.and_then(|result| result.status.as_deref()).unwrap_or_default();
        let keyword = step.keyword.as_deref().unwrap_or_default();
        let name = step.name.as_deref().unwrap_or_default();
        bounded_message(&format!("{what} step: {keyword}{name}"))
    });
    (status, message)
}

/// A Cucumber duration, in nanoseconds; some writers use floating-point numbers.
fn json_nanos(number: &serde_json::Number) -> u64 {
    number.as_u64().unwrap_or_else(|| float_to_nanos(number.as_f64().unwrap_or(0.0)))
}

// ---------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------

/// How bad a status is, for choosing one status out of several: a test case with a
/// failure and a skip failed, and a scenario with a failed step and skipped ones failed.
fn severity(status: TestCaseStatus) -> u8 {
    match status {
        TestCaseStatus::Succeeded => 0,
        TestCaseStatus::Skipped => 1,
        TestCaseStatus::Unknown => 2,
        TestCaseStatus::Error => 3,
        TestCaseStatus::Failed => 4,
    }
}

/// A message trimmed and cut to [`MESSAGE_LIMIT`] characters; `None` when it is blank.
fn bounded_message(text: &str) -> Option<String> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    match text.char_indices().nth(MESSAGE_LIMIT) {
        Some((cut, _)) => Some(text[..cut].to_owned()),
        None => Some(text.to_owned()),
    }
}

/// Parses a duration in seconds as report writers format it, leniently.
///
/// Besides plain decimals this accepts grouping separators (`1,234.5`, as old Surefire
/// versions wrote in some locales, or spaces) and a decimal comma (`0,25`), which is told
/// apart from grouping by the group before it: grouping never follows a lone `0`, and
/// a decimal comma never shares the number with a decimal point. Anything unreadable,
/// negative or not finite counts as zero, since a missing duration should not lose a test.
fn seconds_to_nanos(value: &str) -> u64 {
    float_to_nanos(lenient_number(value) * 1e9)
}

/// Like [`seconds_to_nanos`] for a duration in milliseconds.
fn millis_to_nanos(value: &str) -> u64 {
    float_to_nanos(lenient_number(value) * 1e6)
}

/// The number written in `value`, or zero; see [`seconds_to_nanos`].
fn lenient_number(value: &str) -> f64 {
    let digits: String = value
        .trim()
        .chars()
        .filter(|character| !matches!(character, ' ' | '_' | '\u{a0}' | '\u{202f}'))
        .collect();
    let normalized = match digits.split_once(',') {
        Some((head, tail)) if !digits.contains('.') && !tail.contains(',') => {
            let grouping =
                tail.len() == 3 && !matches!(head.trim_start_matches(['-', '+']), "" | "0");
            if grouping { digits.replace(',', "") } else { format!("{head}.{tail}") }
        }
        _ => digits.replace(',', ""),
    };
    normalized.parse::<f64>().unwrap_or(0.0)
}

/// Rounds a number of nanoseconds to an integer, treating negative or non-finite values as
/// zero. Float-to-integer `as` casts saturate, so huge values become `u64::MAX`.
fn float_to_nanos(nanos: f64) -> u64 {
    if nanos.is_finite() && nanos > 0.0 { nanos.round() as u64 } else { 0 }
}

// ---------------------------------------------------------------------------------------
// Streaming XML
// ---------------------------------------------------------------------------------------

/// The attributes of an element, by local name, with entities resolved.
struct Attrs(Vec<(String, String)>);

impl Attrs {
    /// The value of the attribute `key`, if present.
    fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(name, _)| name == key).map(|(_, value)| value.as_str())
    }
}

/// What [`XmlCursor::next`] yields: the element structure of a document, without text.
enum Node {
    /// An element starts (for `<a/>`, a `Close` follows at once).
    Open {
        /// The element's local name (namespace prefixes are dropped).
        name: String,
        /// Its attributes.
        attrs: Attrs,
    },
    /// An element ends.
    Close {
        /// The element's local name.
        name: String,
        /// Its text content, when [`XmlCursor::capture_text`] was called on opening it.
        text: Option<String>,
    },
    /// The document ended, with every element closed.
    End,
}

/// Text being collected for an element.
struct Capture {
    /// The depth of the element whose text it is.
    depth: usize,
    /// The text so far, with entities resolved, up to [`CAPTURE_LIMIT`] bytes.
    text: String,
}

/// A pull parser over quick-xml's [`Reader`] that tracks open elements, checks the root
/// element, collects text on request and turns every failure into a [`ReportError`].
struct XmlCursor<'a, R> {
    reader: Reader<R>,
    /// The file's path, for errors.
    path: &'a str,
    /// Turns byte positions into line numbers, for errors.
    locate: Locate<'a>,
    /// The root elements the format allows.
    roots: &'static [&'static str],
    /// How to describe `roots` in an error.
    expected: &'static str,
    /// The local names of the open elements, outermost first.
    open: Vec<String>,
    /// Whether the root element was seen.
    seen_root: bool,
    /// Whether the last element was empty (`<a/>`), so that its `Close` is due.
    close_pending: bool,
    capture: Option<Capture>,
}

impl<'a, R: BufRead> XmlCursor<'a, R> {
    fn new(
        path: &'a str,
        reader: R,
        locate: Locate<'a>,
        roots: &'static [&'static str],
        expected: &'static str,
    ) -> Self {
        XmlCursor {
            reader: Reader::from_reader(reader),
            path,
            locate,
            roots,
            expected,
            open: Vec::new(),
            seen_root: false,
            close_pending: false,
            capture: None,
        }
    }

    /// How many elements are open, counting the one just opened.
    fn depth(&self) -> usize {
        self.open.len()
    }

    /// The local name of the parent of the element just opened.
    fn parent(&self) -> Option<&str> {
        let index = self.open.len().checked_sub(2)?;
        Some(self.open[index].as_str())
    }

    /// Collects the text of the element just opened, to be returned with its `Close`.
    fn capture_text(&mut self) {
        self.capture = Some(Capture { depth: self.open.len(), text: String::new() });
    }

    /// The next element boundary in the document.
    fn next(&mut self) -> Result<Node, ReportError> {
        if self.close_pending {
            self.close_pending = false;
            return Ok(self.close());
        }
        let mut buffer = Vec::new();
        loop {
            buffer.clear();
            let start = self.reader.buffer_position();
            let event = match self.reader.read_event_into(&mut buffer) {
                Ok(event) => event,
                Err(error) => {
                    return Err(self.error_at(self.reader.error_position(), error.to_string()));
                }
            };
            match event {
                Event::Start(element) => return self.open(&element, start),
                Event::Empty(element) => {
                    let node = self.open(&element, start)?;
                    self.close_pending = true;
                    return Ok(node);
                }
                Event::End(_) => return Ok(self.close()),
                Event::Text(text) => self.push_text(&text.xml10_content()),
                Event::CData(data) => self.push_text(&data.xml10_content()),
                Event::GeneralRef(reference) => {
                    if self.capture.is_none() {
                        continue;
                    }
                    match reference.resolve_char_ref() {
                        Ok(Some(character)) => self.push_text(character.encode_utf8(&mut [0; 4])),
                        Ok(None) => {
                            // Entities other than the predefined five can only come from a
                            // DTD, which is not read; they are kept as written.
                            let name: &str = &reference;
                            match quick_xml::escape::resolve_predefined_entity(name) {
                                Some(resolved) => self.push_text(resolved),
                                None => self.push_text(&format!("&{name};")),
                            }
                        }
                        Err(error) => return Err(self.error_at(start, error.to_string())),
                    }
                }
                Event::Eof => return self.end(),
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
            }
        }
    }

    /// Handles a start tag found at byte `start`.
    fn open(&mut self, element: &BytesStart<'_>, start: u64) -> Result<Node, ReportError> {
        let name = element.local_name().as_ref().to_owned();
        if self.open.is_empty() && !self.seen_root {
            if !self.roots.contains(&name.as_str()) {
                return Err(self.unexpected_root(format!("<{name}>")));
            }
            self.seen_root = true;
        }
        let mut attrs = Vec::new();
        for attribute in element.attributes() {
            let attribute = attribute.map_err(|error| self.error_at(start, error.to_string()))?;
            let value = attribute
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|error| self.error_at(start, error.to_string()))?;
            let key = attribute.key.local_name().as_ref().to_owned();
            attrs.push((key, value.into_owned()));
        }
        self.open.push(name.clone());
        Ok(Node::Open { name, attrs: Attrs(attrs) })
    }

    /// Handles an end tag; quick-xml has already checked that it matches its start tag.
    fn close(&mut self) -> Node {
        let name = self.open.pop().unwrap_or_default();
        let text = match &self.capture {
            Some(capture) if capture.depth > self.open.len() => {
                self.capture.take().map(|capture| capture.text)
            }
            _ => None,
        };
        Node::Close { name, text }
    }

    /// Handles the end of the input.
    fn end(&self) -> Result<Node, ReportError> {
        if !self.seen_root {
            return Err(self.unexpected_root("no element".to_owned()));
        }
        if let Some(name) = self.open.last() {
            let message = format!("unexpected end of file: <{name}> is not closed");
            // The last line with content is where a reader looks for the truncation.
            let line = (self.locate)(None);
            return Err(ReportError::Xml { path: self.path.to_owned(), line, message });
        }
        Ok(Node::End)
    }

    /// Adds text to the capture in progress, if any, up to [`CAPTURE_LIMIT`] bytes.
    fn push_text(&mut self, text: &str) {
        let Some(capture) = &mut self.capture else {
            return;
        };
        let room = CAPTURE_LIMIT.saturating_sub(capture.text.len());
        if text.len() <= room {
            capture.text.push_str(text);
        } else {
            let cut = (0..=room).rev().find(|&index| text.is_char_boundary(index)).unwrap_or(0);
            capture.text.push_str(&text[..cut]);
        }
    }

    fn error_at(&self, position: u64, message: String) -> ReportError {
        let line = (self.locate)(Some(position));
        ReportError::Xml { path: self.path.to_owned(), line, message }
    }

    fn unexpected_root(&self, found: String) -> ReportError {
        ReportError::UnexpectedRoot { path: self.path.to_owned(), found, expected: self.expected }
    }
}
