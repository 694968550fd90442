//! Where `parameter-store` and `secrets-manager` values come from.

use std::collections::BTreeMap;

/// A source of secret values. The server's agents will ask the server; `slipway build`
/// reads a local file ([`MapSecrets`]).
pub trait SecretSource: Send + Sync {
    /// The value of a parameter-store parameter, e.g. `/prod/db/password`.
    fn parameter(&self, name: &str) -> Result<String, String>;

    /// The value for a secrets-manager reference
    /// `secret-id[:json-key[:version-stage[:version-id]]]`.
    fn secret(&self, reference: &str) -> Result<String, String>;

    /// Why the build may not read the parameter or secret `reference` at all (the server's
    /// answer when the build's service role does not allow it), if it may not. Nothing is
    /// refused by default.
    fn refusal(&self, _reference: &str) -> Option<String> {
        None
    }
}

/// Secrets from a map of name to value: parameters by name, secrets by secret id.
#[derive(Debug, Clone, Default)]
pub struct MapSecrets {
    values: BTreeMap<String, String>,
}

impl MapSecrets {
    /// Holds `values`: each parameter name or secret id with its value.
    pub fn new(values: BTreeMap<String, String>) -> MapSecrets {
        MapSecrets { values }
    }
}

impl SecretSource for MapSecrets {
    fn parameter(&self, name: &str) -> Result<String, String> {
        self.values.get(name).cloned().ok_or_else(|| format!("parameter `{name}` not found"))
    }

    fn secret(&self, reference: &str) -> Result<String, String> {
        let parts = SecretParts::parse(reference);
        let value = self
            .values
            .get(parts.secret_id)
            .ok_or_else(|| format!("secret `{}` not found", parts.secret_id))?;
        if parts.version_stage.is_some_and(|it| it != "AWSCURRENT") || parts.version_id.is_some() {
            return Err(format!(
                "secret `{}`: only the current version (AWSCURRENT) is available locally",
                parts.secret_id
            ));
        }
        let Some(key) = parts.json_key else { return Ok(value.clone()) };
        let document: serde_json::Value = serde_json::from_str(value).map_err(|err| {
            format!(
                "secret `{}` is not a JSON document, so it has no key `{key}`: {err}",
                parts.secret_id
            )
        })?;
        match document.get(key) {
            Some(serde_json::Value::String(it)) => Ok(it.clone()),
            Some(other) => Ok(other.to_string()),
            None => Err(format!("secret `{}` has no JSON key `{key}`", parts.secret_id)),
        }
    }
}

/// The parts of a secrets-manager reference. Empty parts count as absent, as in
/// `my-secret::AWSPREVIOUS` (no JSON key, a version stage).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SecretParts<'a> {
    pub(crate) secret_id: &'a str,
    pub(crate) json_key: Option<&'a str>,
    pub(crate) version_stage: Option<&'a str>,
    pub(crate) version_id: Option<&'a str>,
}

impl<'a> SecretParts<'a> {
    pub(crate) fn parse(reference: &'a str) -> SecretParts<'a> {
        // An ARN holds six colons of its own: arn:aws:secretsmanager:region:account:secret:name.
        let (secret_id, rest) = if reference.starts_with("arn:") {
            let mut cut = reference.match_indices(':').map(|(i, _)| i);
            match cut.nth(6) {
                Some(i) => (&reference[..i], &reference[i + 1..]),
                None => (reference, ""),
            }
        } else {
            reference.split_once(':').unwrap_or((reference, ""))
        };
        let mut rest = rest.split(':').map(|it| Some(it).filter(|it| !it.is_empty()));
        SecretParts {
            secret_id,
            json_key: rest.next().flatten(),
            version_stage: rest.next().flatten(),
            version_id: rest.next().flatten(),
        }
    }
}

#[cfg(test)]
mod tests;
