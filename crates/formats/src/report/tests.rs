//! Tests of the report readers: one realistic file per format and writer under
//! `test_data/reports/`, checked case by case, plus malformed input and the lenient
//! number parsing the readers share.

use protocol::{ReportFormat, StatusCounts, TestCase, TestCaseStatus, TestSummary};

use super::*;

/// Reads a fixture from `test_data/reports/` at compile time.
macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../test_data/reports/", $name))
    };
}

/// Parses `text` as `format`, failing the test on an error.
fn parse(format: ReportFormat, path: &str, text: &str) -> Vec<TestCase> {
    match parse_test_report(format, path, text) {
        Ok(cases) => cases,
        Err(error) => panic!("{path} did not parse: {error}"),
    }
}

/// One line per case, `status | prefix | name | nanoseconds | suite | first message line`,
/// so that a whole report can be compared at a glance.
fn table(cases: &[TestCase]) -> String {
    cases
        .iter()
        .map(|case| {
            let status = match case.status {
                TestCaseStatus::Succeeded => "SUCCEEDED",
                TestCaseStatus::Failed => "FAILED",
                TestCaseStatus::Error => "ERROR",
                TestCaseStatus::Skipped => "SKIPPED",
                TestCaseStatus::Unknown => "UNKNOWN",
            };
            let message = case
                .message
                .as_deref()
                .map_or("-", |message| message.lines().next().unwrap_or_default().trim_end());
            format!(
                "{status} | {} | {} | {} | {} | {message}\n",
                case.prefix,
                case.name,
                case.duration_in_nano_seconds,
                case.test_suite_name.as_deref().unwrap_or("-"),
            )
        })
        .collect()
}

/// The message of the case called `name`.
fn message<'a>(cases: &'a [TestCase], name: &str) -> Option<&'a str> {
    let case = cases.iter().find(|case| case.name == name);
    case.unwrap_or_else(|| panic!("no case {name}")).message.as_deref()
}

/// A summary built from its parts, for comparing with [`summarize`].
fn summary(counts: [u64; 5], duration_in_nano_seconds: u64) -> TestSummary {
    let [succeeded, failed, error, skipped, unknown] = counts;
    TestSummary {
        total: counts.iter().sum(),
        status_counts: StatusCounts { succeeded, failed, error, skipped, unknown },
        duration_in_nano_seconds,
    }
}

#[test]
fn junit_from_pytest() {
    let path = "reports/junit.xml";
    let cases = parse(ReportFormat::Junitxml, path, fixture!("junit-pytest.xml"));
    assert_eq!(
        table(&cases),
        "\
SUCCEEDED | tests.test_cart | test_add_item | 1000000 | pytest | -
FAILED | tests.test_cart | test_total | 2000000 | pytest | assert 3 == 4
SUCCEEDED | tests.test_cart | test_parse_price[1,234.50-123450] | 0 | pytest | -
ERROR | tests.test_db | test_save | 3000000 | pytest | failed on setup with \"fixture 'database' not found\"
SKIPPED | tests.test_net | test_download | 0 | pytest | requires network access
SKIPPED | tests.test_net | test_retry | 4000000 | pytest | -
SUCCEEDED | tests.test_report | test_render | 174000000 | pytest | -
"
    );
    // A character reference keeps its newline, unlike a literal newline in an attribute.
    assert_eq!(
        message(&cases, "test_total"),
        Some("assert 3 == 4\n +  where 3 = <Cart items=2>.total()")
    );
    assert!(cases.iter().all(|case| case.test_raw_data_path == path));
    // The durations add up to the suite's `time`.
    assert_eq!(summarize(&cases), summary([3, 1, 1, 2, 0], 184_000_000));
}

