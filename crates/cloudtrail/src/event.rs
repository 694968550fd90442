//! The CloudTrail record (what `CloudTrailEvent` holds, with CloudTrail's field names), how the
//! edge describes a request to make one ([`Request`]), and what is removed from the request's
//! parameters before they are kept ([`redact`]).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The record format's version, as CloudTrail writes it.
pub const EVENT_VERSION: &str = "1.08";

/// What replaces a secret value in `requestParameters`, as CloudTrail writes it.
pub const HIDDEN: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

/// Longer string values in `requestParameters` are cut to this many characters.
pub const MAX_VALUE_CHARS: usize = 1024;

/// Longer arrays in `requestParameters` keep this many items.
pub const MAX_ITEMS: usize = 100;

/// The members whose values are secrets, wherever they appear in a request: SSM's `Value`
/// (PutParameter), Secrets Manager's `SecretString` and `SecretBinary`, and passwords and
/// secret keys in any spelling a service uses. Policy documents are kept: they are not
/// secret, and who changed a policy to what is what an audit is for.
const SECRET_MEMBERS: &[&str] = &[
    "SecretString",
    "SecretBinary",
    "Password",
    "password",
    "NewPassword",
    "OldPassword",
    "newPassword",
    "oldPassword",
    "SecretAccessKey",
    "secretAccessKey",
    "SessionToken",
    "sessionToken",
    "secret",
    "Secret",
];

/// The event source of SSM, whose `Value` member is a parameter's (possibly secret) value.
const SSM_SOURCE: &str = "ssm.amazonaws.com";

/// One CloudTrail event, as CloudTrail writes its record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub event_version: String,
    pub user_identity: UserIdentity,
    /// `2026-11-22T16:21:40Z`.
    pub event_time: String,
    /// `codebuild.amazonaws.com`, `codecommit.amazonaws.com`, `signin.amazonaws.com`, …
    pub event_source: String,
    pub event_name: String,
    pub aws_region: String,
    #[serde(rename = "sourceIPAddress")]
    pub source_ip_address: String,
    pub user_agent: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error_message: Option<String>,
    /// The request's members, with secret values replaced by [`HIDDEN`].
    pub request_parameters: Option<Value>,
    /// Always null for API calls (Slipway does not keep answers); `{"ConsoleLogin": …}` for
    /// a console sign-in, as CloudTrail writes it.
    pub response_elements: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub additional_event_data: Option<Value>,
    #[serde(rename = "requestID")]
    pub request_id: String,
    #[serde(rename = "eventID")]
    pub event_id: String,
    pub read_only: bool,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub resources: Vec<Resource>,
    pub event_type: EventType,
    pub management_event: bool,
    pub recipient_account_id: String,
    pub event_category: String,
}

/// Who made the request (`userIdentity`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity {
    /// `IAMUser`, `AssumedRole`, `Root`, `Unknown`, …
    #[serde(rename = "type")]
    pub identity_type: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub principal_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub access_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub user_name: Option<String>,
    /// A session's `sessionContext` (`sessionIssuer`, `attributes`), for temporary
    /// credentials.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub session_context: Option<Value>,
}

impl UserIdentity {
    /// An IAM user of `account` by name and unique id (`AIDA…`, CloudTrail's `principalId`;
    /// none is written when it is empty), signing with `access_key_id` (empty when none, as
    /// for a console session or git credentials).
    pub fn iam_user(account: &str, user: &str, user_id: &str, access_key_id: &str) -> UserIdentity {
        UserIdentity {
            identity_type: "IAMUser".to_owned(),
            principal_id: (!user_id.is_empty()).then(|| user_id.to_owned()),
            arn: Some(awsapi::arn::iam_user(account, user)),
            account_id: Some(account.to_owned()),
            access_key_id: (!access_key_id.is_empty()).then(|| access_key_id.to_owned()),
            user_name: Some(user.to_owned()),
            session_context: None,
        }
    }

    /// The name `LookupEvents` shows as an event's `Username` and matches the `Username`
    /// attribute against, as CloudTrail does: a role's session's session name (the last part
    /// of its assumed-role ARN), an IAM user's name (or the name a caller refused before
    /// authentication claimed).
    pub fn lookup_name(&self) -> Option<&str> {
        if self.identity_type == "AssumedRole"
            && let Some(arn) = &self.arn
            && let Some((_, session)) = arn.rsplit_once('/')
        {
            return Some(session);
        }
        self.user_name.as_deref()
    }

