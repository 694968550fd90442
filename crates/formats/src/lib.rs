//! The formats: parsing and validating the files users write, and compiling them into plans.
//!
//! **Invariant:** no IO. Every function takes text and returns values; callers read files.
//! **Invariant:** parsing never fails with `Err`: it returns the value it could build and
//! every problem found, each as a [`Diagnostic`] with file, line and column.

pub mod buildspec;
mod diagnostic;
mod read;
pub mod report;
mod yaml;

pub use diagnostic::{Diagnostic, Parsed, Pos, Severity};
