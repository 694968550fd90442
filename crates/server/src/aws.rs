//! The AWS JSON 1.1 protocol: `POST /` with `X-Amz-Target`, signed with SigV4.
//!
//! One entry point for every service: it finds the service and operation from the target,
//! verifies the signature for that service, parses the body and calls the service's handler.
//! Nothing happens unless the signature is valid (`shared/reference/aws-formats.md` §7).
//! Form-encoded Query requests (STS, IAM) and S3 requests answer in XML, as their clients
//! expect ([`query`]); every failure of `POST /` answers in its protocol's error shape.

use awsapi::sigv4;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::audit;
use crate::auth::{self, AuthError, Principal, RequestParts};
use crate::error::{ApiError, ErrorKind, body_kind, json_response};
use crate::{AppState, secrets_store};

/// The services this server speaks, by their `X-Amz-Target` prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    CodeBuild,
    CodeCommit,
    Ssm,
    SecretsManager,
    CloudTrail,
}

impl Service {
    fn from_target_prefix(prefix: &str) -> Option<Service> {
        match prefix {
            "CodeBuild_20161006" => Some(Service::CodeBuild),
            "CodeCommit_20150413" => Some(Service::CodeCommit),
            "AmazonSSM" => Some(Service::Ssm),
            "secretsmanager" => Some(Service::SecretsManager),
            "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101" => Some(Service::CloudTrail),
            _ => None,
        }
    }

    /// The SigV4 signing name.
    fn signing_name(self) -> &'static str {
        match self {
            Service::CodeBuild => "codebuild",
            Service::CodeCommit => "codecommit",
            Service::Ssm => "ssm",
            Service::SecretsManager => "secretsmanager",
            Service::CloudTrail => "cloudtrail",
        }
    }
}

pub(crate) use awsapi::Caller;

/// Services whose clients exist but which this server does not have yet, by their
/// `X-Amz-Target` prefix.
const NOT_YET: &[(&str, &str)] =
    &[("CodePipeline_20150709", "CodePipeline"), ("CodeDeploy_20141006", "CodeDeploy")];

pub(crate) async fn handle(
    State(state): State<AppState>,
    peer: audit::Peer,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let origin = audit::Origin::of(&headers, &peer);
    if query::is_query_request(&headers) {
        return query::handle(&state, &method, &uri, &headers, body, &request_id, &origin).await;
    }
    let mut call = audit::ApiCall::default();
    let result = match body {
        Ok(body) => dispatch(&state, &method, &uri, &headers, &body, &origin, &mut call).await,
        Err(rejection) => Err(body_rejected(&headers, &rejection)),
    };
    call.record(&state, &headers, &origin, &request_id, result.as_ref().err());
    let mut response = match result {
        Ok(output) => {
            let mut response = (StatusCode::OK, output).into_response();
            response
                .headers_mut()
                .insert("content-type", HeaderValue::from_static(awsapi::json::CONTENT_TYPE));
            response
        }
        Err(err) => json_response(&err),
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amzn-requestid", value);
    }
    response
}

async fn dispatch(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    origin: &audit::Origin,
    call: &mut audit::ApiCall,
) -> Result<String, ApiError> {
    let target = headers.get("x-amz-target").and_then(|it| it.to_str().ok()).unwrap_or_default();
    // The operation follows the last dot (CloudTrail's prefix has dots of its own).
    let (prefix, operation) = target.rsplit_once('.').unwrap_or((target, ""));
    let Some(service) = Service::from_target_prefix(prefix).filter(|_| !operation.is_empty())
    else {
        if let Some((_, name)) = NOT_YET.iter().find(|(known, _)| *known == prefix) {
            return Err(ApiError::client(
                "UnknownOperationException",
                format!("{name} is not available on this server yet (operation {operation})."),
            ));
        }
        let message = if target.is_empty() {
            "Unknown operation: the request has no X-Amz-Target header.".to_owned()
        } else {
            format!("Unknown operation: {target}")
        };
        return Err(ApiError::client("UnknownOperationException", message));
    };
    (call.signing_name, call.operation) = (service.signing_name(), operation.to_owned());
    let (principal, caller) =
        authenticate(state, service.signing_name(), method, uri, headers, body).await?;
    call.identity = Some(audit::identity(state, &principal).await);
    let input = awsapi::json::input(body)?;
    call.parameters = Some(input.clone());
    if let Some(facts) = request_facts(state, service.signing_name(), operation, &input).await? {
        // The resources the event names are those authorization asked for.
        call.resources.clone_from(&facts.resources);
        authorize_facts(state, &principal, &facts.arrived(origin.arrival())).await?;
    }
    tracing::debug!(user = %caller.user, %target, "API call");
    let output = match service {
        Service::CodeBuild => return codebuild::call(state, &caller, operation, input).await,
        Service::CodeCommit => self::codecommit::call(state, &caller, operation, input).await,
        Service::Ssm => secrets_store::ssm(&state.secrets_store, operation, input).await,
        Service::SecretsManager => {
            let secrets = &state.secrets_store;
            secrets_store::secrets_manager(secrets, &state.region, &state.account, operation, input)
                .await
        }
        Service::CloudTrail => self::cloudtrail::call(state, operation, input).await,
    }?;
    Ok(output.to_string())
}

