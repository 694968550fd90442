//! A real browser for the console tests: headless Chromium driven by playwright-core through
//! `browser/driver.mjs`, one JSON command per line.
//!
//! `cargo xtask test` installs Chromium (Debian's `chromium`), Node.js and playwright-core (in
//! `<target dir>/browser-test`); without them the tests that need a browser fail and say how
//! to get them.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use serde_json::{Value, json};

/// Longer than any step of the driver (it gives up on a step after 10 s).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) struct Browser {
    child: Child,
    /// Closing it ends the driver, which closes the browser.
    stdin: Option<ChildStdin>,
    answers: Receiver<String>,
}

impl Browser {
    pub(crate) fn start() -> Browser {
        let prefix = node_prefix();
        assert!(
            prefix.join("node_modules/playwright-core/package.json").is_file(),
            "the console tests need playwright-core in {}: run `cargo xtask test` once (it \
             installs Chromium, Node.js and playwright-core), or `npm install --prefix {} \
             playwright-core`",
            prefix.display(),
            prefix.display(),
        );
        let chromium = Path::new("/usr/bin/chromium");
        assert!(chromium.exists(), "the console tests need Chromium: apt-get install chromium");
        let driver = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/browser/driver.mjs");
        let mut child = Command::new("node")
            .arg(driver)
            .arg(&prefix)
            .arg(chromium)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("Node.js is installed (cargo xtask test installs it)");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (send, answers) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Browser { child, stdin: Some(stdin), answers }
    }

    /// Sends one command and returns its answer; panics when the step failed.
    #[track_caller]
    fn step(&mut self, command: Value) -> Value {
        let answer = self.try_step(command.clone());
        assert_eq!(answer["ok"], true, "browser step {command} failed: {}", answer["error"]);
        answer
    }

    /// Sends one command and returns its answer, `{"ok": false, …}` included.
    fn try_step(&mut self, command: Value) -> Value {
        let stdin = self.stdin.as_mut().expect("the browser is open");
        writeln!(stdin, "{command}").expect("the browser driver runs");
        let line = self
            .answers
            .recv_timeout(ANSWER_TIMEOUT)
            .unwrap_or_else(|err| panic!("no answer from the browser to {command}: {err}"));
        serde_json::from_str(&line).unwrap_or_else(|err| panic!("{err}: {line}"))
    }

    /// Opens `url`; returns the HTTP status of the page it ends on.
    #[track_caller]
    pub(crate) fn goto(&mut self, url: &str) -> u64 {
        self.step(json!({"op": "goto", "url": url}))["status"].as_u64().unwrap_or(0)
    }

    #[track_caller]
    pub(crate) fn fill(&mut self, selector: &str, value: &str) {
        self.step(json!({"op": "fill", "selector": selector, "value": value}));
    }

    /// Clicks and waits for the page the click leads to.
    #[track_caller]
    pub(crate) fn click(&mut self, selector: &str) {
        self.step(json!({"op": "click", "selector": selector}));
    }

    /// The text of the first element `selector` finds, once there is one.
    #[track_caller]
    pub(crate) fn text(&mut self, selector: &str) -> String {
        let answer = self.step(json!({"op": "text", "selector": selector}));
        answer["text"].as_str().unwrap().to_owned()
    }

    /// How many elements `selector` finds now.
    #[track_caller]
    pub(crate) fn count(&mut self, selector: &str) -> u64 {
        self.step(json!({"op": "count", "selector": selector}))["count"].as_u64().unwrap()
    }

    #[track_caller]
    pub(crate) fn url(&mut self) -> String {
        self.step(json!({"op": "url"}))["url"].as_str().unwrap().to_owned()
    }
}

impl Drop for Browser {
    /// Lets the driver close Chromium (its profile directory goes with it); kills it if it
    /// takes more than a few seconds.
    fn drop(&mut self) {
        drop(self.stdin.take());
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where `cargo xtask test` installs playwright-core: `browser-test` in the target directory.
fn node_prefix() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory holds tmp/")
        .join("browser-test")
}
