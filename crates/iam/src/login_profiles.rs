//! Console passwords as IAM's login profiles: CreateLoginProfile, GetLoginProfile,
//! UpdateLoginProfile and DeleteLoginProfile (which DeleteUser asks for first), over the hash
//! `slipway user set-password` keeps in the user's document (`consolePasswordHash`, with
//! `consolePasswordDate` when the API set it). Deleting the profile ends the user's console
//! sessions in the same transaction.

use awsapi::query::Timestamp;
use awsapi::{ApiError, Caller};
use engine::kinds::{CONSOLE_SESSION, USER};
use engine::store::{Document, Write};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::api::{self, store_error};
use crate::identity::{Identity, PASSWORD_HASH, checked_hash};
use crate::users::user_or_caller;

/// The field of a user's document with the time its console password was set.
const PASSWORD_DATE: &str = "consolePasswordDate";

/// IAM's `LoginProfile` shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoginProfile {
    pub user_name: String,
    pub create_date: Timestamp,
    pub password_reset_required: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoginProfileResponse {
    pub login_profile: LoginProfile,
}

fn profile(document: &Document) -> LoginProfile {
    let body = &document.body;
    let date = body[PASSWORD_DATE].as_i64().or(body["createDate"].as_i64());
    LoginProfile {
        user_name: document.key.clone(),
        create_date: Timestamp(date.unwrap_or(document.sort)),
        password_reset_required: false,
    }
}

fn no_profile(user: &str) -> ApiError {
    api::no_such_entity(&format!("Login Profile for User {user} cannot be found."))
}

impl Identity {
    async fn user_document(&self, user: &str) -> Result<Document, ApiError> {
        let document = self.store.get(USER, user).await.map_err(store_error)?;
        document.ok_or_else(|| api::no_such_user(user))
    }
}

/// Checks the password and hashes it, before anything is read (hashing is slow).
async fn hash(password: Option<&str>) -> Result<String, ApiError> {
    checked_hash(password.unwrap_or_default()).await.map_err(|err| {
        ApiError::client(
            "PasswordPolicyViolation",
            format!("Password does not conform to the account password policy: {err}."),
        )
    })
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateLoginProfileRequest {
    pub user_name: Option<String>,
    pub password: Option<String>,
    pub password_reset_required: Option<bool>,
}

pub async fn create_login_profile(
    identity: &Identity,
    caller: &Caller,
    input: CreateLoginProfileRequest,
    now: i64,
) -> Result<LoginProfileResponse, ApiError> {
    let user = user_or_caller(input.user_name, caller)?;
    let hashed = hash(input.password.as_deref()).await?;
    let mut document = identity.user_document(&user).await?;
    if document.body[PASSWORD_HASH].is_string() {
        return Err(api::entity_exists(&format!("Login Profile for user {user} already exists.")));
    }
    let version = document.version;
    document.body[PASSWORD_HASH] = json!(hashed);
    document.body[PASSWORD_DATE] = json!(now);
    let login_profile = profile(&document);
    identity
        .store
        .apply(vec![Write::Update { document, expected_version: version }])
        .await
        .map_err(store_error)?;
    Ok(LoginProfileResponse { login_profile })
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetLoginProfileRequest {
    pub user_name: Option<String>,
}

pub async fn get_login_profile(
    identity: &Identity,
    caller: &Caller,
    input: GetLoginProfileRequest,
) -> Result<LoginProfileResponse, ApiError> {
    let user = user_or_caller(input.user_name, caller)?;
    let document = identity.user_document(&user).await?;
    if !document.body[PASSWORD_HASH].is_string() {
        return Err(no_profile(&user));
    }
    Ok(LoginProfileResponse { login_profile: profile(&document) })
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateLoginProfileRequest {
    pub user_name: String,
    pub password: Option<String>,
    pub password_reset_required: Option<bool>,
}

/// A new console password for a user that has one (without `Password`, nothing changes).
pub async fn update_login_profile(
    identity: &Identity,
    input: UpdateLoginProfileRequest,
    now: i64,
) -> Result<(), ApiError> {
    let user = input.user_name;
    let hashed = match input.password.as_deref() {
        Some(password) => Some(hash(Some(password)).await?),
        None => None,
    };
    let mut document = identity.user_document(&user).await?;
    if !document.body[PASSWORD_HASH].is_string() {
        return Err(no_profile(&user));
    }
    let Some(hashed) = hashed else { return Ok(()) };
    let version = document.version;
    document.body[PASSWORD_HASH] = json!(hashed);
    document.body[PASSWORD_DATE] = json!(now);
    identity
        .store
        .apply(vec![Write::Update { document, expected_version: version }])
        .await
        .map_err(store_error)
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteLoginProfileRequest {
    pub user_name: Option<String>,
}

pub async fn delete_login_profile(
    identity: &Identity,
    caller: &Caller,
    input: DeleteLoginProfileRequest,
) -> Result<(), ApiError> {
    let user = user_or_caller(input.user_name, caller)?;
    let mut document = identity.user_document(&user).await?;
    let Some(body) = document.body.as_object_mut() else { return Err(no_profile(&user)) };
    if body.remove(PASSWORD_HASH).is_none() {
        return Err(no_profile(&user));
    }
    body.remove(PASSWORD_DATE);
    let version = document.version;
    identity
        .store
        .apply(vec![
            Write::Update { document, expected_version: version },
            Write::DeleteChildren { kind: CONSOLE_SESSION.to_owned(), parent: user },
        ])
        .await
        .map_err(store_error)
}

#[cfg(test)]
mod tests;
