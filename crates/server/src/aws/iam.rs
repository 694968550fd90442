//! The IAM operation table (Query protocol, SigV4 service `iam`): each action's form members
//! are decoded into its typed input (`awsapi::query::input`), authorized as the catalog's
//! action for the operation (`iam::catalog::action_for_operation`) on the user, group, role
//! or policy it names (IAM's ARNs, with their paths), go to their function in the `iam` crate
//! at the one reading of the clock for the request, and their typed output answers as IAM's
//! XML. GetAccessKeyLastUsed reads the key's last use from the audit trail.

use ::iam::{
    access_keys, authorization_details, groups, login_profiles, policies, roles,
    service_credentials as credentials, simulation, ssh_keys, users,
};
use awsapi::query::{IAM_NAMESPACE, input, response};
use serde::Serialize;

use crate::AppState;
use crate::auth::{self, Principal};
use crate::aws::Caller;
use crate::error::{ApiError, ErrorKind};

/// The actions this server implements.
const ACTIONS: &[&str] = &[
    "CreateUser",
    "GetUser",
    "ListUsers",
    "UpdateUser",
    "DeleteUser",
    "TagUser",
    "UntagUser",
    "ListUserTags",
    "CreateAccessKey",
    "ListAccessKeys",
    "UpdateAccessKey",
    "DeleteAccessKey",
    "GetAccessKeyLastUsed",
    "CreateLoginProfile",
    "GetLoginProfile",
    "UpdateLoginProfile",
    "DeleteLoginProfile",
    "CreateGroup",
    "GetGroup",
    "ListGroups",
    "ListGroupsForUser",
    "AddUserToGroup",
    "RemoveUserFromGroup",
    "DeleteGroup",
    "UploadSSHPublicKey",
    "ListSSHPublicKeys",
    "GetSSHPublicKey",
    "UpdateSSHPublicKey",
    "DeleteSSHPublicKey",
    "CreateServiceSpecificCredential",
    "ListServiceSpecificCredentials",
    "ResetServiceSpecificCredential",
    "UpdateServiceSpecificCredential",
    "DeleteServiceSpecificCredential",
    // Policies, roles and the simulator.
    "CreatePolicy",
    "GetPolicy",
    "ListPolicies",
    "CreatePolicyVersion",
    "GetPolicyVersion",
    "ListPolicyVersions",
    "SetDefaultPolicyVersion",
    "DeletePolicyVersion",
    "DeletePolicy",
    "AttachUserPolicy",
    "DetachUserPolicy",
    "AttachGroupPolicy",
    "DetachGroupPolicy",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "ListAttachedUserPolicies",
    "ListAttachedGroupPolicies",
    "ListAttachedRolePolicies",
    "ListEntitiesForPolicy",
    "PutUserPolicy",
    "GetUserPolicy",
    "DeleteUserPolicy",
    "ListUserPolicies",
    "PutGroupPolicy",
    "GetGroupPolicy",
    "DeleteGroupPolicy",
    "ListGroupPolicies",
    "PutRolePolicy",
    "GetRolePolicy",
    "DeleteRolePolicy",
    "ListRolePolicies",
    "CreateRole",
    "GetRole",
    "ListRoles",
    "DeleteRole",
    "UpdateAssumeRolePolicy",
    "TagRole",
    "UntagRole",
    "ListRoleTags",
    "GetAccountAuthorizationDetails",
    "SimulatePrincipalPolicy",
    "SimulateCustomPolicy",
];

