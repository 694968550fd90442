//! Reading the process environment: the one module allowed to.

/// The environment a local build starts from: the user's own.
#[allow(clippy::disallowed_methods)]
pub(crate) fn host_environment() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// The environment the embedded agent's builds start from: the few variables a shell
/// expects, nothing of the server's configuration (`SLIPWAY_*`, cloud credentials, …).
#[allow(clippy::disallowed_methods)]
pub(crate) fn build_environment() -> Vec<(String, String)> {
    const KEPT: &[&str] =
        &["PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "TZ", "TERM"];
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| KEPT.contains(&k.as_str()))
        .collect()
}

/// Logs to standard error, filtered by `RUST_LOG` (default: info); in colour only when
/// standard error is a terminal, so a log file or pipe holds no ANSI codes.
pub(crate) fn init_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// This machine's name, for agents that are not given one.
pub(crate) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|it| it.trim().to_owned())
        .ok()
        .filter(|it| !it.is_empty())
        .unwrap_or_else(|| "agent".to_owned())
}
