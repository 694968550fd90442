//! What `slipway build` prints: each phase announced, each command and its output as it
//! happens, and a closing table of phases. Colour only on a terminal.

use std::io::Write;
use std::path::Path;

use agent::BuildResult;
use protocol::{BuildEvent, BuildStatus, PhaseType};

pub(crate) struct Renderer {
    colour: bool,
    out: std::io::Stdout,
}

const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const CYAN: &str = "\x1b[36m";
const RESET: &str = "\x1b[0m";

impl Renderer {
    pub(crate) fn new(colour: bool) -> Renderer {
        Renderer { colour, out: std::io::stdout() }
    }

    fn paint(&self, style: &str, text: &str) -> String {
        if self.colour { format!("{style}{text}{RESET}") } else { text.to_owned() }
    }

    fn line(&mut self, text: &str) {
        let mut out = self.out.lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    pub(crate) fn start(&mut self, buildspec: &Path, source: &Path) {
        let text = format!("Running {} on a copy of {}", buildspec.display(), source.display());
        let text = self.paint(BOLD, &text);
        self.line(&text);
    }

    pub(crate) fn event(&mut self, event: &BuildEvent) {
        match event {
            BuildEvent::PhaseStarted { phase, .. } => {
                if !matches!(phase, PhaseType::Submitted | PhaseType::Queued) {
                    let text = self.paint(CYAN, &format!("==> Entering phase {}", phase.as_str()));
                    self.line(&text);
                }
            }
            BuildEvent::CommandStarted { command, .. } => {
                let text = self.paint(BOLD, &format!("Running command {command}"));
                self.line(&text);
            }
            BuildEvent::Output { text } => {
                let mut out = self.out.lock();
                let _ = out.write_all(text.as_bytes());
                let _ = out.flush();
            }
            BuildEvent::Message { text, .. } => {
                let text = self.paint(DIM, text);
                self.line(&text);
            }
            BuildEvent::PhaseFinished { phase, status, context, .. } => {
                if matches!(phase, PhaseType::Submitted | PhaseType::Queued) {
                    return;
                }
                let style = status_style(*status);
                let text = self.paint(
                    style,
                    &format!("Phase complete: {} State: {}", phase.as_str(), status.as_str()),
                );
                self.line(&text);
                if let Some(context) = context {
                    let text = format!(
                        "Phase context status code: {} Message: {}",
                        context.status_code, context.message
                    );
                    let text = self.paint(style, &text);
                    self.line(&text);
                }
            }
        }
    }

    pub(crate) fn summary(&mut self, result: &BuildResult) {
        let build = &result.build;
        self.line("");
        let header =
            self.paint(BOLD, &format!("{:<18} {:<10} {:>10}", "PHASE", "STATUS", "DURATION"));
        self.line(&header);
        for phase in &build.phases {
            let (Some(status), Some(end)) = (phase.phase_status, phase.end_time) else { continue };
            if matches!(phase.phase_type, PhaseType::Submitted | PhaseType::Queued) {
                continue;
            }
            let row = format!(
                "{:<18} {} {:>10}",
                phase.phase_type.as_str(),
                self.paint(status_style(status), &format!("{:<10}", status.as_str())),
                duration(end - phase.start_time)
            );
            self.line(&row);
        }
        self.line("");
        for artifact in &result.artifacts {
            let label = artifact.identifier.as_deref().unwrap_or("artifacts");
            let text = format!(
                "Artifact {label}: {} ({} files, {} bytes)",
                artifact.path.display(),
                artifact.files,
                artifact.bytes
            );
            self.line(&text);
        }
        for variable in &build.exported_environment_variables {
            let text = format!("Exported {}={}", variable.name, variable.value);
            self.line(&text);
        }
        for report in &build.reports {
            let counts = &report.test_summary.status_counts;
            let text = format!(
                "Report {}: {} ({} tests: {} succeeded, {} failed, {} errors, {} skipped)",
                report.name,
                report.status,
                report.test_summary.total,
                counts.succeeded,
                counts.failed,
                counts.error,
                counts.skipped
            );
            self.line(&text);
        }
        let total = build.end_time.unwrap_or(build.start_time) - build.start_time;
        let status = build.build_status;
        let text = self.paint(
            status_style(status),
            &format!("Build {} in {}", status.as_str(), duration(total)),
        );
        let text = self.paint(BOLD, &text);
        self.line(&text);
    }
}

fn status_style(status: BuildStatus) -> &'static str {
    match status {
        BuildStatus::Succeeded => GREEN,
        BuildStatus::InProgress => CYAN,
        BuildStatus::Stopped | BuildStatus::TimedOut => YELLOW,
        BuildStatus::Failed | BuildStatus::Fault => RED,
    }
}

fn duration(seconds: f64) -> String {
    if seconds < 60.0 {
        format!("{seconds:.2}s")
    } else {
        let whole = seconds as u64;
        format!("{}m{:02}s", whole / 60, whole % 60)
    }
}
