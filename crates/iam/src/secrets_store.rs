//! Parameters and secrets that builds read (`env.parameter-store`, `env.secrets-manager`,
//! and project variables of those types), sealed at rest.
//!
//! They are set with the AWS APIs the buildspec names (`aws ssm put-parameter`,
//! `aws secretsmanager create-secret`) or with `slipway parameter put` / `slipway secret put`,
//! and resolved by the server when an agent leases a build.

use engine::store::{Document, Store, StoreError, Write};
use serde_json::{Value, json};

use crate::crypto::SecretBox;
use awsapi::ApiError;
use engine::kinds::{PARAMETER, SECRET};

/// What a write of a parameter or secret did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// Written, with this version.
    Written(i64),
    /// Not written: the name exists and overwriting was not asked for.
    Exists,
    /// Not written: other writes of the name kept getting there first.
    Busy,
}

#[derive(Clone)]
pub struct SecretsStore {
    store: Store,
    sealer: SecretBox,
}

impl SecretsStore {
    pub fn new(store: Store, sealer: SecretBox) -> SecretsStore {
        SecretsStore { store, sealer }
    }

    /// Writes `name`'s value: what happened, with the version written. Parallel writers of
    /// one name each get an answer: a creation that lost to another is an overwrite (or
    /// `Exists`), an overwrite that lost is tried again on the newer version, and a name
    /// that keeps changing under it is `Busy` (AWS's `TooManyUpdates`).
    async fn put(
        &self,
        kind: &str,
        name: &str,
        value: &str,
        overwrite: bool,
    ) -> Result<Put, StoreError> {
        const ATTEMPTS: usize = 10;
        for _ in 0..ATTEMPTS {
            let now = engine::clock::now_ms();
            let previous = self.store.get(kind, name).await?;
            let version =
                previous.as_ref().and_then(|it| it.body["version"].as_i64()).unwrap_or(0) + 1;
            let document = Document {
                kind: kind.to_owned(),
                key: name.to_owned(),
                parent: None,
                sort: now,
                version: 0,
                body: json!({ "name": name, "sealedValue": self.sealer.seal(value), "version": version, "modifiedMs": now }),
            };
            let write = match (previous, overwrite) {
                (Some(_), false) => return Ok(Put::Exists),
                (Some(old), true) => Write::Update { document, expected_version: old.version },
                (None, _) => Write::Insert(document),
            };
            match self.store.apply(vec![write]).await {
                Ok(()) => return Ok(Put::Written(version)),
                Err(StoreError::AlreadyExists { .. } | StoreError::Conflict { .. }) => {}
                Err(StoreError::NotFound { .. }) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(Put::Busy)
    }

    async fn get(&self, kind: &str, name: &str) -> Result<Option<(String, i64)>, StoreError> {
        let Some(document) = self.store.get(kind, name).await? else { return Ok(None) };
        let sealed = document.body["sealedValue"].as_str().unwrap_or_default();
        match self.sealer.open(sealed) {
            Ok(value) => Ok(Some((value, document.body["version"].as_i64().unwrap_or(1)))),
            Err(err) => {
                tracing::error!(%kind, %name, %err, "cannot open a stored secret");
                Ok(None)
            }
        }
    }

    pub async fn put_parameter(
        &self,
        name: &str,
        value: &str,
        overwrite: bool,
    ) -> Result<Put, StoreError> {
        self.put(PARAMETER, name, value, overwrite).await
    }

    pub async fn put_secret(
        &self,
        name: &str,
        value: &str,
        overwrite: bool,
    ) -> Result<Put, StoreError> {
        self.put(SECRET, name, value, overwrite).await
    }

    pub async fn get_parameter(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self.get(PARAMETER, name).await?.map(|(value, _)| value))
    }

    /// A secrets-manager reference `secret-id[:json-key[:version-stage[:version-id]]]`,
    /// resolved as the build will see it: the whole secret or one key of its JSON.
    pub async fn resolve_secret(&self, reference: &str) -> Result<Option<String>, StoreError> {
        let (id, json_key) = split_reference(reference);
        let Some((value, _)) = self.get(SECRET, id).await? else { return Ok(None) };
        let Some(key) = json_key else { return Ok(Some(value)) };
        let document: Value = match serde_json::from_str(&value) {
            Ok(document) => document,
            Err(_) => return Ok(None),
        };
        Ok(match document.get(key) {
            Some(Value::String(it)) => Some(it.clone()),
            Some(other) => Some(other.to_string()),
            None => None,
        })
    }
}

/// The name of the secret a secrets-manager reference reads (its ARN is
/// `arn:aws:secretsmanager:<region>:<account>:secret:<name>`, as Secrets Manager answers here).
pub fn secret_name(reference: &str) -> &str {
    split_reference(reference).0
}

/// The secret id and JSON key of a reference. The id may be an ARN, which holds colons.
fn split_reference(reference: &str) -> (&str, Option<&str>) {
    let (id, rest) = if reference.starts_with("arn:") {
        match reference.match_indices(':').nth(6) {
            Some((i, _)) => (&reference[..i], &reference[i + 1..]),
            None => (reference, ""),
        }
    } else {
        reference.split_once(':').unwrap_or((reference, ""))
    };
    // A secret named by ARN is stored under its name (the last part, without AWS's suffix).
    let id = id.rsplit_once(":secret:").map_or(id, |(_, name)| name);
    (id, rest.split(':').next().filter(|it| !it.is_empty()))
}

/// SSM's bounds on a parameter name: at most 2048 characters, letters, digits and `_.-`
/// in `/`-separated levels (at most 15), not beginning with `aws` or `ssm`.
fn check_parameter_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() || name.chars().count() > 2048 {
        return Err(invalid(
            "ValidationException",
            "1 validation error detected: Value at 'name' failed to satisfy constraint: Member must have length between 1 and 2048",
        ));
    }
    let bare = name.strip_prefix('/').unwrap_or(name).to_ascii_lowercase();
    let valid = name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c))
        && !bare.starts_with("aws")
        && !bare.starts_with("ssm")
        && name.matches('/').count() <= 15;
    if valid {
        Ok(())
    } else {
        Err(invalid(
            "ValidationException",
            "Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_",
        ))
    }
}