pub(crate) async fn call(
    state: &AppState,
    principal: &Principal,
    caller: &Caller,
    action: &str,
    form: &[(String, String)],
    request_id: &str,
    arrival: auth::facts::Arrival<'_>,
) -> Result<String, ApiError> {
    if !ACTIONS.contains(&action) {
        return Err(ApiError::client(
            "InvalidAction",
            format!("The IAM action {action} is not available on this server yet."),
        ));
    }
    // The action as the Service Authorization Reference names it (never typed by hand).
    let Some(authorized_as) = ::iam::catalog::action_for_operation("iam", action) else {
        return Err(ApiError::internal(format!("the catalog has no IAM action for {action}")));
    };
    let resource = resource(state, caller, action, form).await?;
    let facts = auth::facts::RequestFacts {
        action: authorized_as.full_name(),
        resources: vec![resource],
        context: Vec::new(),
    };
    auth::authorize(state, principal, &facts.arrived(arrival))
        .await
        .map_err(|denied| ApiError::new(ErrorKind::Forbidden, "AccessDenied", denied.message))?;
    tracing::debug!(user = %caller.user, %action, "IAM call");
    let identity = &state.identity;
    // The one reading of the clock for this request: the service functions take the time.
    let now = engine::clock::now_ms();
    let answer = Answer { action, request_id };
    match action {
        "CreateUser" => answer.with(users::create_user(identity, input(form)?, now).await?),
        "GetUser" => answer.with(users::get_user(identity, caller, input(form)?).await?),
        "ListUsers" => answer.with(users::list_users(identity, input(form)?).await?),
        "UpdateUser" => answer.empty(users::update_user(identity, input(form)?).await?),
        "DeleteUser" => answer.empty(users::delete_user(identity, input(form)?).await?),
        "TagUser" => answer.empty(users::tag_user(identity, input(form)?).await?),
        "UntagUser" => answer.empty(users::untag_user(identity, input(form)?).await?),
        "ListUserTags" => answer.with(users::list_user_tags(identity, input(form)?).await?),
        "CreateAccessKey" => {
            answer.with(access_keys::create_access_key(identity, caller, input(form)?, now).await?)
        }
        "ListAccessKeys" => {
            answer.with(access_keys::list_access_keys(identity, caller, input(form)?).await?)
        }
        "UpdateAccessKey" => {
            answer.empty(access_keys::update_access_key(identity, caller, input(form)?).await?)
        }
        "DeleteAccessKey" => {
            answer.empty(access_keys::delete_access_key(identity, caller, input(form)?).await?)
        }
        "GetAccessKeyLastUsed" => {
            let request: access_keys::GetAccessKeyLastUsedRequest = input(form)?;
            let key = request.access_key_id.clone();
            let mut result = access_keys::get_access_key_last_used(identity, request).await?;
            // Only a key that is a user's (GetAccessKeyLastUsed found it) has a last use.
            if result.user_name.is_some() {
                result.access_key_last_used = last_used(state, &key).await?;
            }
            answer.with(result)
        }
        "CreateLoginProfile" => answer
            .with(login_profiles::create_login_profile(identity, caller, input(form)?, now).await?),
        "GetLoginProfile" => {
            answer.with(login_profiles::get_login_profile(identity, caller, input(form)?).await?)
        }
        "UpdateLoginProfile" => {
            answer.empty(login_profiles::update_login_profile(identity, input(form)?, now).await?)
        }
        "DeleteLoginProfile" => answer
            .empty(login_profiles::delete_login_profile(identity, caller, input(form)?).await?),
        "CreateGroup" => answer.with(groups::create_group(identity, input(form)?, now).await?),
        "GetGroup" => answer.with(groups::get_group(identity, input(form)?).await?),
        "ListGroups" => answer.with(groups::list_groups(identity, input(form)?).await?),
        "ListGroupsForUser" => {
            answer.with(groups::list_groups_for_user(identity, input(form)?).await?)
        }
        "AddUserToGroup" => answer.empty(groups::add_user_to_group(identity, input(form)?).await?),
        "RemoveUserFromGroup" => {
            answer.empty(groups::remove_user_from_group(identity, input(form)?).await?)
        }
        "DeleteGroup" => answer.empty(groups::delete_group(identity, input(form)?).await?),
        "UploadSSHPublicKey" => {
            answer.with(ssh_keys::upload_ssh_public_key(identity, input(form)?, now).await?)
        }
        "ListSSHPublicKeys" => {
            answer.with(ssh_keys::list_ssh_public_keys(identity, caller, input(form)?).await?)
        }
        "GetSSHPublicKey" => {
            answer.with(ssh_keys::get_ssh_public_key(identity, input(form)?).await?)
        }
        "UpdateSSHPublicKey" => {
            answer.empty(ssh_keys::update_ssh_public_key(identity, input(form)?).await?)
        }
        "DeleteSSHPublicKey" => {
            answer.empty(ssh_keys::delete_ssh_public_key(identity, input(form)?).await?)
        }
        "CreateServiceSpecificCredential" => answer.with(
            credentials::create_service_specific_credential(identity, input(form)?, now).await?,
        ),
        "ListServiceSpecificCredentials" => answer.with(
            credentials::list_service_specific_credentials(identity, caller, input(form)?).await?,
        ),
        "ResetServiceSpecificCredential" => answer.with(
            credentials::reset_service_specific_credential(identity, caller, input(form)?).await?,
        ),
        "UpdateServiceSpecificCredential" => answer.empty(
            credentials::update_service_specific_credential(identity, caller, input(form)?).await?,
        ),
        "DeleteServiceSpecificCredential" => answer.empty(
            credentials::delete_service_specific_credential(identity, caller, input(form)?).await?,
        ),
        // Policies, roles and the simulator.
        "CreatePolicy" => answer.with(policies::create_policy(identity, input(form)?, now).await?),
        "GetPolicy" => answer.with(policies::get_policy(identity, input(form)?).await?),
        "ListPolicies" => answer.with(policies::list_policies(identity, input(form)?).await?),
        "CreatePolicyVersion" => {
            answer.with(policies::create_policy_version(identity, input(form)?, now).await?)
        }
        "GetPolicyVersion" => {
            answer.with(policies::get_policy_version(identity, input(form)?).await?)
        }
        "ListPolicyVersions" => {
            answer.with(policies::list_policy_versions(identity, input(form)?).await?)
        }
        "SetDefaultPolicyVersion" => {
            answer.empty(policies::set_default_policy_version(identity, input(form)?, now).await?)
        }
        "DeletePolicyVersion" => {
            answer.empty(policies::delete_policy_version(identity, input(form)?).await?)
        }
        "DeletePolicy" => answer.empty(policies::delete_policy(identity, input(form)?).await?),
        "AttachUserPolicy" => {
            answer.empty(policies::attach_user_policy(identity, input(form)?).await?)
        }
        "DetachUserPolicy" => {
            answer.empty(policies::detach_user_policy(identity, input(form)?).await?)
        }
        "AttachGroupPolicy" => {
            answer.empty(policies::attach_group_policy(identity, input(form)?).await?)
        }
        "DetachGroupPolicy" => {
            answer.empty(policies::detach_group_policy(identity, input(form)?).await?)
        }
        "AttachRolePolicy" => {
            answer.empty(policies::attach_role_policy(identity, input(form)?).await?)
        }
        "DetachRolePolicy" => {
            answer.empty(policies::detach_role_policy(identity, input(form)?).await?)
        }
        "ListAttachedUserPolicies" => {
            answer.with(policies::list_attached_user_policies(identity, input(form)?).await?)
        }
        "ListAttachedGroupPolicies" => {
            answer.with(policies::list_attached_group_policies(identity, input(form)?).await?)
        }
        "ListAttachedRolePolicies" => {
            answer.with(policies::list_attached_role_policies(identity, input(form)?).await?)
        }
        "ListEntitiesForPolicy" => {
            answer.with(policies::list_entities_for_policy(identity, input(form)?).await?)
        }
        "PutUserPolicy" => answer.empty(policies::put_user_policy(identity, input(form)?).await?),
        "GetUserPolicy" => answer.with(policies::get_user_policy(identity, input(form)?).await?),
        "DeleteUserPolicy" => {
            answer.empty(policies::delete_user_policy(identity, input(form)?).await?)
        }
        "ListUserPolicies" => {
            answer.with(policies::list_user_policies(identity, input(form)?).await?)
        }
        "PutGroupPolicy" => answer.empty(policies::put_group_policy(identity, input(form)?).await?),
        "GetGroupPolicy" => answer.with(policies::get_group_policy(identity, input(form)?).await?),
        "DeleteGroupPolicy" => {
            answer.empty(policies::delete_group_policy(identity, input(form)?).await?)
        }
        "ListGroupPolicies" => {
            answer.with(policies::list_group_policies(identity, input(form)?).await?)
        }
        "PutRolePolicy" => answer.empty(policies::put_role_policy(identity, input(form)?).await?),
        "GetRolePolicy" => answer.with(policies::get_role_policy(identity, input(form)?).await?),
        "DeleteRolePolicy" => {
            answer.empty(policies::delete_role_policy(identity, input(form)?).await?)
        }
        "ListRolePolicies" => {
            answer.with(policies::list_role_policies(identity, input(form)?).await?)
        }
        "CreateRole" => answer.with(roles::create_role(identity, input(form)?, now).await?),
        "GetRole" => answer.with(roles::get_role(identity, input(form)?).await?),
        "ListRoles" => answer.with(roles::list_roles(identity, input(form)?).await?),
        "DeleteRole" => answer.empty(roles::delete_role(identity, input(form)?).await?),
        "UpdateAssumeRolePolicy" => {
            answer.empty(roles::update_assume_role_policy(identity, input(form)?).await?)
        }
        "TagRole" => answer.empty(roles::tag_role(identity, input(form)?).await?),
        "UntagRole" => answer.empty(roles::untag_role(identity, input(form)?).await?),
        "ListRoleTags" => answer.with(roles::list_role_tags(identity, input(form)?).await?),
        "GetAccountAuthorizationDetails" => answer.with(
            authorization_details::get_account_authorization_details(identity, input(form)?)
                .await?,
        ),
        "SimulatePrincipalPolicy" => {
            answer.with(simulation::simulate_principal_policy(identity, input(form)?).await?)
        }
        "SimulateCustomPolicy" => {
            answer.with(simulation::simulate_custom_policy(identity, input(form)?).await?)
        }
        _ => Err(ApiError::internal(format!("IAM action {action} is listed but not dispatched"))),
    }
}

