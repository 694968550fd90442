//! Tests of service-specific credentials.
