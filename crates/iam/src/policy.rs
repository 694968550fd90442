//! IAM policy documents and their evaluation, pure: no IO, no clock, no store.
//!
//! A document is parsed once ([`Policy::parse_identity`] for the policies attached to users,
//! groups and roles, [`Policy::parse_trust`] for a role's trust policy) into a compiled form
//! whose patterns are split into tokens ahead of time, so that [`evaluate`] only walks them:
//! explicit deny wins, then allow, and nothing allows by default (IAM User Guide, "Policy
//! evaluation logic"). The request it judges is a [`Request`]: who ([`Principal`]), the
//! action (`service:Operation`), the resource's ARN and the context keys ([`Context`]).
//! [`refusal_message`] writes the message AWS answers a refused call with.
//!
//! Matching follows AWS: action names case-insensitively, resources and condition values
//! case-sensitively (unless the operator ignores case), `*` and `?` as wildcards, and the
//! policy variables of 2012-10-17 documents (`${aws:username}`, `${*}`, `${?}`, `${$}`,
//! `${key, 'default'}`) in `Resource` and condition values. A 2008-10-17 document (or one
//! without a `Version`) takes `${…}` literally.

mod condition;
mod context;
mod document;
mod pattern;
mod time;

pub use context::{Context, Principal};

use condition::Condition;
use context::Scope;
use pattern::Pattern;

/// The action a trust policy is asked about.
pub const ASSUME_ROLE: &str = "sts:AssumeRole";

/// Why a document is refused: IAM's `MalformedPolicyDocument` error, with AWS's message
/// where it is known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Not JSON, or JSON of the wrong shape (a field of the wrong type).
    #[error("Syntax errors in policy.")]
    Syntax,
    #[error("Syntax errors in policy. Unknown field {0}.")]
    UnknownField(String),
    #[error("Policy document must be version 2012-10-17 or greater.")]
    UnsupportedVersion,
    #[error("Missing required field Statement")]
    MissingStatement,
    #[error("Missing required field Effect")]
    MissingEffect,
    #[error("Invalid effect: {0}")]
    InvalidEffect(String),
    #[error("Policy statement must contain actions.")]
    MissingActions,
    #[error("Policy statement must contain resources.")]
    MissingResources,
    #[error("Missing required field Principal")]
    MissingPrincipal,
    /// A field this kind of document may not have (`Principal` in an identity policy,
    /// `Resource` in a trust policy).
    #[error("Has prohibited field {0}")]
    ProhibitedField(&'static str),
    #[error("Syntax errors in policy. A statement cannot have both {0} and {1}.")]
    ConflictingFields(&'static str, &'static str),
    /// An action or condition key without a `service:` prefix.
    #[error("Actions/Conditions must be prefixed by a valid namespace")]
    InvalidNamespace(String),
    #[error("Actions/Condition can contain only one colon.")]
    TooManyColons(String),
    #[error("Action vendors (e.g., aws, ec2, etc.) must not contain wildcards")]
    WildcardVendor(String),
    #[error("Resource {0} must be in ARN format or \"*\".")]
    InvalidResource(String),
    /// The principal as AWS quotes it: `"AWS":"bob"`.
    #[error("Invalid principal in policy: {0}")]
    InvalidPrincipal(String),
    #[error("Syntax errors in policy. Invalid condition operator {0}.")]
    InvalidConditionType(String),
    #[error(
        "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the \
         regular expression [0-9A-Za-z]*"
    )]
    InvalidSid(String),
    #[error("Statement IDs (SID) in a single policy must be unique.")]
    DuplicateSid(String),
}

impl PolicyError {
    /// The IAM error code every one of these is answered with.
    pub const CODE: &'static str = "MalformedPolicyDocument";
}

/// The policy language version a document declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `2012-10-17`: policy variables are substituted.
    V2012_10_17,
    /// `2008-10-17`, or no `Version`: `${…}` is plain text.
    V2008_10_17,
}

/// What a document is for, which decides the fields it must and may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// Attached to a user, group or role: needs `Resource`, may not name a `Principal`.
    Identity,
    /// A role's trust policy: needs `Principal`, may not name a `Resource`.
    Trust,
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// A parsed, compiled policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    version: Version,
    kind: PolicyKind,
    statements: Vec<Statement>,
}

/// One statement, compiled.
#[derive(Debug, Clone, PartialEq)]
struct Statement {
    sid: Option<String>,
    effect: Effect,
    /// `Action`, or `NotAction` when negated.
    actions: Elements<Pattern>,
    /// `Resource` / `NotResource`; `None` in trust policies.
    resources: Option<Elements<Pattern>>,
    /// `Principal` / `NotPrincipal`; `None` in identity policies.
    principals: Option<Elements<PrincipalPattern>>,
    conditions: Vec<Condition>,
}

/// The values of a list element, or of its `Not…` form.
#[derive(Debug, Clone, PartialEq)]
struct Elements<T> {
    negated: bool,
    items: Vec<T>,
}

