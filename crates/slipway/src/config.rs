//! Reading the process environment: the one module allowed to.

/// The environment a local build starts from: the user's own.
#[allow(clippy::disallowed_methods)]
pub(crate) fn host_environment() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}