/// When, where and with which service the access key `key` was last used: what the
/// audit trail wrote with the chunk of the key's newest event (the trail records every use,
/// so nothing is written on the request path for this); IAM's `N/A` when it has none.
async fn last_used(
    state: &AppState,
    key: &str,
) -> Result<access_keys::AccessKeyLastUsed, ApiError> {
    // What the trail has written: an event still in this process's recorder counts from its
    // next flush (AWS's own last-use information lags too).
    let Some(used) = cloudtrail::lookup::access_key_last_used(&state.store, key).await? else {
        return Ok(access_keys::AccessKeyLastUsed {
            last_used_date: None,
            service_name: "N/A".to_owned(),
            region: "N/A".to_owned(),
        });
    };
    let source = &used.event_source;
    let service = source.strip_suffix(".amazonaws.com").unwrap_or(source);
    Ok(access_keys::AccessKeyLastUsed {
        last_used_date: Some(awsapi::query::Timestamp(used.time_ms)),
        service_name: service.to_owned(),
        region: used.region,
    })
}

/// How an action answers: its typed result, or nothing but the request id.
struct Answer<'a> {
    action: &'a str,
    request_id: &'a str,
}

impl Answer<'_> {
    fn with(&self, result: impl Serialize) -> Result<String, ApiError> {
        response(IAM_NAMESPACE, self.action, Some(&result), self.request_id)
    }

    fn empty(&self, (): ()) -> Result<String, ApiError> {
        response::<()>(IAM_NAMESPACE, self.action, None, self.request_id)
    }
}

