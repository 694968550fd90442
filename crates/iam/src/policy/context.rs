//! What a request brings to policy evaluation besides its action and resource: who makes it
//! ([`Principal`]) and the context keys ([`Context`]) conditions and policy variables read.
//!
//! Context key names are case-insensitive (kept lower-cased); values are multi-valued lists
//! (`codecommit:References` holds every ref a push moves) and compared as the condition's
//! operator says. The principal's own keys (`aws:username`, `aws:userid`, `aws:PrincipalArn`,
//! `aws:PrincipalAccount`) are read from the [`Principal`] itself unless the context sets them.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::pattern::Variable;

/// The IAM identity a request is made by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// `arn:aws:iam::123456789012:user/bob`, or an assumed role's session ARN
    /// (`arn:aws:sts::123456789012:assumed-role/role-name/session-name`).
    pub arn: String,
    /// The 12-digit account id.
    pub account: String,
    /// The user's name (`aws:username`); `None` for a role session, as in AWS.
    pub user_name: Option<String>,
    /// The unique id (`aws:userid`): the user's `AIDA…`, or `AROA…:session-name`.
    pub user_id: String,
}

/// The context keys of one request and their values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// Lower-cased key to its values.
    values: HashMap<String, Vec<String>>,
    /// The request's time ([`Context::set_time`]): `aws:CurrentTime` and `aws:EpochTime` are
    /// written out from it only when a condition or variable reads them, not for every request.
    time: Option<RequestTime>,
}

/// A request's time and, once read, its two keys' values (which follow from the time, so two
/// are equal when their times are, read or not).
#[derive(Debug, Clone, Default)]
struct RequestTime {
    unix_seconds: i64,
    current_time: OnceLock<Vec<String>>,
    epoch_time: OnceLock<Vec<String>>,
}

impl PartialEq for RequestTime {
    fn eq(&self, other: &RequestTime) -> bool {
        self.unix_seconds == other.unix_seconds
    }
}

impl Eq for RequestTime {}

impl Context {
    /// A context without keys.
    pub fn new() -> Context {
        Context::default()
    }

    /// The global keys every request has: the address it came from (`aws:SourceIp`),
    /// whether it came over TLS (`aws:SecureTransport`), its time (`aws:CurrentTime`,
    /// `aws:EpochTime`), and `aws:MultiFactorAuthPresent`, always `false` (Slipway has no
    /// MFA).
    pub fn for_request(source_ip: &str, secure_transport: bool, unix_seconds: i64) -> Context {
        let mut context = Context::new();
        context.insert("aws:SourceIp", source_ip);
        context.insert("aws:SecureTransport", secure_transport.to_string());
        context.insert("aws:MultiFactorAuthPresent", "false");
        context.set_time(unix_seconds);
        context
    }

