//! Unit tests of the repositories on disk.

use std::path::Path;

use super::*;

#[tokio::test]
async fn init_bare_makes_a_pushable_repository() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("repos/deep/x.git");
    init_bare(&path, "trunk").await.unwrap();
    assert_eq!(std::fs::read_to_string(path.join("HEAD")).unwrap(), "ref: refs/heads/trunk\n");
    let config = std::fs::read_to_string(path.join("config")).unwrap();
    assert!(config.contains("denyNonFastForwards = false"), "{config}");
    assert!(config.contains("receivepack = true"), "{config}");
    assert!(Path::new(&path).join("objects").is_dir());
    assert!(init_bare(&dir.path().join("bad.git"), "bad..name").await.is_err());
}
