//! GetAccountAuthorizationDetails: every user, group and role with its policies, and the
//! managed policies in use with their versions, in one answer (`Filter` picks the kinds).

use awsapi::ApiError;
use awsapi::query::Timestamp;
use serde::{Deserialize, Serialize};

use crate::api::{self, Tag, store_error};
use crate::catalog;
use crate::identity::Identity;
use crate::policies::{self, AttachedPolicy, EntityPolicies, Policy, PolicyVersion};
use crate::users::UserRecord;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetAccountAuthorizationDetailsRequest {
    /// `User`, `Role`, `Group`, `LocalManagedPolicy`, `AWSManagedPolicy`; all when empty.
    #[serde(default)]
    pub filter: Vec<String>,
    pub marker: Option<String>,
    pub max_items: Option<u32>,
}

/// IAM's `PolicyDetail` shape: an inline policy (its document URL-encoded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyDetail {
    pub policy_name: String,
    pub policy_document: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserDetail {
    pub path: String,
    pub user_name: String,
    pub user_id: String,
    pub arn: String,
    pub create_date: Timestamp,
    pub user_policy_list: Vec<PolicyDetail>,
    pub group_list: Vec<String>,
    pub attached_managed_policies: Vec<AttachedPolicy>,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupDetail {
    pub path: String,
    pub group_name: String,
    pub group_id: String,
    pub arn: String,
    pub create_date: Timestamp,
    pub group_policy_list: Vec<PolicyDetail>,
    pub attached_managed_policies: Vec<AttachedPolicy>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleDetail {
    pub path: String,
    pub role_name: String,
    pub role_id: String,
    pub arn: String,
    pub create_date: Timestamp,
    pub assume_role_policy_document: String,
    pub role_policy_list: Vec<PolicyDetail>,
    pub attached_managed_policies: Vec<AttachedPolicy>,
    pub tags: Vec<Tag>,
}

/// IAM's `ManagedPolicyDetail` shape: a managed policy with every version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManagedPolicyDetail {
    pub policy_name: String,
    pub policy_id: String,
    pub arn: String,
    pub path: String,
    pub default_version_id: String,
    pub attachment_count: u32,
    pub permissions_boundary_usage_count: u32,
    pub is_attachable: bool,
    pub description: Option<String>,
    pub create_date: Timestamp,
    pub update_date: Timestamp,
    pub policy_version_list: Vec<PolicyVersion>,
}

impl ManagedPolicyDetail {
    fn new(policy: Policy, policy_version_list: Vec<PolicyVersion>) -> ManagedPolicyDetail {
        ManagedPolicyDetail {
            policy_name: policy.policy_name,
            policy_id: policy.policy_id,
            arn: policy.arn,
            path: policy.path,
            default_version_id: policy.default_version_id,
            attachment_count: policy.attachment_count,
            permissions_boundary_usage_count: 0,
            is_attachable: true,
            description: policy.description,
            create_date: policy.create_date,
            update_date: policy.update_date,
            policy_version_list,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetAccountAuthorizationDetailsResponse {
    pub user_detail_list: Vec<UserDetail>,
    pub group_detail_list: Vec<GroupDetail>,
    pub role_detail_list: Vec<RoleDetail>,
    pub policies: Vec<ManagedPolicyDetail>,
    pub is_truncated: bool,
    pub marker: Option<String>,
}

fn inline_list(policies: &EntityPolicies) -> Vec<PolicyDetail> {
    policies
        .inline
        .iter()
        .map(|(name, document)| PolicyDetail {
            policy_name: name.clone(),
            policy_document: api::url_encode(document),
        })
        .collect()
}

async fn attached_list(
    identity: &Identity,
    policies: &EntityPolicies,
) -> Result<Vec<AttachedPolicy>, ApiError> {
    let mut attached = Vec::new();
    for arn in &policies.attached {
        if let Some(managed) = identity.managed_policy(arn).await? {
            let policy_name = managed.name().to_owned();
            attached.push(AttachedPolicy { policy_name, policy_arn: arn.clone() });
        }
    }
    Ok(attached)
}

/// One detail of the answer, before it is paged.
enum Detail {
    User(UserDetail),
    Group(GroupDetail),
    Role(RoleDetail),
    Policy(ManagedPolicyDetail),
}

/// Every user, group, role and managed policy the filter asks for, paged by `Marker` and
/// `MaxItems` over the four lists as one sequence (users, groups, roles, then policies), as
/// IAM pages them.
pub async fn get_account_authorization_details(
    identity: &Identity,
    input: GetAccountAuthorizationDetailsRequest,
) -> Result<GetAccountAuthorizationDetailsResponse, ApiError> {
    const FILTERS: &[&str] = &["User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"];
    if let Some(bad) = input.filter.iter().find(|it| !FILTERS.contains(&it.as_str())) {
        return Err(api::validation(
            bad,
            "filter",
            "satisfy enum value set: [User, Role, Group, LocalManagedPolicy, AWSManagedPolicy]",
        ));
    }
    let wanted = |name: &str| input.filter.is_empty() || input.filter.iter().any(|it| it == name);
    let mut answer = GetAccountAuthorizationDetailsResponse {
        user_detail_list: Vec::new(),
        group_detail_list: Vec::new(),
        role_detail_list: Vec::new(),
        policies: Vec::new(),
        is_truncated: false,
        marker: None,
    };
    // Paging is checked before the work.
    api::page(Vec::<()>::new(), input.marker.as_deref(), input.max_items)?;
    let groups = identity.groups().await.map_err(store_error)?;
    if wanted("User") {
        let documents =
            identity.store.list_all(engine::kinds::USER, None).await.map_err(store_error)?;
        for document in documents {
            let user = UserRecord::from_document(&document);
            let policies = EntityPolicies::from_body(&document.body);
            let group_list = groups
                .iter()
                .filter(|it| it.members.contains(&user.name))
                .map(|it| it.group.group_name.clone())
                .collect();
            answer.user_detail_list.push(UserDetail {
                path: user.path.clone(),
                user_name: user.name.clone(),
                user_id: user.user_id.clone(),
                arn: user.arn(&identity.account),
                create_date: Timestamp(user.created_ms),
                user_policy_list: inline_list(&policies),
                group_list,
                attached_managed_policies: attached_list(identity, &policies).await?,
                tags: user.tags,
            });
        }
        answer.user_detail_list.sort_by(|a, b| a.user_name.cmp(&b.user_name));
    }
    if wanted("Group") {
        for record in &groups {
            let document = identity.store.get(engine::kinds::GROUP, &record.group.group_name);
            let Some(document) = document.await.map_err(store_error)? else { continue };
            let policies = EntityPolicies::from_body(&document.body);
            let group = &record.group;
            answer.group_detail_list.push(GroupDetail {
                path: group.path.clone(),
                group_name: group.group_name.clone(),
                group_id: group.group_id.clone(),
                arn: group.arn.clone(),
                create_date: group.create_date,
                group_policy_list: inline_list(&policies),
                attached_managed_policies: attached_list(identity, &policies).await?,
            });
        }
    }
    if wanted("Role") {
        for (role, document) in identity.roles().await? {
            let policies = EntityPolicies::from_body(&document.body);
            answer.role_detail_list.push(RoleDetail {
                path: role.path.clone(),
                role_name: role.role_name.clone(),
                role_id: role.role_id.clone(),
                arn: role.arn.clone(),
                create_date: Timestamp(role.create_date),
                assume_role_policy_document: api::url_encode(&role.assume_role_policy_document),
                role_policy_list: inline_list(&policies),
                attached_managed_policies: attached_list(identity, &policies).await?,
                tags: role.tags,
            });
        }
    }
    if wanted("AWSManagedPolicy") {
        // AWS's own policies are listed when something here uses them, as IAM does.
        let counts = identity.attachment_counts().await?;
        for managed in catalog::managed_policies() {
            let Some(count) = counts.get(&managed.arn).copied() else { continue };
            let versions = vec![policies::aws_version(managed, true)];
            answer
                .policies
                .push(ManagedPolicyDetail::new(policies::aws_policy(managed, count), versions));
        }
    }
    if wanted("LocalManagedPolicy") {
        for record in identity.local_policies().await? {
            let versions = record.versions.iter().rev().map(|it| record.version(it)).collect();
            answer.policies.push(ManagedPolicyDetail::new(record.to_policy(false), versions));
        }
    }
    let mut details: Vec<Detail> = Vec::new();
    details.extend(answer.user_detail_list.drain(..).map(Detail::User));
    details.extend(answer.group_detail_list.drain(..).map(Detail::Group));
    details.extend(answer.role_detail_list.drain(..).map(Detail::Role));
    details.extend(answer.policies.drain(..).map(Detail::Policy));
    let (page, is_truncated, marker) =
        api::page(details, input.marker.as_deref(), input.max_items)?;
    (answer.is_truncated, answer.marker) = (is_truncated, marker);
    for detail in page {
        match detail {
            Detail::User(it) => answer.user_detail_list.push(it),
            Detail::Group(it) => answer.group_detail_list.push(it),
            Detail::Role(it) => answer.role_detail_list.push(it),
            Detail::Policy(it) => answer.policies.push(it),
        }
    }
    Ok(answer)
}

#[cfg(test)]
mod tests;