    /// The tags a request sets (CreateRepository's, TagResource's): `aws:RequestTag/<key>`
    /// for each, and their keys as `aws:TagKeys`.
    pub fn set_request_tags<'t>(
        &mut self,
        tags: impl IntoIterator<Item = (&'t str, &'t str)>,
    ) -> &mut Context {
        let mut keys = Vec::new();
        for (key, value) in tags {
            self.set(&format!("aws:RequestTag/{key}"), vec![value.to_owned()]);
            keys.push(key.to_owned());
        }
        self.set("aws:TagKeys", keys)
    }

    /// The tags of the resource a request acts on: `aws:ResourceTag/<key>` for each.
    pub fn set_resource_tags<'t>(
        &mut self,
        tags: impl IntoIterator<Item = (&'t str, &'t str)>,
    ) -> &mut Context {
        for (key, value) in tags {
            self.set(&format!("aws:ResourceTag/{key}"), vec![value.to_owned()]);
        }
        self
    }

    /// Adds one value to `key` (after those it has).
    pub fn insert(&mut self, key: &str, value: impl Into<String>) -> &mut Context {
        self.values.entry(key.to_lowercase()).or_default().push(value.into());
        self
    }

    /// Gives `key` exactly these values (none makes the key absent).
    pub fn set(&mut self, key: &str, values: Vec<String>) -> &mut Context {
        if values.is_empty() {
            self.values.remove(&key.to_lowercase());
        } else {
            self.values.insert(key.to_lowercase(), values);
        }
        self
    }

    /// Sets `aws:CurrentTime` (ISO 8601, UTC, seconds) and `aws:EpochTime` to the given time;
    /// the caller reads the clock.
    pub fn set_time(&mut self, unix_seconds: i64) -> &mut Context {
        self.set(super::time::CURRENT_TIME, Vec::new());
        self.set(super::time::EPOCH_TIME, Vec::new());
        self.time = Some(RequestTime { unix_seconds, ..RequestTime::default() });
        self
    }

    /// The values of `key` (any case), if it has any.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.lookup(&key.to_lowercase())
    }

    /// The values of a lower-cased key.
    fn lookup(&self, key: &str) -> Option<&[String]> {
        if let Some(values) = self.values.get(key).filter(|values| !values.is_empty()) {
            return Some(values);
        }
        let time = self.time.as_ref()?;
        let seconds = time.unix_seconds;
        if key.eq_ignore_ascii_case(super::time::CURRENT_TIME) {
            Some(time.current_time.get_or_init(|| vec![super::time::iso8601(seconds)]))
        } else if key.eq_ignore_ascii_case(super::time::EPOCH_TIME) {
            Some(time.epoch_time.get_or_init(|| vec![seconds.to_string()]))
        } else {
            None
        }
    }
}

/// The values one key has in a request: a list from the context, or one of the principal's.
#[derive(Debug, Clone, Copy)]
pub(super) enum Values<'a> {
    List(&'a [String]),
    One(&'a str),
}

impl<'a> Values<'a> {
    pub(super) fn iter(self) -> impl Iterator<Item = &'a str> {
        let (list, one) = match self {
            Values::List(list) => (list, None),
            Values::One(one) => (&[][..], Some(one)),
        };
        list.iter().map(String::as_str).chain(one)
    }

    /// The value, if there is exactly one.
    fn single(self) -> Option<&'a str> {
        match self {
            Values::One(one) => Some(one),
            Values::List([one]) => Some(one),
            Values::List(_) => None,
        }
    }
}

/// One evaluation's view of the request: where keys are read, and the keys found missing
/// (for SimulatePrincipalPolicy's `MissingContextValues`).
pub(super) struct Scope<'c, 'p> {
    pub(super) context: &'c Context,
    pub(super) principal: Option<&'c Principal>,
    /// Key names as the policies write them, each once.
    pub(super) missing: Vec<&'p str>,
}

impl<'c, 'p> Scope<'c, 'p> {
    pub(super) fn new(context: &'c Context, principal: Option<&'c Principal>) -> Scope<'c, 'p> {
        Scope { context, principal, missing: Vec::new() }
    }

    /// The values of a lower-cased key.
    pub(super) fn values(&self, key: &str) -> Option<Values<'c>> {
        if let Some(list) = self.context.lookup(key) {
            return Some(Values::List(list));
        }
        let principal = self.principal?;
        let value = match key {
            "aws:username" => principal.user_name.as_deref()?,
            "aws:userid" => principal.user_id.as_str(),
            "aws:principalarn" => principal.arn.as_str(),
            "aws:principalaccount" => principal.account.as_str(),
            _ => return None,
        };
        Some(Values::One(value))
    }

    /// Notes that the policy's key `name` has no value in the request.
    pub(super) fn note_missing(&mut self, name: &'p str) {
        if !self.missing.iter().any(|known| known.eq_ignore_ascii_case(name)) {
            self.missing.push(name);
        }
    }

    /// The text a policy variable stands for: the key's single value, or the default. A key
    /// with several values cannot be substituted (as in AWS).
    pub(super) fn variable<'s>(&'s mut self, variable: &'p Variable) -> Option<&'s str>
    where
        'c: 's,
        'p: 's,
    {
        match self.values(&variable.key) {
            Some(values) => values.single().or(variable.default.as_deref()),
            None => {
                self.note_missing(&variable.name);
                variable.default.as_deref()
            }
        }
    }
}
