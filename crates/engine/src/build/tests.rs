//! Build records through their transitions: the whole record after each sequence.

use protocol::{Build, BuildEvent, BuildStatus, PhaseContext, PhaseType};

use super::{apply_event, ended, finished, leased, log_text, requeued, submitted};

fn empty() -> Build {
    Build {
        id: "p:1".to_owned(),
        arn: "arn".to_owned(),
        build_number: 1,
        project_name: "p".to_owned(),
        start_time: 0.0,
        end_time: None,
        current_phase: PhaseType::Submitted,
        build_status: BuildStatus::InProgress,
        resolved_source_version: None,
        build_complete: false,
        phases: Vec::new(),
        exported_environment_variables: Vec::new(),
        artifacts: None,
        secondary_artifacts: Vec::new(),
        reports: Vec::new(),
        timeout_in_minutes: 60,
    }
}

fn phases(build: &Build) -> Vec<String> {
    build
        .phases
        .iter()
        .map(|it| {
            format!(
                "{} {} {}-{}",
                it.phase_type.as_str(),
                it.phase_status.map_or("-", |s| s.as_str()),
                it.start_time,
                it.end_time.map_or("".to_owned(), |t| t.to_string())
            )
        })
        .collect()
}

#[test]
fn a_build_from_submission_to_the_end() {
    let mut build = submitted(empty(), 100.0);
    assert_eq!(phases(&build), ["SUBMITTED SUCCEEDED 100-100", "QUEUED - 100-"]);
    assert_eq!(build.current_phase, PhaseType::Queued);
    leased(&mut build, 101.0);
    apply_event(
        &mut build,
        &BuildEvent::PhaseStarted { phase: PhaseType::Provisioning, time: 102.0 },
    );
    apply_event(
        &mut build,
        &BuildEvent::PhaseFinished {
            phase: PhaseType::Provisioning,
            status: BuildStatus::Succeeded,
            context: None,
            time: 103.0,
        },
    );
    apply_event(&mut build, &BuildEvent::PhaseStarted { phase: PhaseType::Build, time: 104.0 });
    assert_eq!(build.current_phase, PhaseType::Build);
    assert_eq!(
        phases(&build),
        [
            "SUBMITTED SUCCEEDED 100-100",
            "QUEUED SUCCEEDED 100-101",
            "PROVISIONING SUCCEEDED 102-103",
            "BUILD - 104-"
        ]
    );

    let mut reported = empty();
    reported.build_status = BuildStatus::Failed;
    reported.end_time = Some(110.0);
    reported.phases = build.phases.clone();
    reported.phases.retain(|it| it.phase_type != PhaseType::Build);
    finished(&mut build, &reported);
    assert!(build.build_complete);
    assert_eq!(build.build_status, BuildStatus::Failed);
    assert_eq!(build.current_phase, PhaseType::Completed);
    assert_eq!(
        phases(&build),
        [
            "SUBMITTED SUCCEEDED 100-100",
            "QUEUED SUCCEEDED 100-101",
            "PROVISIONING SUCCEEDED 102-103"
        ]
    );
}

#[test]
fn a_lost_agent_faults_the_phase_in_progress() {
    let mut build = submitted(empty(), 100.0);
    leased(&mut build, 101.0);
    apply_event(&mut build, &BuildEvent::PhaseStarted { phase: PhaseType::Build, time: 102.0 });
    let context = PhaseContext { status_code: "AGENT_LOST".to_owned(), message: "lost".to_owned() };
    ended(&mut build, 200.0, BuildStatus::Fault, context.clone());
    assert_eq!(build.build_status, BuildStatus::Fault);
    assert_eq!(
        phases(&build)[2..],
        ["BUILD FAULT 102-200".to_owned(), "COMPLETED - 200-".to_owned()]
    );
    // Ending twice changes nothing.
    ended(&mut build, 300.0, BuildStatus::Stopped, context);
    assert_eq!(build.build_status, BuildStatus::Fault);
}

#[test]
fn a_build_stopped_while_queued() {
    let mut build = submitted(empty(), 100.0);
    let context =
        PhaseContext { status_code: "BUILD_STOPPED".to_owned(), message: "stopped".to_owned() };
    ended(&mut build, 105.0, BuildStatus::Stopped, context);
    assert_eq!(
        phases(&build),
        ["SUBMITTED SUCCEEDED 100-100", "QUEUED STOPPED 100-105", "COMPLETED - 105-"]
    );
}

#[test]
fn log_lines_look_like_codebuild() {
    let time = 1_795_364_500.25;
    // An event from an agent that says when (the executor's clock) keeps that time; one that
    // does not gets the time the server took it in.
    let started = |at: Option<f64>| BuildEvent::CommandStarted {
        phase: PhaseType::Build,
        command: "make".to_owned(),
        time: at,
    };
    let line = log_text(&started(None), time);
    assert_eq!(line.as_deref(), Some("[Container] 2026/11/22 16:21:40.250 Running command make\n"));
    let line = log_text(&started(Some(time - 1.0)), time);
    assert_eq!(line.as_deref(), Some("[Container] 2026/11/22 16:21:39.250 Running command make\n"));
    let message = BuildEvent::Message { text: "hi".to_owned(), time: Some(time - 2.0) };
    assert_eq!(
        log_text(&message, time).as_deref(),
        Some("[Container] 2026/11/22 16:21:38.250 hi\n")
    );
    let failed = BuildEvent::PhaseFinished {
        phase: PhaseType::Build,
        status: BuildStatus::Failed,
        context: Some(PhaseContext {
            status_code: "COMMAND_EXECUTION_ERROR".to_owned(),
            message: "m".to_owned(),
        }),
        time,
    };
    assert_eq!(
        log_text(&failed, time).unwrap(),
        "[Container] 2026/11/22 16:21:40.250 Phase complete: BUILD State: FAILED\n\
         [Container] 2026/11/22 16:21:40.250 Phase context status code: COMMAND_EXECUTION_ERROR Message: m\n"
    );
}

#[test]
fn a_requeued_build_starts_over_after_submitted() {
    let mut build = submitted(empty(), 100.0);
    leased(&mut build, 101.0);
    apply_event(&mut build, &BuildEvent::PhaseStarted { phase: PhaseType::Build, time: 102.0 });
    requeued(&mut build, 150.0);
    assert_eq!(phases(&build), ["SUBMITTED SUCCEEDED 100-100", "QUEUED - 150-"]);
    assert_eq!(
        (build.current_phase, build.build_status),
        (PhaseType::Queued, BuildStatus::InProgress)
    );
}
