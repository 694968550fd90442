//! A build's record as it moves from SUBMITTED to COMPLETED: pure state transitions.
//!
//! The server keeps each build as the JSON its API returns (`Build` in CodeBuild's model).
//! These functions change the core of that record ([`protocol::Build`]) as events arrive;
//! they take the time as an argument and never read the clock, so tests can feed any
//! sequence of events.

use protocol::{Build, BuildEvent, BuildPhase, BuildStatus, PhaseContext, PhaseType};

/// A build just accepted by StartBuild: SUBMITTED is done and the build waits in QUEUED.
pub fn submitted(mut build: Build, now: f64) -> Build {
    build.start_time = now;
    build.end_time = None;
    build.build_status = BuildStatus::InProgress;
    build.build_complete = false;
    build.current_phase = PhaseType::Queued;
    build.phases = vec![
        finished_phase(PhaseType::Submitted, now, now, BuildStatus::Succeeded, None),
        open_phase(PhaseType::Queued, now),
    ];
    build
}

/// An agent took the build: QUEUED ends.
pub fn leased(build: &mut Build, now: f64) {
    close_open_phase(build, now, BuildStatus::Succeeded, None);
}

/// Applies one event reported by the agent running the build.
pub fn apply_event(build: &mut Build, event: &BuildEvent) {
    match event {
        BuildEvent::PhaseStarted { phase, time } => {
            // The agent repeats SUBMITTED and QUEUED of its own; the server's are the real ones.
            if matches!(phase, PhaseType::Submitted | PhaseType::Queued) {
                return;
            }
            close_open_phase(build, *time, BuildStatus::Succeeded, None);
            build.phases.push(open_phase(*phase, *time));
            build.current_phase = *phase;
        }
        BuildEvent::PhaseFinished { phase, status, context, time } => {
            if let Some(open) = build
                .phases
                .iter_mut()
                .rev()
                .find(|it| it.phase_type == *phase && it.end_time.is_none())
            {
                close(open, *time, *status, context.clone());
            }
        }
        BuildEvent::CommandStarted { .. }
        | BuildEvent::Output { .. }
        | BuildEvent::Message { .. } => {}
    }
}

/// The agent finished the build: its record is final, except for what only the server knows
/// (when the build was submitted and how long it queued).
pub fn finished(build: &mut Build, reported: &Build) {
    let server_phases: Vec<BuildPhase> = build
        .phases
        .iter()
        .filter(|it| matches!(it.phase_type, PhaseType::Submitted | PhaseType::Queued))
        .cloned()
        .collect();
    let agent_phases = reported
        .phases
        .iter()
        .filter(|it| !matches!(it.phase_type, PhaseType::Submitted | PhaseType::Queued))
        .cloned();
    build.phases = server_phases.into_iter().chain(agent_phases).collect();
    build.build_status = reported.build_status;
    build.current_phase = PhaseType::Completed;
    build.build_complete = true;
    build.end_time = reported.end_time;
    build.resolved_source_version = reported.resolved_source_version.clone();
    build.exported_environment_variables = reported.exported_environment_variables.clone();
    build.artifacts = reported.artifacts.clone();
    build.secondary_artifacts = reported.secondary_artifacts.clone();
    build.reports = reported.reports.clone();
}

/// The build's agent was lost and the build goes back to the queue for another attempt
/// (the project's `autoRetryLimit`): everything after SUBMITTED starts over.
pub fn requeued(build: &mut Build, now: f64) {
    build.phases.retain(|it| it.phase_type == PhaseType::Submitted);
    build.phases.push(open_phase(PhaseType::Queued, now));
    build.current_phase = PhaseType::Queued;
    build.build_status = BuildStatus::InProgress;
    build.build_complete = false;
    build.end_time = None;
}