impl<T> Elements<T> {
    /// Whether the element covers the request: one item matches (`Action`) or none does
    /// (`NotAction`).
    fn covers<'a>(&'a self, mut matches: impl FnMut(&'a T) -> bool) -> bool {
        self.items.iter().any(&mut matches) != self.negated
    }
}

/// One entry of a `Principal` element.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PrincipalPattern {
    /// `"Principal": "*"`: anyone, services included.
    Anyone,
    /// `{"AWS": "*"}`: any IAM principal.
    AnyAws,
    /// `{"AWS": "123456789012"}` or `…:root`: any principal of the account.
    Account(String),
    /// `{"AWS": "arn:aws:iam::123456789012:user/bob"}` (or a role, whose sessions match).
    Arn(String),
    /// `{"Service": "codebuild.amazonaws.com"}`.
    Service(String),
    /// `Federated` and `CanonicalUser` principals: accepted, never match (no federation).
    Unsupported,
}

impl PrincipalPattern {
    fn matches(&self, caller: Caller<'_>) -> bool {
        match (self, caller) {
            (PrincipalPattern::Anyone, _) => true,
            (PrincipalPattern::AnyAws, Caller::Principal(_)) => true,
            (PrincipalPattern::Account(account), Caller::Principal(principal)) => {
                principal.account == *account
            }
            (PrincipalPattern::Arn(arn), Caller::Principal(principal)) => {
                principal.arn == *arn || session_role_matches(&principal.arn, arn)
            }
            (PrincipalPattern::Service(service), Caller::Service(caller)) => {
                service.eq_ignore_ascii_case(caller)
            }
            _ => false,
        }
    }
}

/// Whether `session` (`arn:aws:sts::A:assumed-role/R/S`) is a session of `role`
/// (`arn:aws:iam::A:role/R`, perhaps with a path).
fn session_role_matches(session: &str, role: &str) -> bool {
    let Some(rest) = session.strip_prefix("arn:aws:sts::") else {
        return false;
    };
    let Some((account, rest)) = rest.split_once(":assumed-role/") else {
        return false;
    };
    let Some((role_name, _session)) = rest.split_once('/') else {
        return false;
    };
    let Some(role_rest) = role.strip_prefix("arn:aws:iam::") else {
        return false;
    };
    let Some((role_account, role_path)) = role_rest.split_once(":role/") else {
        return false;
    };
    role_account == account && role_path.rsplit('/').next() == Some(role_name)
}

/// Who asks to assume a role.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// An IAM user or role session.
    Principal(&'a Principal),
    /// An AWS service (`codebuild.amazonaws.com`), assuming a project's service role.
    Service(&'a str),
}

/// One call to judge.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub principal: &'a Principal,
    /// `codecommit:GitPush`.
    pub action: &'a str,
    /// The resource's ARN (`*` for actions without a resource).
    pub resource: &'a str,
    pub context: &'a Context,
}

/// The outcome of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// A statement allows the request and none denies it.
    Allowed,
    /// No statement allows it (IAM's `implicitDeny`).
    ImplicitDeny,
    /// A statement denies it (IAM's `explicitDeny`).
    ExplicitDeny,
}

impl Decision {
    /// The name SimulatePrincipalPolicy's `EvalDecision` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::ImplicitDeny => "implicitDeny",
            Decision::ExplicitDeny => "explicitDeny",
        }
    }
}

/// A statement that decided an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchedStatement<'p> {
    /// The policy's name or ARN, as the caller gave it.
    pub policy: &'p str,
    /// The statement's position in the policy, from 0.
    pub index: usize,
    pub sid: Option<&'p str>,
}

/// A decision and what led to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation<'p> {
    pub decision: Decision,
    /// The deny statements that matched if the request is denied explicitly, otherwise the
    /// allow statements that matched.
    pub matched_statements: Vec<MatchedStatement<'p>>,
    /// The condition keys (and policy variables) the statements that matched the action
    /// and resource asked for and the request did not have, as the policies write them.
    pub missing_context_values: Vec<&'p str>,
}

impl Evaluation<'_> {
    /// The message a refused `request` is answered with ([`refusal_message`]), or `None`
    /// when it is allowed.
    pub fn refusal(&self, request: &Request<'_>) -> Option<String> {
        refusal_message(&request.principal.arn, request.action, request.resource, self.decision)
    }
}

impl Policy {
    /// Parses a policy attached to a user, group or role.
    pub fn parse_identity(text: &str) -> Result<Policy, PolicyError> {
        document::parse(text, PolicyKind::Identity)
    }

    /// Parses a role's trust policy (who may assume it).
    pub fn parse_trust(text: &str) -> Result<Policy, PolicyError> {
        document::parse(text, PolicyKind::Trust)
    }

    /// Parses a document of either kind.
    pub fn parse(text: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
        document::parse(text, kind)
    }