    /// A caller whose identity is not known (a request refused before it was
    /// authenticated), as CloudTrail writes one; `user_name` is what they claimed, if anything.
    pub fn unknown(account: &str, user_name: Option<&str>) -> UserIdentity {
        UserIdentity {
            identity_type: "Unknown".to_owned(),
            principal_id: None,
            arn: None,
            account_id: Some(account.to_owned()),
            access_key_id: None,
            user_name: user_name.filter(|it| !it.is_empty()).map(str::to_owned),
            session_context: None,
        }
    }
}

/// A resource an event names (`resources`): its ARN and its CloudFormation-style type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    #[serde(rename = "ARN")]
    pub arn: String,
    /// Empty for an S3 object, whose ARN names no account (CloudTrail leaves it out).
    #[serde(rename = "accountId", skip_serializing_if = "String::is_empty", default)]
    pub account_id: String,
    /// `AWS::CodeBuild::Project`, `AWS::CodeCommit::Repository`, …
    #[serde(rename = "type")]
    pub resource_type: String,
}

impl Resource {
    /// The resource an ARN of one of the services Slipway serves names, with its type; `None`
    /// for `*` and for ARNs of types this does not know.
    pub fn from_arn(arn: &str) -> Option<Resource> {
        let mut parts = arn.splitn(6, ':');
        let (Some("arn"), Some(_), Some(service), Some(_), Some(account), Some(rest)) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let (kind, name) = match service {
            "s3" => ("", rest),
            _ => rest.split_once(['/', ':']).unwrap_or(("", rest)),
        };
        let resource_type = match (service, kind) {
            ("codecommit", "") => "AWS::CodeCommit::Repository",
            ("codebuild", "project") => "AWS::CodeBuild::Project",
            ("codebuild", "build") => "AWS::CodeBuild::Build",
            ("codebuild", "report-group") => "AWS::CodeBuild::ReportGroup",
            ("codebuild", "report") => "AWS::CodeBuild::Report",
            ("iam", "user") => "AWS::IAM::User",
            ("iam", "group") => "AWS::IAM::Group",
            ("iam", "role") => "AWS::IAM::Role",
            ("iam", "policy") => "AWS::IAM::Policy",
            ("ssm", "parameter") => "AWS::SSM::Parameter",
            ("secretsmanager", "secret") => "AWS::SecretsManager::Secret",
            // S3's ARNs have no region or account: `arn:aws:s3:::bucket[/key]`.
            ("s3", _) if account.is_empty() && rest.contains('/') => "AWS::S3::Object",
            ("s3", _) if account.is_empty() => "AWS::S3::Bucket",
            _ => return None,
        };
        (!name.is_empty() && name != "*").then(|| Resource {
            arn: arn.to_owned(),
            account_id: account.to_owned(),
            resource_type: resource_type.to_owned(),
        })
    }

    /// The name `LookupEvents` shows and matches `ResourceName` against: the ARN, as
    /// CloudTrail shows it for the resource types Slipway serves.
    pub fn name(&self) -> &str {
        &self.arn
    }
}

/// What kind of event a record is (`eventType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventType {
    AwsApiCall,
    AwsConsoleSignIn,
    AwsConsoleAction,
}

/// What the edge knows of one request, to make its event with [`Event::new`].
#[derive(Debug, Clone)]
pub struct Request {
    /// Milliseconds since the epoch, when the request arrived.
    pub time_ms: i64,
    /// `codebuild.amazonaws.com`, …: see [`event_source`].
    pub source: String,
    pub name: String,
    pub event_type: EventType,
    pub identity: UserIdentity,
    pub source_ip: String,
    pub user_agent: String,
    pub request_id: String,
    /// The request's members as the client sent them; secrets are removed by [`Event::new`].
    pub parameters: Option<Value>,
    /// The error code and message, when the request was refused or failed.
    pub error: Option<(String, String)>,
    pub resources: Vec<Resource>,
    /// Whether it only reads; `None` says: decide from the name ([`is_read_only`]).
    pub read_only: Option<bool>,
    pub response_elements: Option<Value>,
    pub additional_event_data: Option<Value>,
    /// A data event (an S3 object's operations), not a management event: CloudTrail's
    /// `eventCategory` `Data`, `managementEvent` false.
    pub data_event: bool,
}

