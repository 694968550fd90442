//! The STS operation table (Query protocol, SigV4 service `sts`): GetCallerIdentity (no
//! permission needed, as on AWS), AssumeRole (the caller's identity policies must allow
//! `sts:AssumeRole` on the role, then `iam::sessions` checks the role's trust policy) and
//! GetSessionToken (a user's long-term key only; refused only by an explicit deny, as on AWS).
//! The temporary credentials they hand out are honoured by SigV4 everywhere (`crate::auth`).

use awsapi::query::{STS_NAMESPACE, input, response};
use iam::sessions::{self, ActsAs};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::{self, Principal, SignIn};
use crate::error::{ApiError, ErrorKind};

pub(crate) async fn call(
    state: &AppState,
    principal: &Principal,
    action: &str,
    form: &[(String, String)],
    request_id: &str,
) -> Result<String, ApiError> {
    let now = engine::clock::now_ms();
    match action {
        "GetCallerIdentity" => {
            let GetCallerIdentityRequest {} = input(form)?;
            let result = get_caller_identity(state, principal).await;
            response(STS_NAMESPACE, action, Some(&result), request_id)
        }
        "AssumeRole" => {
            let request: sessions::AssumeRoleRequest = input(form)?;
            sessions::check_assume_role(&request)?;
            let role_arn = request.role_arn.clone();
            let assume = sts_action(action)?;
            auth::authorize_request(state, principal, &assume, &[role_arn], &[]).await.map_err(
                |denied| ApiError::new(ErrorKind::Forbidden, "AccessDenied", denied.message),
            )?;
            let Some(caller) = auth::policy_principal(state, principal).await else {
                let arn = awsapi::arn::iam_user(&state.account, &principal.acting_user());
                return Err(sessions::assume_role_denied(&arn, &request.role_arn));
            };
            let mut context = request_context(now);
            // Role chaining: a role's session assumes another role, as its role's ARN.
            let chained = match principal {
                Principal::User { via: SignIn::Session { session, .. }, .. } => {
                    match &session.acts_as {
                        ActsAs::Role { role_arn, .. } => {
                            context.insert("aws:PrincipalArn", role_arn.clone());
                            true
                        }
                        ActsAs::User { .. } => false,
                    }
                }
                _ => false,
            };
            let result =
                sessions::assume_role(&state.identity, &caller, chained, &context, request, now)
                    .await?;
            response(STS_NAMESPACE, action, Some(&result), request_id)
        }
        "GetSessionToken" => {
            let request: sessions::GetSessionTokenRequest = input(form)?;
            sessions::check_get_session_token(&request)?;
            let Principal::User { name, via: SignIn::SigV4 { .. }, .. } = principal else {
                return Err(sessions::session_token_from_session());
            };
            explicitly_denied(state, name, now).await?;
            let result = sessions::get_session_token(&state.identity, name, request, now).await?;
            response(STS_NAMESPACE, action, Some(&result), request_id)
        }
        _ => Err(ApiError::client(
            "InvalidAction",
            format!(
                "STS's {action} is not available on this server yet; only GetCallerIdentity, \
                 AssumeRole and GetSessionToken are."
            ),
        )),
    }
}

/// The action an STS operation is authorized as, from the catalog (`sts:AssumeRole`).
fn sts_action(operation: &str) -> Result<String, ApiError> {
    iam::catalog::action_for_operation("sts", operation)
        .map(|it| it.full_name())
        .ok_or_else(|| ApiError::internal(format!("the catalog has no STS action for {operation}")))
}

/// The global keys a trust policy's conditions read.
fn request_context(now_ms: i64) -> iam::policy::Context {
    let mut context = iam::policy::Context::new();
    context.insert("aws:SecureTransport", "false");
    context.insert("aws:MultiFactorAuthPresent", "false");
    context.set_time(now_ms.div_euclid(1000));
    context
}

/// GetSessionToken needs no permission, but an explicit deny of `sts:GetSessionToken` in the
/// user's policies refuses it (IAM User Guide, "Permissions for GetSessionToken").
async fn explicitly_denied(state: &AppState, user: &str, now_ms: i64) -> Result<(), ApiError> {
    let action = sts_action("GetSessionToken")?;
    let action = action.as_str();
    let Some(policies) = state.identity.user_policies(user, now_ms).await? else {
        return Ok(());
    };
    let context = request_context(now_ms);
    let evaluation = policies.evaluate(action, "*", &context);
    if evaluation.decision != iam::policy::Decision::ExplicitDeny {
        return Ok(());
    }
    let message = iam::policy::refusal_message(
        &policies.principal.arn,
        action,
        "*",
        iam::policy::Decision::ExplicitDeny,
    )
    .unwrap_or_default();
    Err(ApiError::new(ErrorKind::Forbidden, "AccessDenied", message))
}

/// STS's `GetCallerIdentity` input: no members.
#[derive(Deserialize)]
struct GetCallerIdentityRequest {}

/// STS's `GetCallerIdentity` output.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetCallerIdentityResult {
    arn: String,
    /// The user's id (`AIDA…`), or a role session's `AROA…:<session name>`.
    user_id: String,
    account: String,
}

/// Who signed: a user's ARN (with its path) and id, or a role session's assumed-role ARN and
/// `AROA…:<session>`; and the account.
async fn get_caller_identity(state: &AppState, principal: &Principal) -> GetCallerIdentityResult {
    let account = state.account.clone();
    let Some(caller) = auth::policy_principal(state, principal).await else {
        // A user gone since their key was read: who they were.
        let name = principal.acting_user();
        let arn = awsapi::arn::iam_user(&state.account, &name);
        return GetCallerIdentityResult { arn, user_id: name, account };
    };
    GetCallerIdentityResult { arn: caller.arn, user_id: caller.user_id, account }
}
