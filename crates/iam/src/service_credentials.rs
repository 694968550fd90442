//! CodeCommit's HTTPS git credentials as IAM's service-specific credentials:
//! CreateServiceSpecificCredential (`codecommit.amazonaws.com` only),
//! ListServiceSpecificCredentials, ResetServiceSpecificCredential,
//! UpdateServiceSpecificCredential and DeleteServiceSpecificCredential, over the credentials
//! of [`crate::git_credentials`] (the same documents `slipway git-credentials` makes, so each
//! way sees the other's). The `ServiceUserName` is the git user name; the id is the stored
//! `credentialId`, or for credentials made before it was stored one derived from the git
//! user name, the same at every reading.

use awsapi::query::Timestamp;
use awsapi::{ApiError, Caller, ErrorKind};
use engine::kinds::{GIT_CREDENTIAL, USER};
use engine::store::{Document, Write};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::access_keys::Status;
use crate::api::{self, store_error};
use crate::identity::Identity;
use crate::users::user_or_caller;

/// The one service whose credentials this server makes.
pub const CODECOMMIT: &str = "codecommit.amazonaws.com";

/// The most credentials a user has for a service, as IAM's quota.
pub const MAX_CREDENTIALS_PER_SERVICE: usize = 2;

/// IAM's `ServiceSpecificCredential` shape: a new or reset credential, with its password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceSpecificCredential {
    pub create_date: Timestamp,
    pub service_name: String,
    pub service_user_name: String,
    pub service_password: String,
    pub service_specific_credential_id: String,
    pub user_name: String,
    pub status: String,
}

/// IAM's `ServiceSpecificCredentialMetadata` shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceSpecificCredentialMetadata {
    pub user_name: String,
    pub status: String,
    pub service_user_name: String,
    pub create_date: Timestamp,
    pub service_specific_credential_id: String,
    pub service_name: String,
}

/// A credential's id: stored, or derived for those made before ids were stored.
fn credential_id(document: &Document) -> String {
    match document.body["credentialId"].as_str() {
        Some(id) => id.to_owned(),
        None => api::derived_id("ACCA", 21, &format!("git-credential:{}", document.key)),
    }
}

fn metadata(document: &Document) -> ServiceSpecificCredentialMetadata {
    let body = &document.body;
    ServiceSpecificCredentialMetadata {
        user_name: body["userName"].as_str().unwrap_or_default().to_owned(),
        status: if body["status"] == "Active" { "Active" } else { "Inactive" }.to_owned(),
        service_user_name: document.key.clone(),
        create_date: Timestamp(body["createdMs"].as_i64().unwrap_or(document.sort)),
        service_specific_credential_id: credential_id(document),
        service_name: CODECOMMIT.to_owned(),
    }
}

fn with_password(document: &Document, password: String) -> ServiceSpecificCredential {
    let found = metadata(document);
    ServiceSpecificCredential {
        create_date: found.create_date,
        service_name: found.service_name,
        service_user_name: found.service_user_name,
        service_password: password,
        service_specific_credential_id: found.service_specific_credential_id,
        user_name: found.user_name,
        status: found.status,
    }
}

/// `NotSupportedService` (404) unless `service` is CodeCommit.
fn check_service(service: &str) -> Result<(), ApiError> {
    if service == CODECOMMIT {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorKind::EntityNotFound,
        "NotSupportedService",
        format!("The specified service {service} is not supported; only {CODECOMMIT} is."),
    ))
}

impl Identity {
    /// The git credentials of `user`, oldest first; `NoSuchEntity` without such a user.
    async fn credentials_of(&self, user: &str) -> Result<Vec<Document>, ApiError> {
        if self.store.get(USER, user).await.map_err(store_error)?.is_none() {
            return Err(api::no_such_user(user));
        }
        let mut documents =
            self.store.list_all(GIT_CREDENTIAL, Some(user)).await.map_err(store_error)?;
        documents.sort_by(|a, b| (a.sort, &a.key).cmp(&(b.sort, &b.key)));
        Ok(documents)
    }