#[test]
fn junit_from_surefire() {
    let cases = parse(
        ReportFormat::Junitxml,
        "target/surefire-reports/TEST-com.example.shop.CartTest.xml",
        fixture!("junit-surefire.xml"),
    );
    assert_eq!(
        table(&cases),
        "\
SUCCEEDED | com.example.shop.CartTest | addsItem | 12000000 | com.example.shop.CartTest | -
FAILED | com.example.shop.CartTest | computesTotal | 31000000 | com.example.shop.CartTest | expected: <42> but was: <41>
ERROR | com.example.shop.CartTest | importsLargeCatalog | 1235900000000 | com.example.shop.CartTest | Connection refused
ERROR | com.example.shop.CartTest | removesItem | 4000000 | com.example.shop.CartTest | java.lang.NullPointerException: Cannot invoke \"Item.id()\" because \"item\" is null
SKIPPED | com.example.shop.CartTest | appliesDiscount | 0 | com.example.shop.CartTest | Discounts are disabled until PRICE-112
SUCCEEDED | com.example.shop.CartTest | checksOut | 207000000 | com.example.shop.CartTest | -
"
    );
    // Without a `message` attribute the element's text is the message, trimmed.
    assert_eq!(
        message(&cases, "removesItem"),
        Some(
            "java.lang.NullPointerException: Cannot invoke \"Item.id()\" because \"item\" is null\n\
             \tat com.example.shop.Cart.remove(Cart.java:57)\n\
             \tat com.example.shop.CartTest.removesItem(CartTest.java:44)"
        )
    );
    assert_eq!(summarize(&cases), summary([2, 1, 2, 1, 0], 1_236_154_000_000));
}

#[test]
fn junit_with_nested_suites() {
    let cases = parse(ReportFormat::Junitxml, "build/phpunit.xml", fixture!("junit-nested.xml"));
    assert_eq!(
        table(&cases),
        "\
SUCCEEDED | App.Tests.CartTest | testAddsItem | 1202000 | App\\Tests\\CartTest | -
SUCCEEDED | App.Tests.CartTest | testParsesPrice with data set #0 | 410000 | App\\Tests\\CartTest::testParsesPrice | -
FAILED | App.Tests.CartTest | testParsesPrice with data set #1 | 421000 | App\\Tests\\CartTest::testParsesPrice | App\\Tests\\CartTest::testParsesPrice with data set #1 ('1 & 2', 3)
ERROR | App.Tests.CartTest | testLoads | 0 | App\\Tests\\CartTest | App\\Tests\\CartTest::testLoads
FAILED | App.Tests.CartTest | testEmpty | 11748000 | App\\Tests\\CartTest | no \"items\" expected
SUCCEEDED |  | orphan | 2000000000 | - | -
"
    );
    // Entities in text are resolved, and the text of a failure is kept whole.
    assert_eq!(
        message(&cases, "testParsesPrice with data set #1"),
        Some(
            "App\\Tests\\CartTest::testParsesPrice with data set #1 ('1 & 2', 3)\n\
             Failed asserting that '1 < 2' is identical to 'tom & jerry'.\n\
             \n\
             /src/tests/CartTest.php:33"
        )
    );
    assert_eq!(
        message(&cases, "testLoads"),
        Some("App\\Tests\\CartTest::testLoads\nError: Call to undefined method App\\Cart::load()")
    );
}

#[test]
fn junit_single_empty_suite_and_odd_times() {
    let text = r#"<testsuite name="empty" tests="0"/>"#;
    assert_eq!(parse(ReportFormat::Junitxml, "a.xml", text), []);

    let text = r#"<?xml version="1.0"?>
<testsuite name="go">
  <testcase classname="shop/cart" name="TestAdd" time="0,25"/>
  <testcase classname="shop/cart" name="TestBig" time="12,345"/>
  <testcase classname="shop/cart" name="TestSci" time="1.5E-3"/>
  <testcase classname="shop/cart" name="TestJunk" time="fast"/>
  <testcase classname="shop/cart" name="TestNegative" time="-1"/>
  <testcase name="TestNoClass"/>
</testsuite>"#;
    assert_eq!(
        table(&parse(ReportFormat::Junitxml, "go.xml", text)),
        "\
SUCCEEDED | shop/cart | TestAdd | 250000000 | go | -
SUCCEEDED | shop/cart | TestBig | 12345000000000 | go | -
SUCCEEDED | shop/cart | TestSci | 1500000 | go | -
SUCCEEDED | shop/cart | TestJunk | 0 | go | -
SUCCEEDED | shop/cart | TestNegative | 0 | go | -
SUCCEEDED |  | TestNoClass | 0 | go | -
"
    );
}