/// A body axum could not read (too large, broken off) as the JSON protocol's error.
fn body_rejected(headers: &HeaderMap, rejection: &BytesRejection) -> ApiError {
    let status = rejection.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        let target = headers.get("x-amz-target").and_then(|it| it.to_str().ok());
        return crate::request_limits::too_large(target.unwrap_or_default());
    }
    let code = "SerializationException";
    ApiError::new(
        body_kind(status),
        code,
        format!("The request body could not be read: {}", rejection.body_text()),
    )
}

/// Verifies the request's signature for the signing name `service` and this server's region
/// (through `crate::auth`, the one authentication path): the principal, and the caller the
/// services see.
pub(crate) async fn authenticate(
    state: &AppState,
    service: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Principal, Caller), ApiError> {
    let request = RequestParts::new(method, uri, headers, body);
    let route = auth::Route::Aws { signing_name: service };
    let principal = match auth::authenticate(state, route, &request).await {
        Ok(principal) => principal,
        Err(AuthError::Signature(err)) => {
            let kind = match err {
                awsapi::sigv4::SignatureError::Missing => ErrorKind::Unauthenticated,
                _ => ErrorKind::Client,
            };
            return Err(ApiError::new(kind, err.code(), err.to_string()));
        }
        Err(err) => return Err(ApiError::internal(err)),
    };
    let access_key_id = match &principal {
        Principal::User {
            via: auth::SignIn::SigV4 { access_key_id } | auth::SignIn::Session { access_key_id, .. },
            ..
        } => access_key_id.clone(),
        _ => String::new(),
    };
    let host =
        headers.get("host").and_then(|it| it.to_str().ok()).unwrap_or("127.0.0.1").to_owned();
    let caller = Caller { user: principal.acting_user(), access_key_id, host };
    Ok((principal, caller))
}

/// The one authorization call of an AWS operation: what it asks ([`request_facts`]), with the
/// keys of how the request arrived (`aws:SourceIp`, `aws:SecureTransport`), decided by
/// [`auth::authorize`]; a refusal is AWS's `AccessDeniedException`. An operation the Service
/// Authorization Reference does not know is no operation of the service: nothing is
/// authorized, and the service answers it as unknown.
pub(crate) async fn authorize(
    state: &AppState,
    principal: &Principal,
    signing_name: &str,
    operation: &str,
    input: &Value,
    arrival: auth::facts::Arrival<'_>,
) -> Result<(), ApiError> {
    match request_facts(state, signing_name, operation, input).await? {
        Some(facts) => authorize_facts(state, principal, &facts.arrived(arrival)).await,
        None => Ok(()),
    }
}

/// [`authorize`]'s decision once the request's facts are known.
async fn authorize_facts(
    state: &AppState,
    principal: &Principal,
    facts: &auth::RequestFacts,
) -> Result<(), ApiError> {
    auth::authorize(state, principal, facts)
        .await
        .map_err(|denied| ApiError::client("AccessDeniedException", denied.message))
}

/// What an AWS operation asks ([`auth::facts`]: AWS's action, every resource its input
/// names, its condition keys); an operation naming a pull request by id has its repository
/// and destination branch read from the store first. `None` for an operation the reference
/// does not know.
pub(crate) async fn request_facts(
    state: &AppState,
    signing_name: &str,
    operation: &str,
    input: &Value,
) -> Result<Option<auth::RequestFacts>, ApiError> {
    let pull_request = match auth::facts::pull_request_id(signing_name, input) {
        Some(id) => state
            .store
            .get(engine::kinds::PULL_REQUEST, id)
            .await
            .map_err(ApiError::internal)?
            .map(|document| auth::facts::PullRequest::from_body(&document.body)),
        None => None,
    };
    let place = auth::place(state);
    match auth::facts::json_request(place, signing_name, operation, input, pull_request.as_ref()) {
        Ok(facts) => Ok(Some(facts)),
        Err(auth::facts::FactsError::UnknownOperation { .. }) => Ok(None),
        Err(err) => Err(ApiError::internal(err)),
    }
}

/// The service a request's credential scope names (`…/<date>/<region>/<service>/aws4_request`
/// in the `Authorization` header or a presigned URL's `X-Amz-Credential`), if any.
pub(crate) fn scope_service<'a>(headers: &'a HeaderMap, uri: &'a Uri) -> Option<&'a str> {
    let authorization = headers.get("authorization").and_then(|it| it.to_str().ok());
    sigv4::scope_service(authorization, uri.query())
}

pub(crate) mod cloudtrail;
pub(crate) mod codebuild;
pub(crate) mod codecommit;
mod iam;
mod query;
pub(crate) mod s3;
mod sts;

#[cfg(test)]
mod tests;
