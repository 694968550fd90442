//! Tests of the users module.