/// The resource an IAM action acts on, as IAM names it: the user (`UserName`, or the caller
/// for the actions that default to them) or the group it names, with its path; `*` for the
/// actions that name neither.
async fn resource(
    state: &AppState,
    caller: &Caller,
    action: &str,
    form: &[(String, String)],
) -> Result<String, ApiError> {
    let field = |name: &str| {
        form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|it| !it.is_empty())
    };
    let account = &state.account;
    if let Some(resource) = policy_resource(state, action, form).await {
        return Ok(resource);
    }
    Ok(match action {
        "CreateUser" => {
            let path = field("Path").unwrap_or("/");
            format!("arn:aws:iam::{account}:user{path}{}", field("UserName").unwrap_or_default())
        }
        "CreateGroup" => {
            let path = field("Path").unwrap_or("/");
            format!("arn:aws:iam::{account}:group{path}{}", field("GroupName").unwrap_or_default())
        }
        "GetGroup"
        | "DeleteGroup"
        | "AddUserToGroup"
        | "RemoveUserFromGroup"
        | "AttachGroupPolicy"
        | "DetachGroupPolicy"
        | "ListAttachedGroupPolicies"
        | "PutGroupPolicy"
        | "GetGroupPolicy"
        | "DeleteGroupPolicy"
        | "ListGroupPolicies" => {
            let name = field("GroupName").unwrap_or_default();
            let found = state.identity.group(name).await.ok().flatten().map(|it| it.group.arn);
            found.unwrap_or_else(|| format!("arn:aws:iam::{account}:group/{name}"))
        }
        "ListUsers" | "ListGroups" | "GetAccessKeyLastUsed" => "*".to_owned(),
        _ => {
            let name = match field("UserName") {
                Some(name) => name,
                // A role's session is no user: an operation that defaults to the caller needs
                // the name, as IAM answers before it authorizes (there is no user to authorize
                // on); one over every user does not.
                None if ::iam::users::is_role_session(caller) => {
                    if action == "ListServiceSpecificCredentials"
                        && field("AllUsers") == Some("true")
                    {
                        return Ok("*".to_owned());
                    }
                    return Err(::iam::users::non_user_credentials());
                }
                None => &caller.user,
            };
            match state.identity.user(name).await {
                Ok(Some((user, _))) => user.arn(account),
                _ => format!("arn:aws:iam::{account}:user/{name}"),
            }
        }
    })
}

