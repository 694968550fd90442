//! Reading a policy document: the JSON grammar of the IAM User Guide ("IAM JSON policy
//! element reference"), checked as IAM checks it, into the compiled [`Policy`].

use serde_json::{Map, Value};

use super::condition::Condition;
use super::pattern::{Pattern, Syntax};
use super::{
    Effect, Elements, Policy, PolicyError, PolicyKind, PrincipalPattern, Statement, Version,
};

pub(super) fn parse(text: &str, kind: PolicyKind) -> Result<Policy, PolicyError> {
    let document: Value = serde_json::from_str(text).map_err(|_| PolicyError::Syntax)?;
    let Value::Object(document) = document else {
        return Err(PolicyError::Syntax);
    };
    let mut version = None;
    let mut statements = None;
    for (field, value) in &document {
        match field.as_str() {
            "Version" => version = Some(value),
            "Id" if value.is_string() => {}
            "Id" => return Err(PolicyError::Syntax),
            "Statement" => statements = Some(value),
            other => return Err(PolicyError::UnknownField(other.to_owned())),
        }
    }
    let version = match version.map(|version| version.as_str()) {
        None => Version::V2008_10_17,
        Some(Some("2012-10-17")) => Version::V2012_10_17,
        Some(Some("2008-10-17")) => Version::V2008_10_17,
        Some(_) => return Err(PolicyError::UnsupportedVersion),
    };
    let statements = match statements {
        None => return Err(PolicyError::MissingStatement),
        Some(Value::Array(statements)) if statements.is_empty() => {
            return Err(PolicyError::MissingStatement);
        }
        Some(Value::Array(statements)) => statements.iter().collect(),
        Some(statement @ Value::Object(_)) => vec![statement],
        Some(_) => return Err(PolicyError::Syntax),
    };
    let variables = version == Version::V2012_10_17;
    let statements = statements
        .into_iter()
        .map(|statement| self::statement(statement, kind, variables))
        .collect::<Result<Vec<_>, _>>()?;
    let mut sids: Vec<&str> =
        statements.iter().filter_map(|s| s.sid.as_deref()).filter(|s| !s.is_empty()).collect();
    sids.sort_unstable();
    if let Some(pair) = sids.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(PolicyError::DuplicateSid(pair[0].to_owned()));
    }
    Ok(Policy { version, kind, statements })
}

/// The fields of one statement, as found.
#[derive(Default)]
struct Fields<'a> {
    sid: Option<&'a Value>,
    effect: Option<&'a Value>,
    action: Option<&'a Value>,
    not_action: Option<&'a Value>,
    resource: Option<&'a Value>,
    not_resource: Option<&'a Value>,
    principal: Option<&'a Value>,
    not_principal: Option<&'a Value>,
    condition: Option<&'a Value>,
}

