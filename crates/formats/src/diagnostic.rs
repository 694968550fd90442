//! Diagnostics: every problem found in a user's file, with where it is.

use std::fmt;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The file is usable, but probably not what its author meant (an unknown key).
    Warning,
    /// The file cannot be used as it is.
    Error,
}

/// A position in a file, both 1-based, columns counted in characters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// The line, from 1.
    pub line: u32,
    /// The column, from 1.
    pub column: u32,
}

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// How bad it is.
    pub severity: Severity,
    /// The file's name as the user gave it.
    pub file: String,
    /// Where the problem is.
    pub pos: Pos,
    /// What is wrong, in one sentence without a trailing period.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    /// `FILE:LINE:COL: error: message`, the form compilers use and editors link.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(
            f,
            "{}:{}:{}: {severity}: {}",
            self.file, self.pos.line, self.pos.column, self.message
        )
    }
}

/// The result of parsing a user's file: whatever value could be built, and every problem.
///
/// `value` is `None` only when nothing usable could be built (e.g. the YAML does not parse).
/// A value with error diagnostics must not be executed.
#[derive(Debug, Clone)]
pub struct Parsed<T> {
    /// The value, as far as it could be built.
    pub value: Option<T>,
    /// Every problem, in the order of their positions in the file.
    pub diagnostics: Vec<Diagnostic>,
}

impl<T> Parsed<T> {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|it| it.severity == Severity::Error)
    }

    /// The value, if it was built and no diagnostic is an error.
    pub fn ok(&self) -> Option<&T> {
        if self.has_errors() { None } else { self.value.as_ref() }
    }
}

/// Collects diagnostics for one file.
#[derive(Debug)]
pub(crate) struct Sink {
    file: String,
    pub(crate) diagnostics: Vec<Diagnostic>,
}

impl Sink {
    pub(crate) fn new(file: &str) -> Sink {
        Sink { file: file.to_owned(), diagnostics: Vec::new() }
    }

    pub(crate) fn error(&mut self, pos: Pos, message: impl Into<String>) {
        self.push(Severity::Error, pos, message.into());
    }

    pub(crate) fn warning(&mut self, pos: Pos, message: impl Into<String>) {
        self.push(Severity::Warning, pos, message.into());
    }

    fn push(&mut self, severity: Severity, pos: Pos, message: String) {
        self.diagnostics.push(Diagnostic { severity, file: self.file.clone(), pos, message });
    }

    /// The diagnostics in file order; problems at the same place keep the order they were found.
    pub(crate) fn finish(mut self) -> Vec<Diagnostic> {
        self.diagnostics.sort_by_key(|it| it.pos);
        self.diagnostics
    }
}
