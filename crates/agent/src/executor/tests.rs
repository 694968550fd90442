//! Executor tests: real bash, real files.
