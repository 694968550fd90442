//! Parameters and secrets that builds read (`env.parameter-store`, `env.secrets-manager`,
//! and project variables of those types), sealed at rest.
//!
//! They are set with the AWS APIs the buildspec names (`aws ssm put-parameter`,
//! `aws secretsmanager create-secret`) or with `slipway parameter put` / `slipway secret put`,
//! and resolved by the server when an agent leases a build.

use engine::store::{Document, Store, StoreError, Write};
use serde_json::{Value, json};

use crate::AppState;
use crate::crypto::SecretBox;
use crate::error::ApiError;

const PARAMETER: &str = "parameter";
const SECRET: &str = "secret";

#[derive(Clone)]
pub(crate) struct SecretsStore {
    store: Store,
    sealer: SecretBox,
}

impl SecretsStore {
    pub(crate) fn new(store: Store, sealer: SecretBox) -> SecretsStore {
        SecretsStore { store, sealer }
    }

    async fn put(
        &self,
        kind: &str,
        name: &str,
        value: &str,
        overwrite: bool,
    ) -> Result<bool, StoreError> {
        let now = engine::clock::now_ms();
        let previous = self.store.get(kind, name).await?;
        let version = previous.as_ref().and_then(|it| it.body["version"].as_i64()).unwrap_or(0) + 1;
        let document = Document {
            kind: kind.to_owned(),
            key: name.to_owned(),
            parent: None,
            sort: now,
            version: 0,
            body: json!({ "name": name, "sealedValue": self.sealer.seal(value), "version": version, "modifiedMs": now }),
        };
        match (previous, overwrite) {
            (Some(_), false) => Ok(false),
            (Some(old), true) => {
                let expected = old.version;
                self.store
                    .apply(vec![Write::Update { document, expected_version: expected }])
                    .await?;
                Ok(true)
            }
            (None, _) => {
                self.store.apply(vec![Write::Insert(document)]).await?;
                Ok(true)
            }
        }
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

    pub(crate) async fn put_parameter(
        &self,
        name: &str,
        value: &str,
        overwrite: bool,
    ) -> Result<bool, StoreError> {
        self.put(PARAMETER, name, value, overwrite).await
    }

    pub(crate) async fn put_secret(
        &self,
        name: &str,
        value: &str,
        overwrite: bool,
    ) -> Result<bool, StoreError> {
        self.put(SECRET, name, value, overwrite).await
    }

    pub(crate) async fn get_parameter(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self.get(PARAMETER, name).await?.map(|(value, _)| value))
    }

    /// A secrets-manager reference `secret-id[:json-key[:version-stage[:version-id]]]`,
    /// resolved as the build will see it: the whole secret or one key of its JSON.
    pub(crate) async fn resolve_secret(
        &self,
        reference: &str,
    ) -> Result<Option<String>, StoreError> {
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
pub(crate) async fn ssm(
    state: &AppState,
    operation: &str,
    input: Value,
) -> Result<Value, ApiError> {
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
            if !state.secrets_store.put_parameter(name, value, overwrite).await? {
                return Err(invalid(
                    "ParameterAlreadyExists",
                    "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.",
                ));
            }
            let version =
                state.secrets_store.get(PARAMETER, name).await?.map_or(1, |(_, version)| version);
            Ok(json!({ "Version": version, "Tier": "Standard" }))
        }
        "GetParameter" => match state.secrets_store.get(PARAMETER, name).await? {
            Some((value, version)) => Ok(
                json!({ "Parameter": { "Name": name, "Type": "SecureString", "Value": value, "Version": version } }),
            ),
            None => Err(invalid("ParameterNotFound", format!("Parameter {name} not found."))),
        },
        "DeleteParameter" => {
            if state.store.get(PARAMETER, name).await?.is_none() {
                return Err(invalid("ParameterNotFound", format!("Parameter {name} not found.")));
            }
            state
                .store
                .apply(vec![Write::Delete { kind: PARAMETER.to_owned(), key: name.to_owned() }])
                .await?;
            Ok(json!({}))
        }
        _ => Err(unknown_operation("SSM", operation)),
    }
}

/// `secretsmanager.*`: CreateSecret, PutSecretValue, GetSecretValue, DeleteSecret.
pub(crate) async fn secrets_manager(
    state: &AppState,
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
    let arn = format!("arn:aws:secretsmanager:{}:{}:secret:{name}", state.region, state.account);
    match operation {
        "CreateSecret" | "PutSecretValue" => {
            let value = input.get("SecretString").and_then(Value::as_str).ok_or_else(|| {
                invalid(
                    "InvalidParameterException",
                    "SecretString is required (binary secrets are not supported)",
                )
            })?;
            let created =
                state.secrets_store.put_secret(&name, value, operation == "PutSecretValue").await?;
            if !created {
                return Err(invalid(
                    "ResourceExistsException",
                    format!("The operation failed because the secret {name} already exists."),
                ));
            }
            Ok(json!({ "ARN": arn, "Name": name, "VersionId": uuid::Uuid::new_v4().to_string() }))
        }
        "GetSecretValue" => match state.secrets_store.get(SECRET, &name).await? {
            Some((value, _)) => Ok(
                json!({ "ARN": arn, "Name": name, "SecretString": value, "VersionStages": ["AWSCURRENT"] }),
            ),
            None => Err(invalid(
                "ResourceNotFoundException",
                "Secrets Manager can't find the specified secret.",
            )),
        },
        "DeleteSecret" => {
            state
                .store
                .apply(vec![Write::Delete { kind: SECRET.to_owned(), key: name.clone() }])
                .await?;
            Ok(json!({ "ARN": arn, "Name": name }))
        }
        _ => Err(unknown_operation("Secrets Manager", operation)),
    }
}
