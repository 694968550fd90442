//! The `Condition` element: its operators, compiled from the document, and their evaluation
//! against a request's context keys, with AWS's rules (IAM User Guide, "Condition
//! operators" and "Conditions with multiple context keys or values"):
//!
//! - several operators, and several keys under one operator, are all required (AND);
//! - several values for one key: any may match (OR), or for a negated operator
//!   (`StringNotEquals`, `NotIpAddress`, …) none may (NOR);
//! - a key the request lacks makes the test false, a negated one true, an `…IfExists` one
//!   true; `Null` tests exactly that presence;
//! - `ForAnyValue:` holds if some request value passes (false when the key is missing or
//!   empty), `ForAllValues:` if every one does (true when missing or empty). Without either,
//!   a multi-valued key passes a positive test if any value does.

use std::net::IpAddr;

use super::context::{Scope, Values};
use super::pattern::{Pattern, Syntax};
use super::{PolicyError, time};

/// One key tested by one operator, with the policy's values.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Condition {
    /// The key as written (what MissingContextValues names).
    name: String,
    /// The key lower-cased.
    key: String,
    set: SetOperator,
    if_exists: bool,
    /// Whether the operator is a negated one (`StringNotEquals`, `ArnNotLike`, …): the test
    /// passes when no value matches.
    negated: bool,
    test: Test,
}

/// `ForAnyValue:`, `ForAllValues:` or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOperator {
    Single,
    AnyValue,
    AllValues,
}

/// How one request value is compared with the policy's values (the positive form).
#[derive(Debug, Clone, PartialEq)]
enum Test {
    /// The String operators, Bool and BinaryEquals.
    Text {
        fold: bool,
        values: Vec<Pattern>,
    },
    Numeric {
        order: Order,
        values: Vec<Option<f64>>,
    },
    Date {
        order: Order,
        values: Vec<Option<i128>>,
    },
    Ip {
        values: Vec<Option<Cidr>>,
    },
    Arn {
        values: Vec<ArnPattern>,
    },
    /// `Null`: `true` when the key must be absent, `false` when it must be present.
    Null {
        values: Vec<Option<bool>>,
    },
}

/// The comparison of the Numeric and Date operators (`…NotEquals` is `Equal`, negated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    Equal,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl Order {
    fn holds<T: PartialOrd>(self, request: T, policy: T) -> bool {
        match self {
            Order::Equal => request == policy,
            Order::Less => request < policy,
            Order::LessOrEqual => request <= policy,
            Order::Greater => request > policy,
            Order::GreaterOrEqual => request >= policy,
        }
    }
}

/// An address range, `203.0.113.0/24` or `2001:db8::/32` (a bare address is its own range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn parse(text: &str) -> Option<Cidr> {
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text.trim(), None),
        };
        let network: IpAddr = address.parse().ok()?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(prefix) => prefix.parse().ok().filter(|prefix| *prefix <= bits)?,
            None => bits,
        };
        Some(Cidr { network, prefix })
    }

    fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(network) & mask == u32::from(address) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(network) & mask == u128::from(address) & mask
            }
            _ => false,
        }
    }
}

/// An ARN pattern of the Arn operators: its six colon-separated parts, matched separately
/// (the last part keeps any further colons). `*` alone matches any ARN; a value of fewer
/// parts matches none.
#[derive(Debug, Clone, PartialEq)]
enum ArnPattern {
    Parts(Box<[Pattern; 6]>),
    Any,
    Invalid,
}

impl ArnPattern {
    fn compile(text: &str, syntax: Syntax) -> ArnPattern {
        if text == "*" {
            return ArnPattern::Any;
        }
        let parts: Vec<&str> = text.splitn(6, ':').collect();
        match <[&str; 6]>::try_from(parts) {
            Ok(parts) => {
                ArnPattern::Parts(Box::new(parts.map(|part| Pattern::compile(part, syntax))))
            }
            Err(_) => ArnPattern::Invalid,
        }
    }

    fn matches<'p>(&'p self, arn: &str, scope: &mut Scope<'_, 'p>) -> bool {
        let patterns = match self {
            ArnPattern::Any => return arn.splitn(6, ':').count() == 6,
            ArnPattern::Invalid => return false,
            ArnPattern::Parts(patterns) => patterns,
        };
        let mut parts = arn.splitn(6, ':');
        for pattern in patterns.iter() {
            match parts.next() {
                Some(part) if pattern.matches(part, false, scope) => {}
                _ => return false,
            }
        }
        true
    }
}

/// The operators, by their base name: (negated, how values compile).
enum Family {
    Text { wildcards: bool, fold: bool },
    Numeric(Order),
    Date(Order),
    Ip,
    Arn,
    Null,
}