#[test]
fn junit_message_is_bounded() {
    let long = "é".repeat(MESSAGE_LIMIT + 100);
    let text = format!(
        "<testsuite name=\"s\"><testcase name=\"t\"><failure>\n  {long}\n</failure></testcase></testsuite>"
    );
    let cases = parse(ReportFormat::Junitxml, "long.xml", &text);
    let message = cases[0].message.as_deref().unwrap_or_default();
    assert_eq!(message.chars().count(), MESSAGE_LIMIT);
    assert!(message.chars().all(|character| character == 'é'));

    // Text far beyond what is kept is not even collected in full.
    let huge = "x".repeat(CAPTURE_LIMIT * 3);
    let text =
        format!("<testsuite><testcase name=\"t\"><error>{huge}</error></testcase></testsuite>");
    let cases = parse(ReportFormat::Junitxml, "huge.xml", &text);
    assert_eq!(cases[0].status, TestCaseStatus::Error);
    assert_eq!(cases[0].message.as_ref().map(String::len), Some(MESSAGE_LIMIT));
}

#[test]
fn junit_entities_and_namespaces() {
    let text = r#"<?xml version="1.0"?>
<!DOCTYPE testsuite>
<ns:testsuite xmlns:ns="urn:example" name="a &amp; b">
  <!-- a comment with <testcase name="fake"/> inside -->
  <ns:testcase classname="x&lt;y&gt;" name="it&apos;s &quot;quoted&quot;">
    <ns:failure>&#x41;&#66; &copy; <![CDATA[<raw> & ]]>&lt;end&gt;</ns:failure>
  </ns:testcase>
</ns:testsuite>"#;
    let cases = parse(ReportFormat::Junitxml, "ns.xml", text);
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0].prefix, "x<y>");
    assert_eq!(cases[0].name, "it's \"quoted\"");
    assert_eq!(cases[0].test_suite_name.as_deref(), Some("a & b"));
    // An entity only a DTD could define is kept as written rather than failing the file.
    assert_eq!(cases[0].message.as_deref(), Some("AB &copy; <raw> & <end>"));
}

#[test]
fn cucumber() {
    let cases =
        parse(ReportFormat::Cucumberjson, "target/cucumber.json", fixture!("cucumber.json"));
    assert_eq!(
        table(&cases),
        "\
SUCCEEDED | Shopping cart | Adding an item | 5000000 | Shopping cart | -
FAILED | Shopping cart | Paying for the cart | 8600000 | Shopping cart | org.opentest4j.AssertionFailedError: expected: <\"PAID\"> but was: <\"PENDING\">
ERROR | classpath:features/refunds.feature | Refund in <currency> | 700000 | - | undefined step: When I ask for a refund
ERROR | classpath:features/refunds.feature | Refund in <currency> | 740000 | - | io.cucumber.java.PendingException: TODO: implement me
SKIPPED | classpath:features/refunds.feature | Partial refund | 0 | - | -
"
    );
    assert_eq!(summarize(&cases), summary([1, 1, 2, 1, 0], 15_040_000));
}

#[test]
fn cucumber_lenient_values() {
    // cucumber-js wrote floating-point durations for a while; hooks fail scenarios too;
    // a scenario without steps passes, as it does in Cucumber.
    let text = r#"[{"uri": "features/a.feature", "elements": [
        {"name": "floats", "steps": [{"result": {"status": "passed", "duration": 1500.6}}]},
        {"name": "hook", "steps": [{"result": {"status": "passed"}}],
         "after": [{"result": {"status": "failed", "error_message": "  screenshot failed  "}}]},
        {"name": "odd", "steps": [{"result": {"status": "rerun"}}, {}]},
        {"name": "empty"}
    ]}, {"name": "No scenarios"}]"#;
    assert_eq!(
        table(&parse(ReportFormat::Cucumberjson, "a.json", text)),
        "\
SUCCEEDED | features/a.feature | floats | 1501 | - | -
FAILED | features/a.feature | hook | 0 | - | screenshot failed
UNKNOWN | features/a.feature | odd | 0 | - | -
SUCCEEDED | features/a.feature | empty | 0 | - | -
"
    );
    assert_eq!(parse(ReportFormat::Cucumberjson, "a.json", " [ ] "), []);
}

