//! Tests of SSH keys through the API.