impl Request {
    /// An API call (`AwsApiCall`) of `source`'s `name`, with nothing else known yet.
    pub fn api_call(time_ms: i64, source: &str, name: &str, identity: UserIdentity) -> Request {
        Request {
            time_ms,
            source: source.to_owned(),
            name: name.to_owned(),
            event_type: EventType::AwsApiCall,
            identity,
            source_ip: String::new(),
            user_agent: String::new(),
            request_id: String::new(),
            parameters: None,
            error: None,
            resources: Vec::new(),
            read_only: None,
            response_elements: None,
            additional_event_data: None,
            data_event: false,
        }
    }
}

impl Event {
    /// The event of `request`, in `region` of `account`, with a new event id.
    pub fn new(region: &str, account: &str, request: Request) -> Event {
        let read_only = request.read_only.unwrap_or_else(|| is_read_only(&request.name));
        let request_parameters =
            request.parameters.map(|parameters| redact(&request.source, parameters));
        let (error_code, error_message) = match request.error {
            Some((code, message)) => (Some(code), Some(message)),
            None => (None, None),
        };
        let request_id = if request.request_id.is_empty() {
            uuid::Uuid::new_v4().to_string()
        } else {
            request.request_id
        };
        Event {
            event_version: EVENT_VERSION.to_owned(),
            user_identity: request.identity,
            event_time: engine::clock::format_utc(request.time_ms, engine::clock::CLOUDTRAIL_TIME),
            event_source: request.source,
            event_name: request.name,
            aws_region: region.to_owned(),
            source_ip_address: request.source_ip,
            user_agent: request.user_agent,
            error_code,
            error_message,
            request_parameters,
            response_elements: request.response_elements,
            additional_event_data: request.additional_event_data,
            request_id,
            event_id: uuid::Uuid::new_v4().to_string(),
            read_only,
            resources: request.resources,
            event_type: request.event_type,
            management_event: !request.data_event,
            recipient_account_id: account.to_owned(),
            event_category: if request.data_event { "Data" } else { "Management" }.to_owned(),
        }
    }

    /// `eventTime` in milliseconds since the epoch (0 if it cannot be read).
    pub fn time_ms(&self) -> i64 {
        engine::clock::parse_utc(&self.event_time, engine::clock::CLOUDTRAIL_TIME).unwrap_or(0)
    }
}

/// The event source of a service by its SigV4 signing name: `codebuild.amazonaws.com`.
pub fn event_source(signing_name: &str) -> String {
    format!("{signing_name}.amazonaws.com")
}

/// Whether an operation only reads: `Get*`, `List*`, `Describe*`, `BatchGet*`, `Lookup*`, `Head*` and
/// git fetches (`GitPull`) do.
pub fn is_read_only(name: &str) -> bool {
    ["Get", "List", "Describe", "BatchGet", "Lookup", "Head"]
        .iter()
        .any(|prefix| name.starts_with(prefix))
        || name == "GitPull"
}

/// `parameters` as they are kept: the values of secret members ([`SECRET_MEMBERS`], and SSM's
/// `Value`) replaced by [`HIDDEN`], strings longer than [`MAX_VALUE_CHARS`] cut, arrays longer
/// than [`MAX_ITEMS`] shortened (an unknown big input, a file's content, is not worth keeping
/// whole in every event).
pub fn redact(source: &str, mut parameters: Value) -> Value {
    redact_value(source == SSM_SOURCE, &mut parameters);
    parameters
}

/// [`redact`] in place: the tree is rebuilt nowhere, only the values that go are replaced.
fn redact_value(ssm: bool, value: &mut Value) {
    match value {
        Value::Object(members) => {
            for (name, value) in members.iter_mut() {
                let secret = SECRET_MEMBERS.contains(&name.as_str()) || (ssm && name == "Value");
                if secret && !value.is_null() {
                    *value = Value::String(HIDDEN.to_owned());
                } else {
                    redact_value(ssm, value);
                }
            }
        }
        Value::Array(items) => {
            items.truncate(MAX_ITEMS);
            for item in items {
                redact_value(ssm, item);
            }
        }
        Value::String(text)
            if text.len() > MAX_VALUE_CHARS && text.chars().count() > MAX_VALUE_CHARS =>
        {
            let mut cut: String = text.chars().take(MAX_VALUE_CHARS).collect();
            cut.push_str("...(truncated)");
            *text = cut;
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests;
