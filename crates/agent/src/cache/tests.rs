//! Tests for the build cache, on real files in temporary directories.
//!
//! Paths outside the source directory (which the cache refuses) are in the tests' own
//! temporary directories, so the tests never touch anything else.

use std::fs::{self, File};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use protocol::{CacheAction, CacheSpec};
use tempfile::TempDir;
use zip::write::SimpleFileOptions;
use zip::{ZipArchive, ZipWriter};

use super::*;

/// Creates `relative` under `root` with `contents`, making parent directories.
fn write(root: &Path, relative: &str, contents: &str) {
    let path = root.join(relative);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, contents).unwrap();
}

fn read(root: &Path, relative: &str) -> String {
    fs::read_to_string(root.join(relative)).unwrap()
}

fn spec(paths: &[&str]) -> CacheSpec {
    CacheSpec { paths: paths.iter().map(|path| (*path).to_owned()).collect(), ..Default::default() }
}

fn keyed(paths: &[&str], key: &str, fallbacks: &[&str]) -> CacheSpec {
    CacheSpec {
        key: Some(key.to_owned()),
        fallback_keys: fallbacks.iter().map(|key| (*key).to_owned()).collect(),
        ..spec(paths)
    }
}

/// The names in the cache directory, sorted.
fn listing(cache: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(cache)
        .unwrap()
        .map(|item| item.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn relative_paths_round_trip_into_another_source_directory() {
    let cache = TempDir::new().unwrap();
    let first = TempDir::new().unwrap();
    write(first.path(), "node_modules/left-pad/index.js", "module.exports = 1;");
    write(first.path(), "node_modules/.bin/tool", "#!/bin/sh\n");
    write(first.path(), "src/main.js", "not cached");
    let tool = first.path().join("node_modules/.bin/tool");
    fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).unwrap();
    let when = UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    File::options().write(true).open(&tool).unwrap().set_modified(when).unwrap();
    symlink("../left-pad/index.js", first.path().join("node_modules/.bin/left-pad")).unwrap();

    let spec = spec(&["node_modules/**/*"]);
    assert_eq!(
        save(cache.path(), &spec, first.path()).unwrap(),
        SaveOutcome::Saved { key: DEFAULT_KEY.to_owned(), files: 3 }
    );
    assert_eq!(listing(cache.path()), ["default.zip"], "no temporary file is left behind");

    let second = TempDir::new().unwrap();
    assert_eq!(
        restore(cache.path(), &spec, second.path()).unwrap(),
        RestoreOutcome::Restored { key: DEFAULT_KEY.to_owned(), files: 3 }
    );
    assert_eq!(read(second.path(), "node_modules/left-pad/index.js"), "module.exports = 1;");
    assert!(!second.path().join("src/main.js").exists());
    let restored_tool = fs::metadata(second.path().join("node_modules/.bin/tool")).unwrap();
    assert_eq!(restored_tool.permissions().mode() & 0o777, 0o755);
    assert_eq!(restored_tool.modified().unwrap(), when);
    let link = second.path().join("node_modules/.bin/left-pad");
    assert_eq!(fs::read_link(&link).unwrap(), Path::new("../left-pad/index.js"));
    assert_eq!(fs::read_to_string(&link).unwrap(), "module.exports = 1;");
}

/// Whether saving `paths` from `src` is refused as reaching outside the source directory,
/// with nothing written to the cache.
fn save_is_refused(src: &Path, paths: &[&str]) -> String {
    let cache = TempDir::new().unwrap();
    let err = save(cache.path(), &spec(paths), src).unwrap_err();
    assert!(
        matches!(err, CacheError::Files(ArtifactError::OutsideSource { .. })),
        "{paths:?}: {err:?}"
    );
    assert_eq!(fs::read_dir(cache.path()).unwrap().count(), 0, "{paths:?}: nothing saved");
    err.to_string()
}

#[test]
fn paths_outside_the_source_directory_are_never_saved() {
    let outside = TempDir::new().unwrap();
    write(outside.path(), ".m2/settings.xml", "host file");
    let src = outside.path().join("src");
    write(&src, "in.txt", "in");

    // An absolute path, a `../` path, and a link to a directory outside.
    let absolute = format!("{}/.m2/**/*", outside.path().display());
    let message = save_is_refused(&src, &[&absolute]);
    assert!(message.contains(".m2"), "{message}");
    save_is_refused(&src, &["../.m2/settings.xml"]);
    save_is_refused(&src, &["../.m2/*"]);
    symlink(outside.path().join(".m2"), src.join("m2")).unwrap();
    let message = save_is_refused(&src, &["m2/**/*"]);
    assert!(message.contains("m2"), "{message}");
    save_is_refused(&src, &["m2/settings.xml"]);

    // A link to a host file is kept as a link, never read.
    symlink(outside.path().join(".m2/settings.xml"), src.join("settings.xml")).unwrap();
    let cache = TempDir::new().unwrap();
    save(cache.path(), &spec(&["settings.xml"]), &src).unwrap();
    let mut archive =
        ZipArchive::new(File::open(cache.path().join(DEFAULT_FILE)).unwrap()).unwrap();
    let entry = archive.by_index(0).unwrap();
    assert!(entry.is_symlink());
}

#[test]
fn restore_writes_nothing_outside_the_source_directory() {
    let outside = TempDir::new().unwrap();
    let src = outside.path().join("src");
    fs::create_dir_all(&src).unwrap();

    // An entry of an earlier version naming an absolute path.
    let cache = TempDir::new().unwrap();
    let mut zip = ZipWriter::new(File::create(cache.path().join(DEFAULT_FILE)).unwrap());
    let target = outside.path().join("planted.txt");
    zip.start_file(format!("abs{}", target.display()), SimpleFileOptions::default()).unwrap();
    zip.finish().unwrap();
    let err = restore(cache.path(), &spec(&["**/*"]), &src).unwrap_err();
    assert!(matches!(err, CacheError::BadEntry { .. }), "{err:?}");
    assert!(!target.exists());

    // A `src/` entry whose directory is, in the next build's source, a link out of it.
    let cache = TempDir::new().unwrap();
    let mut zip = ZipWriter::new(File::create(cache.path().join(DEFAULT_FILE)).unwrap());
    zip.start_file("src/lib/new/planted.txt", SimpleFileOptions::default()).unwrap();
    zip.finish().unwrap();
    fs::create_dir_all(outside.path().join("host-lib")).unwrap();
    symlink(outside.path().join("host-lib"), src.join("lib")).unwrap();
    let err = restore(cache.path(), &spec(&["**/*"]), &src).unwrap_err();
    assert!(matches!(err, CacheError::Files(ArtifactError::OutsideSource { .. })), "{err:?}");
    assert_eq!(fs::read_dir(outside.path().join("host-lib")).unwrap().count(), 0);
}

#[test]
fn absolute_paths_into_the_source_directory_follow_the_source_directory() {
    let cache = TempDir::new().unwrap();
    let first = TempDir::new().unwrap();
    write(first.path(), "target/deps/libx.rlib", "rlib");
    // What `$CODEBUILD_SRC_DIR/target/**/*` expands to.
    let pattern = format!("{}/target/**/*", first.path().display());
    save(cache.path(), &spec(&[&pattern]), first.path()).unwrap();

    let second = TempDir::new().unwrap();
    let pattern = format!("{}/target/**/*", second.path().display());
    restore(cache.path(), &spec(&[&pattern]), second.path()).unwrap();
    assert_eq!(read(second.path(), "target/deps/libx.rlib"), "rlib");
}

#[test]
fn restore_replaces_links_and_read_only_files_instead_of_writing_through_them() {
    let cache = TempDir::new().unwrap();
    let src = TempDir::new().unwrap();
    write(src.path(), "deps/a.txt", "cached");
    write(src.path(), "deps/ro.txt", "cached ro");
    fs::set_permissions(src.path().join("deps/ro.txt"), fs::Permissions::from_mode(0o444)).unwrap();
    let spec = spec(&["deps/*"]);
    save(cache.path(), &spec, src.path()).unwrap();

    let outside = TempDir::new().unwrap();
    write(outside.path(), "victim.txt", "untouched");
    fs::remove_file(src.path().join("deps/a.txt")).unwrap();
    symlink(outside.path().join("victim.txt"), src.path().join("deps/a.txt")).unwrap();
    restore(cache.path(), &spec, src.path()).unwrap();

    assert_eq!(read(outside.path(), "victim.txt"), "untouched");
    assert!(!fs::symlink_metadata(src.path().join("deps/a.txt")).unwrap().is_symlink());
    assert_eq!(read(src.path(), "deps/a.txt"), "cached");
    assert_eq!(read(src.path(), "deps/ro.txt"), "cached ro");
}

#[test]
fn keyed_entries_are_immutable() {
    let cache = TempDir::new().unwrap();
    let src = TempDir::new().unwrap();
    write(src.path(), "deps/lib.txt", "v1");
    let spec = keyed(&["deps/**/*"], "deps-abc", &[]);
    assert_eq!(
        save(cache.path(), &spec, src.path()).unwrap(),
        SaveOutcome::Saved { key: "deps-abc".to_owned(), files: 1 }
    );
    write(src.path(), "deps/lib.txt", "v2");
    assert_eq!(
        save(cache.path(), &spec, src.path()).unwrap(),
        SaveOutcome::AlreadyExists { key: "deps-abc".to_owned() }
    );

    let fresh = TempDir::new().unwrap();
    assert_eq!(
        restore(cache.path(), &spec, fresh.path()).unwrap(),
        RestoreOutcome::Restored { key: "deps-abc".to_owned(), files: 1 }
    );
    assert_eq!(read(fresh.path(), "deps/lib.txt"), "v1");
}

#[test]
fn the_unkeyed_entry_is_replaced_by_each_save() {
    let cache = TempDir::new().unwrap();
    let src = TempDir::new().unwrap();
    let spec = spec(&["deps/*"]);
    write(src.path(), "deps/lib.txt", "v1");
    write(src.path(), "deps/gone.txt", "only in v1");
    save(cache.path(), &spec, src.path()).unwrap();
    write(src.path(), "deps/lib.txt", "v2");
    fs::remove_file(src.path().join("deps/gone.txt")).unwrap();
    assert_eq!(
        save(cache.path(), &spec, src.path()).unwrap(),
        SaveOutcome::Saved { key: DEFAULT_KEY.to_owned(), files: 1 }
    );

    let fresh = TempDir::new().unwrap();
    restore(cache.path(), &spec, fresh.path()).unwrap();
    assert_eq!(read(fresh.path(), "deps/lib.txt"), "v2");
    assert!(!fresh.path().join("deps/gone.txt").exists());
    assert_eq!(listing(cache.path()), ["default.zip"]);
}

#[test]
fn fallback_keys_are_prefixes_tried_in_order_newest_first() {
    let cache = TempDir::new().unwrap();
    let src = TempDir::new().unwrap();
    for (key, contents) in [("npm-aaa", "old npm"), ("npm-bbb", "new npm"), ("yarn-1", "yarn")] {
        write(src.path(), "deps/which.txt", contents);
        save(cache.path(), &keyed(&["deps/*"], key, &[]), src.path()).unwrap();
    }

    let restore_with = |fallbacks: &[&str]| {
        let fresh = TempDir::new().unwrap();
        let outcome =
            restore(cache.path(), &keyed(&["deps/*"], "npm-zzz", fallbacks), fresh.path()).unwrap();
        let contents = fs::read_to_string(fresh.path().join("deps/which.txt")).ok();
        (outcome, contents)
    };

    // `npm-aaa` also matches, but `npm-bbb` was saved after it.
    assert_eq!(
        restore_with(&["nothing-", "npm-"]),
        (
            RestoreOutcome::Restored { key: "npm-bbb".to_owned(), files: 1 },
            Some("new npm".to_owned())
        )
    );
    // The first prefix that matches anything wins, whatever comes after it.
    assert_eq!(
        restore_with(&["yarn-", "npm-"]),
        (RestoreOutcome::Restored { key: "yarn-1".to_owned(), files: 1 }, Some("yarn".to_owned()))
    );
    assert_eq!(
        restore_with(&["npm-a"]),
        (
            RestoreOutcome::Restored { key: "npm-aaa".to_owned(), files: 1 },
            Some("old npm".to_owned())
        )
    );
    assert_eq!(restore_with(&["pip-"]), (RestoreOutcome::Missed, None));
    assert_eq!(restore_with(&[]), (RestoreOutcome::Missed, None));
}

#[test]
fn an_exact_key_wins_over_fallbacks() {
    let cache = TempDir::new().unwrap();
    let src = TempDir::new().unwrap();
    write(src.path(), "deps/which.txt", "exact");
    save(cache.path(), &keyed(&["deps/*"], "k-1", &[]), src.path()).unwrap();
    write(src.path(), "deps/which.txt", "newer");
    save(cache.path(), &keyed(&["deps/*"], "k-2", &[]), src.path()).unwrap();

    let fresh = TempDir::new().unwrap();
    let outcome = restore(cache.path(), &keyed(&["deps/*"], "k-1", &["k-"]), fresh.path()).unwrap();
    assert_eq!(outcome, RestoreOutcome::Restored { key: "k-1".to_owned(), files: 1 });
    assert_eq!(read(fresh.path(), "deps/which.txt"), "exact");
}

#[test]
fn fallback_keys_are_ignored_without_a_key() {
    let cache = TempDir::new().unwrap();
    let src = TempDir::new().unwrap();
    write(src.path(), "deps/x", "x");
    save(cache.path(), &keyed(&["deps/*"], "deps-1", &[]), src.path()).unwrap();
    let unkeyed = CacheSpec { fallback_keys: vec!["deps-".to_owned()], ..spec(&["deps/*"]) };
    assert_eq!(restore(cache.path(), &unkeyed, src.path()).unwrap(), RestoreOutcome::Missed);
}

#[test]
fn keys_with_unsafe_characters_round_trip() {
    let cache = TempDir::new().unwrap();
    let src = TempDir::new().unwrap();
    write(src.path(), "deps/x", "x");
    let key = "deps/linux x64:v1%..";
    save(cache.path(), &keyed(&["deps/*"], key, &[]), src.path()).unwrap();
    let names = listing(cache.path());
    assert_eq!(names.len(), 1);
    assert!(!names[0].contains('/') && !names[0].contains(' '), "{names:?}");

    let exact = restore(cache.path(), &keyed(&["deps/*"], key, &[]), src.path()).unwrap();
    assert_eq!(exact, RestoreOutcome::Restored { key: key.to_owned(), files: 1 });
    let by_prefix =
        restore(cache.path(), &keyed(&["deps/*"], "other", &["deps/linux "]), src.path()).unwrap();
    assert_eq!(by_prefix, RestoreOutcome::Restored { key: key.to_owned(), files: 1 });
}

#[test]
fn long_keys_are_stored_by_hash_and_still_match_prefixes() {
    let cache = TempDir::new().unwrap();
    let src = TempDir::new().unwrap();
    write(src.path(), "deps/x", "x");
    let key = format!("long/{}", "é".repeat(100));
    save(cache.path(), &keyed(&["deps/*"], &key, &[]), src.path()).unwrap();
    let names = listing(cache.path());
    assert!(names[0].starts_with("h-") && names[0].len() < 80, "{names:?}");

    assert_eq!(
        restore(cache.path(), &keyed(&["deps/*"], &key, &[]), src.path()).unwrap(),
        RestoreOutcome::Restored { key: key.clone(), files: 1 }
    );
    assert_eq!(
        restore(cache.path(), &keyed(&["deps/*"], "miss", &["long/é"]), src.path()).unwrap(),
        RestoreOutcome::Restored { key: key.clone(), files: 1 }
    );
    assert_eq!(
        save(cache.path(), &keyed(&["deps/*"], &key, &[]), src.path()).unwrap(),
        SaveOutcome::AlreadyExists { key }
    );
}

#[test]
fn percent_encoding_is_reversible() {
    for key in ["plain-key_1.0", "a/b c", "100%", "ünïcödé", ""] {
        assert_eq!(percent_decode(&percent_encode(key)).as_deref(), Some(key));
    }
    assert_eq!(percent_encode("a/b"), "a%2Fb");
    assert_eq!(percent_encode("ü %"), "%C3%BC%20%25");
    // Names the encoder could not have written are no keys: broken escapes (from_str_radix
    // would take the sign of `%+1`), lowercase hex, bytes it escapes, no UTF-8.
    for name in ["bad%2", "%+1", "%-1x", "%zz", "a%2fb", "a/b", "a b", "%FF"] {
        assert_eq!(percent_decode(name), None, "{name}");
    }
}

#[test]
fn action_restore_never_saves_and_action_save_never_restores() {
    let cache = TempDir::new().unwrap();
    let src = TempDir::new().unwrap();
    write(src.path(), "deps/x", "x");
    let restore_only = CacheSpec { action: CacheAction::Restore, ..spec(&["deps/*"]) };
    assert_eq!(save(cache.path(), &restore_only, src.path()).unwrap(), SaveOutcome::Skipped);
    assert!(listing(cache.path()).is_empty());

    let save_only = CacheSpec { action: CacheAction::Save, ..spec(&["deps/*"]) };
    assert!(matches!(
        save(cache.path(), &save_only, src.path()).unwrap(),
        SaveOutcome::Saved { .. }
    ));
    let fresh = TempDir::new().unwrap();
    assert_eq!(restore(cache.path(), &save_only, fresh.path()).unwrap(), RestoreOutcome::Skipped);
    assert!(!fresh.path().join("deps/x").exists());
    assert!(matches!(
        restore(cache.path(), &restore_only, fresh.path()).unwrap(),
        RestoreOutcome::Restored { .. }
    ));
}

#[test]
fn nothing_matching_saves_nothing_and_a_missing_cache_misses() {
    let root = TempDir::new().unwrap();
    let cache = root.path().join("cache");
    let src = TempDir::new().unwrap();
    assert_eq!(
        save(&cache, &spec(&["node_modules/**/*"]), src.path()).unwrap(),
        SaveOutcome::NothingToSave
    );
    assert!(!cache.exists());
    assert_eq!(
        restore(&cache, &spec(&["node_modules/**/*"]), src.path()).unwrap(),
        RestoreOutcome::Missed
    );
    assert_eq!(
        restore(&cache, &keyed(&["x"], "k", &["k"]), src.path()).unwrap(),
        RestoreOutcome::Missed
    );
}

#[test]
fn entries_that_would_escape_are_refused() {
    let cache = TempDir::new().unwrap();
    let src = TempDir::new().unwrap();
    let file = File::create(cache.path().join(DEFAULT_FILE)).unwrap();
    let mut zip = ZipWriter::new(file);
    zip.start_file("src/../escaped.txt", SimpleFileOptions::default()).unwrap();
    zip.finish().unwrap();

    let err = restore(cache.path(), &spec(&["**/*"]), src.path()).unwrap_err();
    assert!(matches!(err, CacheError::BadEntry { .. }), "{err:?}");
    assert!(!src.path().parent().unwrap().join("escaped.txt").exists());
}

#[test]
fn hash_files_is_stable_and_tracks_contents_and_names() {
    let first = TempDir::new().unwrap();
    write(first.path(), "package-lock.json", "{\"lockfileVersion\": 3}");
    write(first.path(), "packages/a/package-lock.json", "{}");
    write(first.path(), "README.md", "not hashed");
    let patterns = vec!["package-lock.json".to_owned(), "packages/**/package-lock.json".to_owned()];

    let hash = hash_files(first.path(), &patterns).unwrap();
    assert_eq!(hash.len(), 64);
    assert!(hash.bytes().all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte)));
    assert_eq!(hash_files(first.path(), &patterns).unwrap(), hash, "stable across calls");
    let reversed: Vec<String> = patterns.iter().rev().cloned().collect();
    assert_eq!(hash_files(first.path(), &reversed).unwrap(), hash, "pattern order does not matter");

    // The same files elsewhere hash the same: paths are relative to the working directory.
    let second = TempDir::new().unwrap();
    write(second.path(), "package-lock.json", "{\"lockfileVersion\": 3}");
    write(second.path(), "packages/a/package-lock.json", "{}");
    assert_eq!(hash_files(second.path(), &patterns).unwrap(), hash);

    write(second.path(), "packages/a/package-lock.json", "{ }");
    let changed = hash_files(second.path(), &patterns).unwrap();
    assert_ne!(changed, hash, "a content change changes the hash");

    write(second.path(), "packages/a/package-lock.json", "{}");
    assert_eq!(hash_files(second.path(), &patterns).unwrap(), hash);
    fs::rename(second.path().join("packages/a"), second.path().join("packages/b")).unwrap();
    assert_ne!(hash_files(second.path(), &patterns).unwrap(), hash, "a rename changes the hash");
}

#[test]
fn hash_files_without_a_match_is_an_error() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "a.txt", "a");
    let err = hash_files(dir.path(), &["*.lock".to_owned()]).unwrap_err();
    assert!(matches!(err, CacheError::NoMatchingFiles { .. }), "{err:?}");
    assert!(err.to_string().contains("*.lock"));
    assert!(matches!(hash_files(dir.path(), &[]), Err(CacheError::NoMatchingFiles { .. })));
}