fn statement(value: &Value, kind: PolicyKind, variables: bool) -> Result<Statement, PolicyError> {
    let Value::Object(map) = value else {
        return Err(PolicyError::Syntax);
    };
    let mut fields = Fields::default();
    for (field, value) in map {
        let slot = match field.as_str() {
            "Sid" => &mut fields.sid,
            "Effect" => &mut fields.effect,
            "Action" => &mut fields.action,
            "NotAction" => &mut fields.not_action,
            "Resource" => &mut fields.resource,
            "NotResource" => &mut fields.not_resource,
            "Principal" => &mut fields.principal,
            "NotPrincipal" => &mut fields.not_principal,
            "Condition" => &mut fields.condition,
            other => return Err(PolicyError::UnknownField(other.to_owned())),
        };
        *slot = Some(value);
    }

    let sid = match fields.sid {
        None => None,
        Some(Value::String(sid)) if sid.chars().all(|c| c.is_ascii_alphanumeric()) => {
            Some(sid.clone())
        }
        Some(Value::String(sid)) => return Err(PolicyError::InvalidSid(sid.clone())),
        Some(_) => return Err(PolicyError::Syntax),
    };
    let effect = match fields.effect {
        None => return Err(PolicyError::MissingEffect),
        Some(Value::String(effect)) if effect == "Allow" => Effect::Allow,
        Some(Value::String(effect)) if effect == "Deny" => Effect::Deny,
        Some(Value::String(effect)) => return Err(PolicyError::InvalidEffect(effect.clone())),
        Some(other) => return Err(PolicyError::InvalidEffect(other.to_string())),
    };

    let principals = match kind {
        PolicyKind::Identity => {
            if fields.principal.is_some() {
                return Err(PolicyError::ProhibitedField("Principal"));
            }
            if fields.not_principal.is_some() {
                return Err(PolicyError::ProhibitedField("NotPrincipal"));
            }
            None
        }
        PolicyKind::Trust => {
            Some(match either(fields.principal, fields.not_principal, "Principal")? {
                None => return Err(PolicyError::MissingPrincipal),
                Some((negated, value)) => Elements { negated, items: principals(value)? },
            })
        }
    };

    let actions = match either(fields.action, fields.not_action, "Action")? {
        None => return Err(PolicyError::MissingActions),
        Some((negated, value)) => {
            let items = strings(value)?.into_iter().map(action).collect::<Result<Vec<_>, _>>()?;
            if items.is_empty() {
                return Err(PolicyError::MissingActions);
            }
            Elements { negated, items }
        }
    };

    let resources = match kind {
        PolicyKind::Trust => {
            if fields.resource.is_some() {
                return Err(PolicyError::ProhibitedField("Resource"));
            }
            if fields.not_resource.is_some() {
                return Err(PolicyError::ProhibitedField("NotResource"));
            }
            None
        }
        PolicyKind::Identity => match either(fields.resource, fields.not_resource, "Resource")? {
            None => return Err(PolicyError::MissingResources),
            Some((negated, value)) => {
                let items = strings(value)?
                    .into_iter()
                    .map(|resource| self::resource(resource, variables))
                    .collect::<Result<Vec<_>, _>>()?;
                if items.is_empty() {
                    return Err(PolicyError::MissingResources);
                }
                Some(Elements { negated, items })
            }
        },
    };

    let conditions = match fields.condition {
        None => Vec::new(),
        Some(Value::Object(operators)) => conditions(operators, variables)?,
        Some(_) => return Err(PolicyError::Syntax),
    };

    Ok(Statement { sid, effect, actions, resources, principals, conditions })
}

/// An element or its `Not…` form, not both: whether it is the `Not…` one, and its value.
fn either<'a>(
    plain: Option<&'a Value>,
    not: Option<&'a Value>,
    name: &'static str,
) -> Result<Option<(bool, &'a Value)>, PolicyError> {
    match (plain, not) {
        (Some(_), Some(_)) => {
            let not_name = match name {
                "Action" => "NotAction",
                "Resource" => "NotResource",
                _ => "NotPrincipal",
            };
            Err(PolicyError::ConflictingFields(name, not_name))
        }
        (Some(value), None) => Ok(Some((false, value))),
        (None, Some(value)) => Ok(Some((true, value))),
        (None, None) => Ok(None),
    }
}

/// A string or a list of strings.
fn strings(value: &Value) -> Result<Vec<&str>, PolicyError> {
    match value {
        Value::String(one) => Ok(vec![one.as_str()]),
        Value::Array(list) => {
            list.iter().map(|item| item.as_str().ok_or(PolicyError::Syntax)).collect()
        }
        _ => Err(PolicyError::Syntax),
    }
}

/// An action pattern: `*`, or `service:Operation` with wildcards in the operation.
fn action(text: &str) -> Result<Pattern, PolicyError> {
    if text != "*" {
        let Some((vendor, operation)) = text.split_once(':') else {
            return Err(PolicyError::InvalidNamespace(text.to_owned()));
        };
        if operation.contains(':') {
            return Err(PolicyError::TooManyColons(text.to_owned()));
        }
        if vendor.contains(['*', '?']) {
            return Err(PolicyError::WildcardVendor(text.to_owned()));
        }
        if !valid_namespace(vendor) {
            return Err(PolicyError::InvalidNamespace(text.to_owned()));
        }
    }
    Ok(Pattern::compile(text, Syntax { wildcards: true, variables: false }))
}

