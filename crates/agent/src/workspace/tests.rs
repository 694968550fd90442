//! Workspace tests: stale job directories and the source copy, on real directories.

use std::fs;

use super::*;

#[test]
fn a_stale_workspace_goes_and_a_running_one_stays() {
    let root = tempfile::tempdir().unwrap();
    // What an agent killed with -9 leaves: a job directory nobody holds any more.
    let stale = root.path().join("job-stale");
    fs::create_dir_all(stale.join("work/shell")).unwrap();
    fs::write(stale.join("work/shell/variables"), "declare -x TOKEN=secret").unwrap();
    // A job directory half-created, without its work directory.
    let half = root.path().join("job-half");
    fs::create_dir_all(half.join("source")).unwrap();
    // A build still running in this process holds its work directory.
    let running = root.path().join("job-running");
    fs::create_dir_all(running.join("work")).unwrap();
    let held = mark_in_use(&running.join("work")).expect("the work directory locks");
    // Not a job directory: left alone.
    let other = root.path().join("notes");
    fs::create_dir_all(&other).unwrap();

    let mut removed = remove_stale_workspaces(root.path()).unwrap();
    removed.sort();
    assert_eq!(removed, [half.as_path(), stale.as_path()]);
    assert!(!stale.exists() && !half.exists());
    assert!(running.join("work").is_dir() && other.is_dir());

    // Once its build ends, the next start removes it too. (A process another test forks at
    // that moment shares the lock until it execs, so the release is waited for.)
    drop(held);
    let deadline = crate::clock::instant() + std::time::Duration::from_secs(30);
    loop {
        let removed = remove_stale_workspaces(root.path()).unwrap();
        if !removed.is_empty() {
            assert_eq!(removed, [running.as_path()]);
            break;
        }
        assert!(crate::clock::instant() < deadline, "the lock was never released");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(!running.exists());
    // A work root that does not exist yet has nothing to remove.
    assert!(remove_stale_workspaces(&root.path().join("missing")).unwrap().is_empty());
}

#[test]
fn the_artifacts_folder_inside_the_source_is_not_copied() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    fs::create_dir_all(source.join("slipway-artifacts")).unwrap();
    fs::write(source.join("slipway-artifacts/artifacts.zip"), "zip").unwrap();
    fs::write(source.join("main.c"), "int main;").unwrap();
    let skip = inside(&source, &source.join("slipway-artifacts"));
    assert_eq!(skip.as_deref(), Some(Path::new("slipway-artifacts")));
    assert_eq!(inside(&source, &dir.path().join("elsewhere")), None);

    let copy = dir.path().join("copy");
    assert_eq!(copy_source(&source, &copy, None, skip.as_deref()).unwrap(), 1);
    assert!(copy.join("main.c").is_file() && !copy.join("slipway-artifacts").exists());

    let listed = [PathBuf::from("main.c"), PathBuf::from("slipway-artifacts/artifacts.zip")];
    let copy = dir.path().join("listed");
    assert_eq!(copy_source(&source, &copy, Some(&listed), skip.as_deref()).unwrap(), 1);
    assert!(!copy.join("slipway-artifacts").exists());
}
