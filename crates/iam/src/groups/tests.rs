//! Tests of the groups module.