    pub fn version(&self) -> Version {
        self.version
    }

    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// How many statements the document has.
    pub fn statement_count(&self) -> usize {
        self.statements.len()
    }

    /// Whether a condition of the document tests a key starting with `prefix` (any case):
    /// `aws:ResourceTag/` says whether a request must have its resource's tags read.
    pub fn tests_key_with_prefix(&self, prefix: &str) -> bool {
        self.statements.iter().flat_map(|it| &it.conditions).any(|it| {
            it.key().get(..prefix.len()).is_some_and(|head| head.eq_ignore_ascii_case(prefix))
        })
    }
}

impl Statement {
    /// Whether the statement applies to the request (its principal is checked apart).
    fn applies<'p>(&'p self, action: &str, resource: &str, scope: &mut Scope<'_, 'p>) -> bool {
        if !self.actions.covers(|pattern| pattern.matches(action, true, scope)) {
            return false;
        }
        if let Some(resources) = &self.resources
            && !resources.covers(|pattern| pattern.matches(resource, false, scope))
        {
            return false;
        }
        // Every condition is evaluated (not only up to the first false one) so that
        // MissingContextValues names every key the statement wanted.
        let mut holds = true;
        for condition in &self.conditions {
            holds &= condition.holds(scope);
        }
        holds
    }
}

/// Evaluates the identity policies that apply to a principal (each with its name or ARN,
/// which the matched statements report) against one request.
pub fn evaluate<'p>(policies: &[(&'p str, &'p Policy)], request: &Request<'_>) -> Evaluation<'p> {
    let mut scope = Scope::new(request.context, Some(request.principal));
    let mut allows = Vec::new();
    let mut denies = Vec::new();
    for (name, policy) in policies {
        for (index, statement) in policy.statements.iter().enumerate() {
            if statement.applies(request.action, request.resource, &mut scope) {
                let matched =
                    MatchedStatement { policy: name, index, sid: statement.sid.as_deref() };
                match statement.effect {
                    Effect::Allow => allows.push(matched),
                    Effect::Deny => denies.push(matched),
                }
            }
        }
    }
    decide(allows, denies, scope.missing)
}

/// Whether a role's trust policy lets `caller` assume the role (`sts:AssumeRole`), with the
/// caller's context keys for the policy's conditions.
pub fn evaluate_trust<'p>(
    policy: &'p Policy,
    caller: Caller<'_>,
    context: &Context,
) -> Evaluation<'p> {
    let principal = match caller {
        Caller::Principal(principal) => Some(principal),
        Caller::Service(_) => None,
    };
    let mut scope = Scope::new(context, principal);
    let mut allows = Vec::new();
    let mut denies = Vec::new();
    for (index, statement) in policy.statements.iter().enumerate() {
        let named = statement
            .principals
            .as_ref()
            .is_some_and(|principals| principals.covers(|pattern| pattern.matches(caller)));
        if named && statement.applies(ASSUME_ROLE, "*", &mut scope) {
            let matched = MatchedStatement { policy: "", index, sid: statement.sid.as_deref() };
            match statement.effect {
                Effect::Allow => allows.push(matched),
                Effect::Deny => denies.push(matched),
            }
        }
    }
    decide(allows, denies, scope.missing)
}

fn decide<'p>(
    allows: Vec<MatchedStatement<'p>>,
    denies: Vec<MatchedStatement<'p>>,
    missing_context_values: Vec<&'p str>,
) -> Evaluation<'p> {
    let (decision, matched_statements) = if !denies.is_empty() {
        (Decision::ExplicitDeny, denies)
    } else if !allows.is_empty() {
        (Decision::Allowed, allows)
    } else {
        (Decision::ImplicitDeny, allows)
    };
    Evaluation { decision, matched_statements, missing_context_values }
}

/// A date in ISO 8601 (or epoch seconds), as the Date operators read it, in milliseconds
/// since the epoch.
pub fn time_ms(text: &str) -> Option<i64> {
    time::parse(text).and_then(|nanos| i64::try_from(nanos / 1_000_000).ok())
}

/// The message AWS answers a call its identity-based policies refuse with, or `None` when
/// the decision allows it:
/// `User: arn:aws:iam::123456789012:user/bob is not authorized to perform:
/// codebuild:StartBuild on resource: arn:aws:codebuild:us-east-1:123456789012:project/p
/// because no identity-based policy allows the codebuild:StartBuild action`.
pub fn refusal_message(
    principal_arn: &str,
    action: &str,
    resource: &str,
    decision: Decision,
) -> Option<String> {
    let why = match decision {
        Decision::Allowed => return None,
        Decision::ImplicitDeny => {
            format!("because no identity-based policy allows the {action} action")
        }
        Decision::ExplicitDeny => "with an explicit deny in an identity-based policy".to_owned(),
    };
    Some(format!(
        "User: {principal_arn} is not authorized to perform: {action} on resource: {resource} {why}"
    ))
}

#[cfg(test)]
mod tests;