/// The build ended without its agent: `status` (FAULT when the agent was lost, STOPPED when it
/// was stopped while queued, TIMED_OUT when it queued too long, FAILED for a bad buildspec).
pub fn ended(build: &mut Build, now: f64, status: BuildStatus, context: PhaseContext) {
    if build.build_complete {
        return;
    }
    if !close_open_phase(build, now, status, Some(context.clone())) {
        // Nothing was running: the failure belongs to the phase that would have come next.
        let phase = match build.current_phase {
            PhaseType::Submitted | PhaseType::Queued => PhaseType::Provisioning,
            other => other,
        };
        build.phases.push(finished_phase(phase, now, now, status, Some(context)));
    }
    build.phases.push(BuildPhase {
        phase_type: PhaseType::Completed,
        phase_status: None,
        start_time: now,
        end_time: None,
        duration_in_seconds: None,
        contexts: None,
    });
    build.build_status = status;
    build.current_phase = PhaseType::Completed;
    build.build_complete = true;
    build.end_time = Some(now);
}

fn open_phase(phase: PhaseType, now: f64) -> BuildPhase {
    BuildPhase {
        phase_type: phase,
        phase_status: None,
        start_time: now,
        end_time: None,
        duration_in_seconds: None,
        contexts: None,
    }
}

fn finished_phase(
    phase: PhaseType,
    start: f64,
    end: f64,
    status: BuildStatus,
    context: Option<PhaseContext>,
) -> BuildPhase {
    let mut it = open_phase(phase, start);
    close(&mut it, end, status, context);
    it
}

fn close(phase: &mut BuildPhase, now: f64, status: BuildStatus, context: Option<PhaseContext>) {
    phase.end_time = Some(now);
    phase.phase_status = Some(status);
    phase.duration_in_seconds = Some((now - phase.start_time).max(0.0) as u64);
    phase.contexts = Some(vec![
        context.unwrap_or(PhaseContext { status_code: String::new(), message: String::new() }),
    ]);
}

/// Ends the phase in progress, if there is one. Returns whether there was.
fn close_open_phase(
    build: &mut Build,
    now: f64,
    status: BuildStatus,
    context: Option<PhaseContext>,
) -> bool {
    match build
        .phases
        .iter_mut()
        .rev()
        .find(|it| it.end_time.is_none() && it.phase_type != PhaseType::Completed)
    {
        Some(open) => {
            close(open, now, status, context);
            true
        }
        None => false,
    }
}

/// The lines an event adds to the build's log, in CodeBuild's style
/// (`[Container] 2026/11/22 16:21:40.123 Running command make`), or `None`.
pub fn log_text(event: &BuildEvent, now: f64) -> Option<String> {
    let stamp = |time: f64| format!("[Container] {}", log_time(time));
    match event {
        BuildEvent::Output { text } => Some(text.clone()),
        BuildEvent::Message { text, time } => {
            Some(format!("{} {text}\n", stamp(time.unwrap_or(now))))
        }
        BuildEvent::CommandStarted { command, time, .. } => {
            Some(format!("{} Running command {command}\n", stamp(time.unwrap_or(now))))
        }
        BuildEvent::PhaseStarted { phase, time } => {
            Some(format!("{} Entering phase {}\n", stamp(*time), phase.as_str()))
        }
        BuildEvent::PhaseFinished { phase, status, context, time } => {
            let mut text = format!(
                "{} Phase complete: {} State: {}\n",
                stamp(*time),
                phase.as_str(),
                status.as_str()
            );
            if let Some(context) = context {
                text.push_str(&format!(
                    "{} Phase context status code: {} Message: {}\n",
                    stamp(*time),
                    context.status_code,
                    context.message
                ));
            }
            Some(text)
        }
    }
}

/// `2026/11/22 16:21:40.123` (UTC) from seconds since the epoch.
fn log_time(seconds: f64) -> String {
    crate::clock::format_utc((seconds * 1000.0).round() as i64, crate::clock::LOG_TIME)
}

#[cfg(test)]
mod tests;