/// Secrets Manager's bounds on a secret name: 1 to 512 of letters, digits and `/_+=.@-`.
fn check_secret_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() || name.chars().count() > 512 {
        return Err(invalid(
            "ValidationException",
            "1 validation error detected: Value at 'name' failed to satisfy constraint: Member must have length between 1 and 512",
        ));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c)) {
        return Err(invalid(
            "ValidationException",
            "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: /_+=.@-",
        ));
    }
    Ok(())
}

fn invalid(code: &str, message: impl Into<String>) -> ApiError {
    ApiError::client(code, message)
}

/// The error for an operation of `service` that this server does not implement; it is
/// answered before the input is looked at, whatever the input holds.
fn unknown_operation(service: &str, operation: &str) -> ApiError {
    invalid(
        "UnknownOperationException",
        format!("Slipway does not implement the {service} operation {operation}"),
    )
}

/// `AmazonSSM.*`: PutParameter, GetParameter, DeleteParameter.
pub async fn ssm(secrets: &SecretsStore, operation: &str, input: Value) -> Result<Value, ApiError> {
    if !["PutParameter", "GetParameter", "DeleteParameter"].contains(&operation) {
        return Err(unknown_operation("SSM", operation));
    }
    let name = input
        .get("Name")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("ValidationException", "Name is required"))?;
    match operation {
        "PutParameter" => {
            let value = input
                .get("Value")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("ValidationException", "Value is required"))?;
            let overwrite = input.get("Overwrite").and_then(Value::as_bool).unwrap_or(false);
            check_parameter_name(name)?;
            match secrets.put_parameter(name, value, overwrite).await? {
                Put::Written(version) => Ok(json!({ "Version": version, "Tier": "Standard" })),
                Put::Exists => Err(invalid(
                    "ParameterAlreadyExists",
                    "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.",
                )),
                Put::Busy => Err(invalid(
                    "TooManyUpdates",
                    "There are concurrent updates for a resource that supports one update at a time.",
                )),
            }
        }
        "GetParameter" => match secrets.get(PARAMETER, name).await? {
            Some((value, version)) => Ok(
                json!({ "Parameter": { "Name": name, "Type": "SecureString", "Value": value, "Version": version } }),
            ),
            None => Err(invalid("ParameterNotFound", format!("Parameter {name} not found."))),
        },
        "DeleteParameter" => {
            if secrets.store.get(PARAMETER, name).await?.is_none() {
                return Err(invalid("ParameterNotFound", format!("Parameter {name} not found.")));
            }
            secrets
                .store
                .apply(vec![Write::Delete { kind: PARAMETER.to_owned(), key: name.to_owned() }])
                .await?;
            Ok(json!({}))
        }
        _ => Err(unknown_operation("SSM", operation)),
    }
}

/// `secretsmanager.*`: CreateSecret, PutSecretValue, GetSecretValue, DeleteSecret.
pub async fn secrets_manager(
    secrets: &SecretsStore,
    region: &str,
    account: &str,
    operation: &str,
    input: Value,
) -> Result<Value, ApiError> {
    if !["CreateSecret", "PutSecretValue", "GetSecretValue", "DeleteSecret"].contains(&operation) {
        return Err(unknown_operation("Secrets Manager", operation));
    }
    let field = if operation == "CreateSecret" { "Name" } else { "SecretId" };
    let name = input
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("InvalidParameterException", format!("{field} is required")))?;
    let name = split_reference(name).0.to_owned();
    let arn = awsapi::arn::arn("secretsmanager", region, account, &format!("secret:{name}"));
    match operation {
        "CreateSecret" | "PutSecretValue" => {
            let value = input.get("SecretString").and_then(Value::as_str).ok_or_else(|| {
                invalid(
                    "InvalidParameterException",
                    "SecretString is required (binary secrets are not supported)",
                )
            })?;
            check_secret_name(&name)?;
            match secrets.put_secret(&name, value, operation == "PutSecretValue").await? {
                Put::Written(_) => Ok(
                    json!({ "ARN": arn, "Name": name, "VersionId": uuid::Uuid::new_v4().to_string() }),
                ),
                Put::Exists => Err(invalid(
                    "ResourceExistsException",
                    format!("The operation failed because the secret {name} already exists."),
                )),
                // Secrets Manager's answer to a secret changed by another request meanwhile.
                Put::Busy => Err(invalid(
                    "InternalServiceError",
                    format!("The secret {name} is being changed by another request; try again."),
                )),
            }
        }
        "GetSecretValue" => match secrets.get(SECRET, &name).await? {
            Some((value, _)) => Ok(
                json!({ "ARN": arn, "Name": name, "SecretString": value, "VersionStages": ["AWSCURRENT"] }),
            ),
            None => Err(invalid(
                "ResourceNotFoundException",
                "Secrets Manager can't find the specified secret.",
            )),
        },
        "DeleteSecret" => {
            secrets
                .store
                .apply(vec![Write::Delete { kind: SECRET.to_owned(), key: name.clone() }])
                .await?;
            Ok(json!({ "ARN": arn, "Name": name }))
        }
        _ => Err(unknown_operation("Secrets Manager", operation)),
    }
}

#[cfg(test)]
mod tests;