    /// The credential `id` of `user`, or `NoSuchEntity`.
    async fn credential_of(&self, user: &str, id: &str) -> Result<Document, ApiError> {
        let found = self.credentials_of(user).await?.into_iter().find(|it| credential_id(it) == id);
        found.ok_or_else(|| {
            api::no_such_entity(&format!("No such credential {id} exists for user {user}."))
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateServiceSpecificCredentialRequest {
    pub user_name: String,
    pub service_name: String,
    pub credential_age_days: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceSpecificCredentialResponse {
    pub service_specific_credential: ServiceSpecificCredential,
}

pub async fn create_service_specific_credential(
    identity: &Identity,
    input: CreateServiceSpecificCredentialRequest,
    now: i64,
) -> Result<ServiceSpecificCredentialResponse, ApiError> {
    check_service(&input.service_name)?;
    if input.credential_age_days.is_some() {
        return Err(api::invalid_input(
            "Credentials that expire are not supported on this server.",
        ));
    }
    let user = input.user_name;
    if identity.credentials_of(&user).await?.len() >= MAX_CREDENTIALS_PER_SERVICE {
        return Err(api::limit_exceeded(&format!(
            "Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: \
             {MAX_CREDENTIALS_PER_SERVICE}"
        )));
    }
    let (name, password) = identity.create_git_credentials(&user, now).await?;
    let document = identity.store.get(GIT_CREDENTIAL, &name).await.map_err(store_error)?;
    let document = document.ok_or_else(|| ApiError::internal("a new git credential vanished"))?;
    Ok(ServiceSpecificCredentialResponse {
        service_specific_credential: with_password(&document, password),
    })
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListServiceSpecificCredentialsRequest {
    pub user_name: Option<String>,
    pub service_name: Option<String>,
    pub all_users: Option<bool>,
    pub marker: Option<String>,
    pub max_items: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListServiceSpecificCredentialsResponse {
    pub service_specific_credentials: Vec<ServiceSpecificCredentialMetadata>,
    pub marker: Option<String>,
    pub is_truncated: bool,
}

pub async fn list_service_specific_credentials(
    identity: &Identity,
    caller: &Caller,
    input: ListServiceSpecificCredentialsRequest,
) -> Result<ListServiceSpecificCredentialsResponse, ApiError> {
    if let Some(service) = &input.service_name {
        check_service(service)?;
    }
    let documents = if input.all_users == Some(true) {
        let mut all = identity.store.list_all(GIT_CREDENTIAL, None).await.map_err(store_error)?;
        all.sort_by(|a, b| (a.sort, &a.key).cmp(&(b.sort, &b.key)));
        all
    } else {
        identity.credentials_of(&user_or_caller(input.user_name, caller)?).await?
    };
    let credentials: Vec<_> = documents.iter().map(metadata).collect();
    let (service_specific_credentials, is_truncated, marker) =
        api::page(credentials, input.marker.as_deref(), input.max_items)?;
    Ok(ListServiceSpecificCredentialsResponse {
        service_specific_credentials,
        marker,
        is_truncated,
    })
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResetServiceSpecificCredentialRequest {
    pub user_name: Option<String>,
    pub service_specific_credential_id: String,
}

/// A new password for the credential, which keeps its git user name and id.
pub async fn reset_service_specific_credential(
    identity: &Identity,
    caller: &Caller,
    input: ResetServiceSpecificCredentialRequest,
) -> Result<ServiceSpecificCredentialResponse, ApiError> {
    let user = user_or_caller(input.user_name, caller)?;
    let document = identity.credential_of(&user, &input.service_specific_credential_id).await?;
    let version = document.version;
    let (mut document, password) = Identity::new_password(document);
    // Written with its id, so that a derived one stays the same.
    document.body["credentialId"] = json!(credential_id(&document));
    identity
        .store
        .apply(vec![Write::Update { document: document.clone(), expected_version: version }])
        .await
        .map_err(store_error)?;
    Ok(ServiceSpecificCredentialResponse {
        service_specific_credential: with_password(&document, password),
    })
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateServiceSpecificCredentialRequest {
    pub user_name: Option<String>,
    pub service_specific_credential_id: String,
    pub status: Status,
}

pub async fn update_service_specific_credential(
    identity: &Identity,
    caller: &Caller,
    input: UpdateServiceSpecificCredentialRequest,
) -> Result<(), ApiError> {
    let user = user_or_caller(input.user_name, caller)?;
    let mut document = identity.credential_of(&user, &input.service_specific_credential_id).await?;
    document.body["credentialId"] = json!(credential_id(&document));
    api::set_status(&identity.store, document, input.status.as_str()).await.map_err(store_error)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteServiceSpecificCredentialRequest {
    pub user_name: Option<String>,
    pub service_specific_credential_id: String,
}

pub async fn delete_service_specific_credential(
    identity: &Identity,
    caller: &Caller,
    input: DeleteServiceSpecificCredentialRequest,
) -> Result<(), ApiError> {
    let user = user_or_caller(input.user_name, caller)?;
    let document = identity.credential_of(&user, &input.service_specific_credential_id).await?;
    let version = document.version;
    let key = document.key.clone();
    identity
        .store
        .apply(vec![
            Write::Update { document, expected_version: version },
            Write::Delete { kind: GIT_CREDENTIAL.to_owned(), key },
        ])
        .await
        .map_err(store_error)
}

#[cfg(test)]
mod tests;
