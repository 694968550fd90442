//! The patterns of policy documents, compiled once: action names, resource ARNs and
//! condition values, with the `*` and `?` wildcards where the element allows them and the
//! policy variables (`${aws:username}`, `${*}`, `${aws:username, 'default'}`) of 2012-10-17
//! documents.
//!
//! A pattern is a list of tokens matched left to right; a `*` remembers where it started so
//! a later mismatch can let it take one more character (the classic single-backtrack glob,
//! correct because only the last `*` seen ever needs to grow). Variables are looked up while
//! matching, so a match never allocates.

use super::context::Scope;

/// One piece of a pattern.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// Text matched as it is (case-folded if the pattern's user asks).
    Literal(String),
    /// `*`: any run of characters, the empty one too.
    Star,
    /// `?`: exactly one character.
    Question,
    /// `${key}` or `${key, 'default'}`.
    Variable(Variable),
}

/// A policy variable: a context key whose single value is put in its place.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Variable {
    /// The key as written in the policy (what MissingContextValues names).
    pub(super) name: String,
    /// The key lower-cased, the form the context is looked up with.
    pub(super) key: String,
    /// The text used when the key has no value.
    pub(super) default: Option<String>,
}

/// How a pattern's text is read.
#[derive(Debug, Clone, Copy)]
pub(super) struct Syntax {
    /// `*` and `?` are wildcards (otherwise ordinary characters).
    pub(super) wildcards: bool,
    /// `${…}` is a policy variable (2012-10-17 documents only).
    pub(super) variables: bool,
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Pattern {
    tokens: Vec<Token>,
}

impl Pattern {
    /// Compiles `text`; every text is a valid pattern (an unclosed `${` is plain text).
    pub(super) fn compile(text: &str, syntax: Syntax) -> Pattern {
        let mut tokens = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if syntax.variables
                && rest.starts_with("${")
                && let Some(end) = rest.find('}')
            {
                let inner = &rest[2..end];
                rest = &rest[end + 1..];
                match inner {
                    "*" | "?" | "$" => literal.push_str(inner),
                    _ => {
                        flush(&mut literal, &mut tokens);
                        tokens.push(Token::Variable(variable(inner)));
                    }
                }
                continue;
            }
            rest = &rest[c.len_utf8()..];
            match c {
                '*' if syntax.wildcards => {
                    flush(&mut literal, &mut tokens);
                    // `**` is `*`.
                    if tokens.last() != Some(&Token::Star) {
                        tokens.push(Token::Star);
                    }
                }
                '?' if syntax.wildcards => {
                    flush(&mut literal, &mut tokens);
                    tokens.push(Token::Question);
                }
                _ => literal.push(c),
            }
        }
        flush(&mut literal, &mut tokens);
        Pattern { tokens }
    }

    /// Whether `text` matches, comparing case-insensitively if `fold`. A variable without a
    /// value (and without a default) matches nothing; its key is noted as missing.
    pub(super) fn matches<'p>(&'p self, text: &str, fold: bool, scope: &mut Scope<'_, 'p>) -> bool {
        let tokens = self.tokens.as_slice();
        // The common shapes, without the loop.
        match tokens {
            [Token::Star] => return true,
            [Token::Literal(literal)] => {
                return prefix_length(text, literal, fold) == Some(text.len());
            }
            _ => {}
        }
        let (mut token, mut at) = (0, 0);
        // The token after the last `*` seen, and where in the text that `*`'s run ends.
        let mut star: Option<(usize, usize)> = None;
        loop {
            if let Some(current) = tokens.get(token) {
                let advanced = match current {
                    Token::Star => {
                        star = Some((token + 1, at));
                        token += 1;
                        continue;
                    }
                    Token::Question => text[at..].chars().next().map(char::len_utf8),
                    Token::Literal(literal) => prefix_length(&text[at..], literal, fold),
                    Token::Variable(variable) => match scope.variable(variable) {
                        Some(value) => prefix_length(&text[at..], value, fold),
                        None => return false,
                    },
                };
                if let Some(length) = advanced {
                    at += length;
                    token += 1;
                    continue;
                }
            } else if at == text.len() {
                return true;
            }
            // A mismatch: the last `*` takes one more character, or there is no match.
            let Some((after_star, run_end)) = star else {
                return false;
            };
            let Some(next) = text[run_end..].chars().next() else {
                return false;
            };
            let run_end = run_end + next.len_utf8();
            star = Some((after_star, run_end));
            token = after_star;
            at = run_end;
        }
    }
}

/// Ends the literal being collected.
fn flush(literal: &mut String, tokens: &mut Vec<Token>) {
    if !literal.is_empty() {
        tokens.push(Token::Literal(std::mem::take(literal)));
    }
}

/// The inside of `${…}`: a key, and perhaps `, 'default'`.
fn variable(inner: &str) -> Variable {
    let (name, default) = match inner.split_once(',') {
        Some((name, default)) => {
            let default = default.trim();
            let unquoted =
                default.strip_prefix('\'').and_then(|d| d.strip_suffix('\'')).unwrap_or(default);
            (name.trim(), Some(unquoted.to_owned()))
        }
        None => (inner.trim(), None),
    };
    Variable { name: name.to_owned(), key: name.to_lowercase(), default }
}

/// How many bytes of `text` the `literal` covers if `text` starts with it.
fn prefix_length(text: &str, literal: &str, fold: bool) -> Option<usize> {
    if !fold {
        return text.starts_with(literal).then_some(literal.len());
    }
    let mut chars = text.char_indices();
    for want in literal.chars() {
        let (_, have) = chars.next()?;
        if !same_char(have, want) {
            return None;
        }
    }
    Some(chars.next().map_or(text.len(), |(at, _)| at))
}

/// Whether two characters are equal ignoring case.
pub(super) fn same_char(a: char, b: char) -> bool {
    a == b || a.eq_ignore_ascii_case(&b) || (!a.is_ascii() && a.to_lowercase().eq(b.to_lowercase()))
}