/// The resource of the policy, role and simulator actions, as IAM names it: the policy
/// (`PolicyArn`, or the one CreatePolicy makes), the role with its path, the simulated
/// entity; `*` for the listings. `None` for the other actions.
async fn policy_resource(
    state: &AppState,
    action: &str,
    form: &[(String, String)],
) -> Option<String> {
    let field = |name: &str| {
        form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|it| !it.is_empty())
    };
    let account = &state.account;
    let resource = match action {
        "CreatePolicy" => {
            let path = field("Path").unwrap_or("/");
            format!(
                "arn:aws:iam::{account}:policy{path}{}",
                field("PolicyName").unwrap_or_default()
            )
        }
        "GetPolicy"
        | "CreatePolicyVersion"
        | "GetPolicyVersion"
        | "ListPolicyVersions"
        | "SetDefaultPolicyVersion"
        | "DeletePolicyVersion"
        | "DeletePolicy"
        | "ListEntitiesForPolicy" => field("PolicyArn").unwrap_or("*").to_owned(),
        "CreateRole" => {
            let path = field("Path").unwrap_or("/");
            format!("arn:aws:iam::{account}:role{path}{}", field("RoleName").unwrap_or_default())
        }
        "GetRole"
        | "DeleteRole"
        | "UpdateAssumeRolePolicy"
        | "TagRole"
        | "UntagRole"
        | "ListRoleTags"
        | "AttachRolePolicy"
        | "DetachRolePolicy"
        | "ListAttachedRolePolicies"
        | "PutRolePolicy"
        | "GetRolePolicy"
        | "DeleteRolePolicy"
        | "ListRolePolicies" => {
            let name = field("RoleName").unwrap_or_default();
            match state.identity.role(name).await {
                Ok(Some((role, _))) => role.arn,
                _ => format!("arn:aws:iam::{account}:role/{name}"),
            }
        }
        "SimulatePrincipalPolicy" => field("PolicySourceArn").unwrap_or("*").to_owned(),
        "ListPolicies"
        | "ListRoles"
        | "GetAccountAuthorizationDetails"
        | "SimulateCustomPolicy" => "*".to_owned(),
        _ => return None,
    };
    Some(resource)
}