/// A service prefix: letters, digits and `-`.
fn valid_namespace(vendor: &str) -> bool {
    !vendor.is_empty() && vendor.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A resource pattern: `*` or an ARN (with wildcards and, in 2012-10-17, variables).
fn resource(text: &str, variables: bool) -> Result<Pattern, PolicyError> {
    if text != "*" && !(text.starts_with("arn:") && text.len() > 4) {
        return Err(PolicyError::InvalidResource(text.to_owned()));
    }
    Ok(Pattern::compile(text, Syntax { wildcards: true, variables }))
}

/// A `Principal` element: `"*"` or `{"AWS": …, "Service": …}`.
fn principals(value: &Value) -> Result<Vec<PrincipalPattern>, PolicyError> {
    let map = match value {
        Value::String(star) if star == "*" => return Ok(vec![PrincipalPattern::Anyone]),
        Value::Object(map) if !map.is_empty() => map,
        other => return Err(PolicyError::InvalidPrincipal(other.to_string())),
    };
    let mut patterns = Vec::new();
    for (kind, values) in map {
        for value in strings(values)? {
            let invalid = || PolicyError::InvalidPrincipal(format!("\"{kind}\":\"{value}\""));
            let pattern = match kind.as_str() {
                "AWS" => aws_principal(value).ok_or_else(invalid)?,
                "Service" if !value.is_empty() && value != "*" => {
                    PrincipalPattern::Service(value.to_owned())
                }
                "Federated" | "CanonicalUser" if !value.is_empty() => PrincipalPattern::Unsupported,
                _ => return Err(invalid()),
            };
            patterns.push(pattern);
        }
    }
    Ok(patterns)
}

/// `*`, an account id, `arn:aws:iam::ACCOUNT:root`, a user or role ARN, or a role
/// session's ARN.
fn aws_principal(value: &str) -> Option<PrincipalPattern> {
    if value == "*" {
        return Some(PrincipalPattern::AnyAws);
    }
    if is_account(value) {
        return Some(PrincipalPattern::Account(value.to_owned()));
    }
    let (service, rest) = if let Some(rest) = value.strip_prefix("arn:aws:iam::") {
        ("iam", rest)
    } else {
        ("sts", value.strip_prefix("arn:aws:sts::")?)
    };
    let (account, name) = rest.split_once(':')?;
    if !is_account(account) {
        return None;
    }
    let valid = match service {
        "iam" if name == "root" => return Some(PrincipalPattern::Account(account.to_owned())),
        "iam" => {
            ["user/", "role/"].iter().any(|kind| name.len() > kind.len() && name.starts_with(kind))
        }
        _ => name.starts_with("assumed-role/") && name.len() > "assumed-role/".len(),
    };
    (valid && !name.contains(['*', '?'])).then(|| PrincipalPattern::Arn(value.to_owned()))
}

fn is_account(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// A `Condition` element: `{operator: {key: value or [values]}}`.
fn conditions(
    operators: &Map<String, Value>,
    variables: bool,
) -> Result<Vec<Condition>, PolicyError> {
    let mut conditions = Vec::new();
    for (operator, keys) in operators {
        let Value::Object(keys) = keys else {
            return Err(PolicyError::Syntax);
        };
        for (key, values) in keys {
            let namespace = key.split_once(':').map(|(namespace, _)| namespace);
            if !namespace.is_some_and(valid_namespace) {
                return Err(PolicyError::InvalidNamespace(key.clone()));
            }
            let values = match values {
                Value::Array(list) => list.iter().map(condition_value).collect::<Result<_, _>>()?,
                one => vec![condition_value(one)?],
            };
            conditions.push(Condition::compile(operator, key, &values, variables)?);
        }
    }
    Ok(conditions)
}

/// A condition value as text: JSON strings, numbers and booleans are all accepted.
fn condition_value(value: &Value) -> Result<String, PolicyError> {
    match value {
        Value::String(text) => Ok(text.clone()),
        Value::Number(number) => Ok(number.to_string()),
        Value::Bool(flag) => Ok(flag.to_string()),
        _ => Err(PolicyError::Syntax),
    }
}
