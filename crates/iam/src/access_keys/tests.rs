//! Tests of the access_keys module.
