//! The build cache: restoring and saving `cache.paths` under a key, and `codebuild-hash-files`.
