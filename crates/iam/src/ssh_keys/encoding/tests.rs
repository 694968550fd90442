//! Tests of the key encodings.