#[test]
fn testng() {
    let cases = parse(
        ReportFormat::Testngxml,
        "target/surefire-reports/testng-results.xml",
        fixture!("testng-results.xml"),
    );
    // `setUp` and `tearDown` are configuration methods, not tests.
    assert_eq!(
        table(&cases),
        "\
SUCCEEDED | com.example.shop.CartTest | addsItem | 5000000 | Cart tests | -
FAILED | com.example.shop.CartTest | computesTotal | 17000000 | Cart tests | expected [42] but found [41]
FAILED | com.example.shop.CartTest | parsesPrice | 1204000000 | Cart tests | java.lang.NullPointerException
SKIPPED | com.example.shop.CheckoutTest | paysByCard | 0 | Cart tests | depends on not successfully finished methods
SUCCEEDED | com.example.shop.CheckoutTest | paysByVoucher | 1987000000 | Cart tests | -
"
    );
    assert_eq!(summarize(&cases), summary([2, 2, 0, 1, 0], 3_213_000_000));
}

#[test]
fn nunit2() {
    let cases = parse(ReportFormat::Nunitxml, "TestResult.xml", fixture!("nunit2.xml"));
    assert_eq!(
        table(&cases),
        "\
SUCCEEDED | Shop.Tests.CartTests | AddsItem | 12000000 | CartTests | -
FAILED | Shop.Tests.CartTests | ComputesTotal | 31000000 | CartTests | Expected: 42
ERROR | Shop.Tests.CartTests | LoadsCatalog | 150000000 | CartTests | System.Net.Http.HttpRequestException : Connection refused (catalog:443)
SKIPPED | Shop.Tests.CartTests | AppliesDiscount | 0 | CartTests | Discounts are disabled until PRICE-112
UNKNOWN | Shop.Tests.CartTests | RemovesItem | 1000000 | CartTests | Cart was empty
SUCCEEDED | Shop.Tests.CartTests | ParsesPrice(\"1.50\",150) | 2000000 | CartTests | -
SKIPPED | Shop.Tests.CartTests | ParsesPrice(\"x<y\",0) | 0 | CartTests | Wrong number of arguments provided
"
    );
    assert_eq!(message(&cases, "ComputesTotal"), Some("Expected: 42\n  But was:  41"));
}

#[test]
fn nunit2_without_result_attribute() {
    // NUnit 2.2 wrote only `executed` and `success`.
    let text = r#"<test-results name="old.dll"><test-suite name="old.dll"><results>
        <test-case name="A" executed="True" success="True" time="1"/>
        <test-case name="B" executed="True" success="False"/>
        <test-case name="C" executed="False"/>
        <test-case name="D"/>
    </results></test-suite></test-results>"#;
    assert_eq!(
        table(&parse(ReportFormat::Nunitxml, "old.xml", text)),
        "\
SUCCEEDED |  | A | 1000000000 | old.dll | -
FAILED |  | B | 0 | old.dll | -
SKIPPED |  | C | 0 | old.dll | -
UNKNOWN |  | D | 0 | old.dll | -
"
    );
}

#[test]
fn nunit3() {
    let cases = parse(ReportFormat::Nunit3xml, "TestResults/results.xml", fixture!("nunit3.xml"));
    assert_eq!(
        table(&cases),
        "\
SUCCEEDED | Shop.Tests.CartTests | AddsItem | 12345000 | CartTests | -
FAILED | Shop.Tests.CartTests | ComputesTotal | 31000000 | CartTests | Expected: 42
ERROR | Shop.Tests.CartTests | LoadsCatalog | 150000000 | CartTests | System.Net.Http.HttpRequestException : Connection refused (catalog:443)
SKIPPED | Shop.Tests.CartTests | AppliesDiscount | 0 | CartTests | Discounts are disabled until PRICE-112
UNKNOWN | Shop.Tests.CartTests | RemovesItem | 1000000 | CartTests | Cart was empty
SUCCEEDED | Shop.Tests.CartTests | ParsesPrice(\"1.50\",150) | 2000000 | CartTests | -
FAILED | Shop.Tests.CartTests | ParsesPrice(\"x<y\",0) | 2000000 | CartTests | System.FormatException : 'x<y' is not a price
"
    );
    assert_eq!(summarize(&cases), summary([2, 2, 1, 1, 1], 198_345_000));
}

#[test]
fn nunit3_without_classname() {
    let text = r#"<test-run><test-case fullname="Shop.Tests.Misc.Works(&quot;a.b&quot;)" result="Failed" label="Invalid"/></test-run>"#;
    assert_eq!(
        table(&parse(ReportFormat::Nunit3xml, "r.xml", text)),
        "ERROR | Shop.Tests.Misc | Works(\"a.b\") | 0 | - | -\n"
    );
}

#[test]
fn trx_from_mstest() {
    // The file starts with a byte order mark, as Visual Studio writes it.
    let text = fixture!("mstest.trx");
    assert!(text.starts_with('\u{feff}'));
    let cases = parse(ReportFormat::Visualstudiotrx, "TestResults/mstest.trx", text);
    assert_eq!(
        table(&cases),
        "\
SUCCEEDED | Shop.Tests.CartTests | AddsItem | 12345000 | shop.tests.dll | -
FAILED | Shop.Tests.CartTests | ComputesTotal | 31000000 | shop.tests.dll | Assert.AreEqual failed. Expected:<42>. Actual:<41>.
SKIPPED | Shop.Tests.CartTests | AppliesDiscount | 0 | shop.tests.dll | Discounts are disabled until PRICE-112
FAILED | Shop.Tests.CartTests | ParsesPrice | 1250000000 | shop.tests.dll | Test method Shop.Tests.CartTests.ParsesPrice threw exception:
ERROR | Shop.Tests.CatalogTests | ImportsLargeCatalog | 86523500000000 | shop.tests.dll | Test 'ImportsLargeCatalog' exceeded execution timeout period.
"
    );
    // The data-driven result has no message of its own, so its failing row's stands in.
    assert_eq!(
        message(&cases, "ParsesPrice"),
        Some(
            "Test method Shop.Tests.CartTests.ParsesPrice threw exception: \n\
             System.FormatException: 'x<y' is not a price"
        )
    );
}

#[test]
fn trx_from_xunit() {
    let cases =
        parse(ReportFormat::Visualstudiotrx, "TestResults/xunit.trx", fixture!("xunit.trx"));
    // xUnit names results by their full name; the class is shown once, as the prefix.
    assert_eq!(
        table(&cases),
        "\
SUCCEEDED | Shop.Tests.PriceTests | Parses(text: \"1.50\", cents: 150) | 812500 | Shop.Tests.dll | -
FAILED | Shop.Tests.PriceTests | RoundsHalfEven | 4100000 | Shop.Tests.dll | Assert.Equal() Failure: Values differ
SKIPPED | Shop.Tests.PriceTests | FormatsCurrency | 1000 | Shop.Tests.dll | -
UNKNOWN |  | Shop.Tests.Orphan | 100000000 | - | -
"
    );
    assert_eq!(summarize(&cases), summary([1, 1, 0, 1, 1], 104_913_500));
}

#[test]
fn truncated_xml_names_the_last_line() {
    let error = parse_test_report(
        ReportFormat::Junitxml,
        "reports/TEST-cart.xml",
        fixture!("malformed/truncated-junit.xml"),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "reports/TEST-cart.xml:5: malformed XML: unexpected end of file: <failure> is not closed"
    );
}

#[test]
fn mismatched_end_tag() {
    let error = parse_test_report(
        ReportFormat::Junitxml,
        "junit.xml",
        fixture!("malformed/mismatched-junit.xml"),
    )
    .unwrap_err();
    let ReportError::Xml { path, line, message } = error else {
        panic!("expected an XML error, got {error:?}");
    };
    assert_eq!((path.as_str(), line), ("junit.xml", 5));
    assert!(message.contains("testcase"), "{message}");
}

#[test]
fn malformed_xml_reports_the_line() {
    let cases = [
        // A tag cut off inside an attribute.
        ("<testsuite>\n<testcase name=\"a", 2),
        // An attribute without quotes.
        ("<testsuite>\n\n<testcase name=a/>\n</testsuite>", 3),
        // The same attribute twice.
        ("<testsuite>\n<testcase name=\"a\" name=\"b\"/>\n</testsuite>", 2),
        // An unknown entity in an attribute (text keeps them; attributes cannot).
        ("<testsuite>\n<testcase name=\"&nbsp;\"/>\n</testsuite>", 2),
        // An invalid character reference in a message.
        ("<testsuite><testcase>\n<failure>&#0;</failure></testcase></testsuite>", 2),
        // An end tag that was never opened.
        ("<testsuite>\n</testcase>\n</testsuite>", 2),
    ];
    for (text, expected_line) in cases {
        match parse_test_report(ReportFormat::Junitxml, "bad.xml", text) {
            Err(ReportError::Xml { path, line, .. }) => {
                assert_eq!((path.as_str(), line), ("bad.xml", expected_line), "{text}");
            }
            other => panic!("{text}: expected an XML error, got {other:?}"),
        }
    }
}

#[test]
fn wrong_root_element() {
    let error =
        parse_test_report(ReportFormat::Junitxml, "r.xml", fixture!("nunit3.xml")).unwrap_err();
    assert_eq!(error.to_string(), "r.xml: expected <testsuites> or <testsuite>, found <test-run>");
    let error =
        parse_test_report(ReportFormat::Testngxml, "t.xml", "<?xml version=\"1.0\"?>\n<!-- -->")
            .unwrap_err();
    assert_eq!(error.to_string(), "t.xml: expected <testng-results>, found no element");
    let wrong = [
        (ReportFormat::Nunitxml, "<test-run/>", "<test-results>"),
        (ReportFormat::Nunit3xml, "<test-results/>", "<test-run>"),
        (ReportFormat::Visualstudiotrx, "<testsuites/>", "<TestRun>"),
    ];
    for (format, text, expected_root) in wrong {
        match parse_test_report(format, "x", text) {
            Err(ReportError::UnexpectedRoot { expected, .. }) => {
                assert_eq!(expected, expected_root);
            }
            other => panic!("{text}: expected a root error, got {other:?}"),
        }
    }
}

#[test]
fn malformed_json() {
    let error = parse_test_report(
        ReportFormat::Cucumberjson,
        "cucumber.json",
        fixture!("malformed/cucumber-broken.json"),
    )
    .unwrap_err();
    let ReportError::Json { path, line, .. } = &error else {
        panic!("expected a JSON error, got {error:?}");
    };
    assert_eq!((path.as_str(), *line), ("cucumber.json", 8));

    // Values of the wrong type are reported where they are.
    let error = parse_test_report(
        ReportFormat::Cucumberjson,
        "c.json",
        "[\n  {\"elements\": [\n    {\"name\": 7}\n  ]}\n]",
    )
    .unwrap_err();
    assert!(matches!(error, ReportError::Json { line: 3, .. }), "{error:?}");

    let error = parse_test_report(ReportFormat::Cucumberjson, "c.json", "").unwrap_err();
    assert!(matches!(error, ReportError::Json { line: 1, .. }), "{error:?}");

    let error =
        parse_test_report(ReportFormat::Cucumberjson, "c.json", "{\"features\": []}").unwrap_err();
    assert_eq!(
        error.to_string(),
        "c.json: expected a JSON array of Cucumber features, found a JSON object"
    );
}

#[test]
fn coverage_formats_are_refused() {
    for format in ReportFormat::ALL {
        let result = parse_test_report(format, "coverage.xml", "<coverage/>");
        if format.is_test() {
            assert!(!matches!(result, Err(ReportError::CoverageNotSupported { .. })), "{format:?}");
        } else {
            let error = result.unwrap_err();
            assert_eq!(
                error.to_string(),
                format!("{} is a code coverage format, not a test report format", format.as_str())
            );
        }
    }
}

#[test]
fn truncated_files_never_panic() {
    // Every prefix of every fixture is either a report or an error, never a panic.
    let fixtures = [
        (ReportFormat::Junitxml, fixture!("junit-pytest.xml")),
        (ReportFormat::Junitxml, fixture!("junit-surefire.xml")),
        (ReportFormat::Junitxml, fixture!("junit-nested.xml")),
        (ReportFormat::Cucumberjson, fixture!("cucumber.json")),
        (ReportFormat::Testngxml, fixture!("testng-results.xml")),
        (ReportFormat::Nunitxml, fixture!("nunit2.xml")),
        (ReportFormat::Nunit3xml, fixture!("nunit3.xml")),
        (ReportFormat::Visualstudiotrx, fixture!("mstest.trx")),
        (ReportFormat::Visualstudiotrx, fixture!("xunit.trx")),
    ];
    for (format, text) in fixtures {
        let whole = text.trim_end().len();
        for end in (0..whole).filter(|&end| text.is_char_boundary(end)).step_by(5) {
            assert!(
                parse_test_report(format, "cut", &text[..end]).is_err(),
                "{format:?} cut at {end} parsed"
            );
        }
    }
}

#[test]
fn summarize_empty() {
    assert_eq!(summarize(&[]), TestSummary::default());
}

#[test]
fn lenient_seconds() {
    let cases = [
        ("0.001", 1_000_000),
        (" 2 ", 2_000_000_000),
        ("1,234.5", 1_234_500_000_000),
        ("1,234,567", 1_234_567_000_000_000),
        ("1 234,5", 1_234_500_000_000),
        ("0,123", 123_000_000),
        ("12,5", 12_500_000_000),
        ("1e-9", 1),
        ("", 0),
        ("NaN", 0),
        ("inf", 0),
        ("-0.5", 0),
        ("1e12", u64::MAX),
        ("1e400", 0),
    ];
    for (text, nanos) in cases {
        assert_eq!(seconds_to_nanos(text), nanos, "{text:?}");
    }
    assert_eq!(millis_to_nanos("1987"), 1_987_000_000);
}

#[test]
fn trx_timespans() {
    let cases = [
        ("00:00:00.0123450", 12_345_000),
        ("00:00:00", 0),
        ("01:02:03.5", 3_723_500_000_000),
        ("1.00:00:01", 86_401_000_000_000),
        ("0.25", 250_000_000),
        ("aa:00:01", 0),
        ("", 0),
    ];
    for (text, nanos) in cases {
        assert_eq!(timespan_to_nanos(text), nanos, "{text:?}");
    }
}

#[test]
fn qualified_names() {
    assert_eq!(split_qualified("A.B.C.Method"), ("A.B.C", "Method"));
    assert_eq!(split_qualified("A.B.Method(\"x.y\",1.5)"), ("A.B", "Method(\"x.y\",1.5)"));
    assert_eq!(split_qualified("Method"), ("", "Method"));
    assert_eq!(strip_assembly_qualification("A.B, Shop, Version=1.0.0.0, Culture=neutral"), "A.B");
    assert_eq!(
        strip_assembly_qualification("A.Box`1[[System.Int32, mscorlib]], Shop"),
        "A.Box`1[[System.Int32, mscorlib]]"
    );
    assert_eq!(file_name("C:\\src\\bin\\Shop.Tests.dll"), "Shop.Tests.dll");
    assert_eq!(file_name("/src/bin/shop.tests.dll"), "shop.tests.dll");
}

#[test]
fn a_file_on_disk_is_read_as_a_stream_with_the_same_cases_and_error_lines() {
    let dir = std::env::temp_dir().join(format!("slipway-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.xml");
    // A failure message far longer than what a case keeps: only the kept part costs memory.
    let long = "x".repeat(3 << 20);
    let text = format!(
        "\u{feff}<testsuite name=\"s\">\n<testcase name=\"a\" classname=\"c\"/>\n<testcase name=\"b\"><failure>{long}</failure></testcase>\n</testsuite>\n"
    );
    std::fs::write(&good, &text).unwrap();
    let cases = parse_test_report_file(ReportFormat::Junitxml, "r/good.xml", &good).unwrap();
    assert_eq!(cases, parse_test_report(ReportFormat::Junitxml, "r/good.xml", &text).unwrap());
    assert_eq!(cases.len(), 2);
    assert_eq!(cases[1].message.as_ref().unwrap().len(), MESSAGE_LIMIT);

    for text in [
        "<testsuite>\n<testcase name=\"a\">\n</testsuit>\n",
        "<testsuite>\n<testcase name=\"a\"/>\n\n",
        "\u{feff}<testsuite>\n\n<testcase name=\"a\" x=1/>\n</testsuite>",
    ] {
        let bad = dir.join("bad.xml");
        std::fs::write(&bad, text).unwrap();
        let from_file =
            parse_test_report_file(ReportFormat::Junitxml, "bad.xml", &bad).unwrap_err();
        let from_text = parse_test_report(ReportFormat::Junitxml, "bad.xml", text).unwrap_err();
        assert_eq!(from_file.to_string(), from_text.to_string());
    }
    let missing =
        parse_test_report_file(ReportFormat::Junitxml, "gone.xml", &dir.join("gone")).unwrap_err();
    assert!(missing.to_string().starts_with("gone.xml: "), "{missing}");
    std::fs::remove_dir_all(&dir).unwrap();
}