fn family(name: &str) -> Option<(bool, Family)> {
    use Family::*;
    Some(match name {
        "StringEquals" => (false, Text { wildcards: false, fold: false }),
        "StringNotEquals" => (true, Text { wildcards: false, fold: false }),
        "StringEqualsIgnoreCase" => (false, Text { wildcards: false, fold: true }),
        "StringNotEqualsIgnoreCase" => (true, Text { wildcards: false, fold: true }),
        "StringLike" => (false, Text { wildcards: true, fold: false }),
        "StringNotLike" => (true, Text { wildcards: true, fold: false }),
        "Bool" => (false, Text { wildcards: false, fold: true }),
        "BinaryEquals" => (false, Text { wildcards: false, fold: false }),
        "NumericEquals" => (false, Numeric(Order::Equal)),
        "NumericNotEquals" => (true, Numeric(Order::Equal)),
        "NumericLessThan" => (false, Numeric(Order::Less)),
        "NumericLessThanEquals" => (false, Numeric(Order::LessOrEqual)),
        "NumericGreaterThan" => (false, Numeric(Order::Greater)),
        "NumericGreaterThanEquals" => (false, Numeric(Order::GreaterOrEqual)),
        "DateEquals" => (false, Date(Order::Equal)),
        "DateNotEquals" => (true, Date(Order::Equal)),
        "DateLessThan" => (false, Date(Order::Less)),
        "DateLessThanEquals" => (false, Date(Order::LessOrEqual)),
        "DateGreaterThan" => (false, Date(Order::Greater)),
        "DateGreaterThanEquals" => (false, Date(Order::GreaterOrEqual)),
        "IpAddress" => (false, Ip),
        "NotIpAddress" => (true, Ip),
        "ArnEquals" | "ArnLike" => (false, Arn),
        "ArnNotEquals" | "ArnNotLike" => (true, Arn),
        "Null" => (false, Null),
        _ => return None,
    })
}

impl Condition {
    /// The key tested, lower-cased.
    pub(super) fn key(&self) -> &str {
        &self.key
    }

    /// Compiles one `operator: {key: values}` entry's key. `values` are the policy's values
    /// as text (JSON numbers and booleans as written). `variables` is false for documents
    /// older than 2012-10-17.
    pub(super) fn compile(
        operator: &str,
        key: &str,
        values: &[String],
        variables: bool,
    ) -> Result<Condition, PolicyError> {
        let invalid = || PolicyError::InvalidConditionType(operator.to_owned());
        let (set, base) = if let Some(base) = operator.strip_prefix("ForAnyValue:") {
            (SetOperator::AnyValue, base)
        } else if let Some(base) = operator.strip_prefix("ForAllValues:") {
            (SetOperator::AllValues, base)
        } else {
            (SetOperator::Single, operator)
        };
        let (if_exists, base) = match base.strip_suffix("IfExists") {
            Some(base) if base != "Null" => (true, base),
            _ => (false, base),
        };
        let (negated, family) = family(base).ok_or_else(invalid)?;
        let text = |wildcards| Syntax { wildcards, variables };
        let test = match family {
            Family::Text { wildcards, fold } => Test::Text {
                fold,
                values: values.iter().map(|v| Pattern::compile(v, text(wildcards))).collect(),
            },
            Family::Numeric(order) => {
                Test::Numeric { order, values: values.iter().map(|v| number(v)).collect() }
            }
            Family::Date(order) => {
                Test::Date { order, values: values.iter().map(|v| time::parse(v)).collect() }
            }
            Family::Ip => Test::Ip { values: values.iter().map(|v| Cidr::parse(v)).collect() },
            Family::Arn => Test::Arn {
                values: values.iter().map(|v| ArnPattern::compile(v, text(true))).collect(),
            },
            Family::Null => Test::Null { values: values.iter().map(|v| parse_bool(v)).collect() },
        };
        Ok(Condition {
            name: key.to_owned(),
            key: key.to_lowercase(),
            set,
            if_exists,
            negated,
            test,
        })
    }

    /// Whether the request passes this test.
    pub(super) fn holds<'p>(&'p self, scope: &mut Scope<'_, 'p>) -> bool {
        let values = scope.values(&self.key);
        if let Test::Null { values: wanted } = &self.test {
            let absent = values.is_none();
            if absent {
                scope.note_missing(&self.name);
            }
            return wanted.contains(&Some(absent));
        }
        let Some(values) = values else {
            scope.note_missing(&self.name);
            return match self.set {
                SetOperator::AllValues => true,
                SetOperator::AnyValue => self.if_exists,
                SetOperator::Single => self.if_exists || self.negated,
            };
        };
        self.holds_for(values, scope)
    }

    fn holds_for<'p>(&'p self, values: Values<'_>, scope: &mut Scope<'_, 'p>) -> bool {
        match self.set {
            SetOperator::Single => {
                let any = values.iter().any(|value| self.matches(value, scope));
                any != self.negated
            }
            SetOperator::AnyValue => {
                values.iter().any(|value| self.matches(value, scope) != self.negated)
            }
            SetOperator::AllValues => {
                values.iter().all(|value| self.matches(value, scope) != self.negated)
            }
        }
    }

    /// Whether one request value matches any of the policy's values (the positive form).
    fn matches<'p>(&'p self, value: &str, scope: &mut Scope<'_, 'p>) -> bool {
        match &self.test {
            Test::Text { fold, values } => {
                values.iter().any(|pattern| pattern.matches(value, *fold, scope))
            }
            Test::Numeric { order, values } => match number(value) {
                Some(value) => values.iter().flatten().any(|policy| order.holds(value, *policy)),
                None => false,
            },
            Test::Date { order, values } => match time::parse(value) {
                Some(value) => values.iter().flatten().any(|policy| order.holds(value, *policy)),
                None => false,
            },
            Test::Ip { values } => match value.trim().parse::<IpAddr>() {
                Ok(address) => values.iter().flatten().any(|range| range.contains(address)),
                Err(_) => false,
            },
            Test::Arn { values } => values.iter().any(|pattern| pattern.matches(value, scope)),
            Test::Null { .. } => false,
        }
    }
}

/// A decimal number (not `inf` or `NaN`, which Rust's parser also reads).
fn number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|number| number.is_finite())
}

/// `true` or `false`, any case.
fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}
