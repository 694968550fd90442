//! Tests for artifact selection and packaging, on real files in temporary directories.

use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use protocol::ArtifactSpec;
use tempfile::TempDir;
use zip::{CompressionMethod, ExtraField, ZipArchive};

use super::*;

/// Creates `relative` under `root` with `contents`, making parent directories.
fn write(root: &Path, relative: &str, contents: &str) {
    let path = root.join(relative);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, contents).unwrap();
}

/// A source tree used by most selection tests.
fn tree() -> TempDir {
    let dir = TempDir::new().unwrap();
    let root = dir.path();
    write(root, "a.txt", "a");
    write(root, "b.log", "b");
    write(root, ".env", "secret");
    write(root, "dir/c.txt", "c");
    write(root, "dir/.hidden", "h");
    write(root, "dir/sub/d.txt", "d");
    write(root, ".git/config", "git");
    dir
}

fn spec(files: &[&str]) -> ArtifactSpec {
    ArtifactSpec {
        files: files.iter().map(|file| (*file).to_owned()).collect(),
        ..Default::default()
    }
}

fn names(src: &Path, spec: &ArtifactSpec) -> Vec<String> {
    select_files(src, spec).unwrap().into_iter().map(|file| file.archive_path).collect()
}

#[test]
fn star_stays_within_one_path_component() {
    let dir = tree();
    assert_eq!(names(dir.path(), &spec(&["*.txt"])), ["a.txt"]);
    // `dir/*` is the files directly in `dir`: `sub` is a directory, so it adds nothing.
    assert_eq!(names(dir.path(), &spec(&["dir/*"])), ["dir/.hidden", "dir/c.txt"]);
    assert_eq!(names(dir.path(), &spec(&["*/*.txt"])), ["dir/c.txt"]);
}

#[test]
fn double_star_crosses_directories() {
    let dir = tree();
    assert_eq!(
        names(dir.path(), &spec(&["**/*"])),
        [".env", ".git/config", "a.txt", "b.log", "dir/.hidden", "dir/c.txt", "dir/sub/d.txt"]
    );
    assert_eq!(
        names(dir.path(), &spec(&["dir/**/*"])),
        ["dir/.hidden", "dir/c.txt", "dir/sub/d.txt"]
    );
    assert_eq!(names(dir.path(), &spec(&["**/*.txt"])), ["a.txt", "dir/c.txt", "dir/sub/d.txt"]);
}

#[test]
fn plain_paths_name_one_file_and_directories_select_nothing() {
    let dir = tree();
    assert_eq!(names(dir.path(), &spec(&["dir/sub/d.txt"])), ["dir/sub/d.txt"]);
    let err = select_files(dir.path(), &spec(&["dir"])).unwrap_err();
    assert!(matches!(err, ArtifactError::NoMatchingFiles { .. }), "{err:?}");
    assert!(matches!(
        select_files(dir.path(), &spec(&["missing.txt"])),
        Err(ArtifactError::NoMatchingFiles { .. })
    ));
}

#[test]
fn leading_dot_slash_is_tolerated() {
    let dir = tree();
    assert_eq!(names(dir.path(), &spec(&["./dir/c.txt"])), ["dir/c.txt"]);
    assert_eq!(
        names(dir.path(), &spec(&["./dir/sub/*.txt", "././a.txt"])),
        ["a.txt", "dir/sub/d.txt"]
    );
    let spec = ArtifactSpec { base_directory: Some("./dir".to_owned()), ..spec(&["./*.txt"]) };
    assert_eq!(names(dir.path(), &spec), ["c.txt"]);
}

#[test]
fn the_same_file_matched_twice_is_kept_once_and_results_are_sorted() {
    let dir = tree();
    assert_eq!(
        names(dir.path(), &spec(&["dir/sub/d.txt", "**/*.txt", "a.txt"])),
        ["a.txt", "dir/c.txt", "dir/sub/d.txt"]
    );
}

#[test]
fn no_match_reports_codebuild_message() {
    let dir = tree();
    let err = select_files(dir.path(), &spec(&["*.jar", "target/*.war"])).unwrap_err();
    assert_eq!(err.to_string(), "no matching artifact paths found");
    match err {
        ArtifactError::NoMatchingFiles { patterns } => {
            assert_eq!(patterns, ["*.jar", "target/*.war"]);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(
        select_files(dir.path(), &spec(&[])),
        Err(ArtifactError::NoMatchingFiles { .. })
    ));
}

#[test]
fn bad_glob_is_reported_with_its_pattern() {
    let dir = tree();
    match select_files(dir.path(), &spec(&["dir/[a-"])).unwrap_err() {
        ArtifactError::BadGlob { pattern, .. } => assert_eq!(pattern, "dir/[a-"),
        other => panic!("unexpected {other:?}"),
    }
    let spec = ArtifactSpec { exclude_paths: vec!["{a,".to_owned()], ..spec(&["**/*"]) };
    assert!(matches!(select_files(dir.path(), &spec), Err(ArtifactError::BadGlob { .. })));
}

#[test]
fn base_directory_is_left_out_of_archive_paths() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "my-build-2/my-subdirectory/my-file-3.txt", "3");
    write(dir.path(), "my-build-2/top.txt", "t");
    write(dir.path(), "outside.txt", "o");
    let spec = ArtifactSpec {
        base_directory: Some("my-build-2".to_owned()),
        ..spec(&["*/my-file-3.txt"])
    };
    // The example from the CodeBuild documentation.
    assert_eq!(names(dir.path(), &spec), ["my-subdirectory/my-file-3.txt"]);
    let all = ArtifactSpec { files: vec!["**/*".to_owned()], ..spec };
    assert_eq!(names(dir.path(), &all), ["my-subdirectory/my-file-3.txt", "top.txt"]);
}

#[test]
fn base_directory_may_be_absolute() {
    let src = tree();
    write(src.path(), "out/x.bin", "x");
    let base = src.path().join("out").to_str().unwrap().to_owned();
    let spec = ArtifactSpec { base_directory: Some(base), ..spec(&["*"]) };
    assert_eq!(names(src.path(), &spec), ["x.bin"]);
}

#[test]
fn base_directory_glob_may_match_several_directories() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "my-build-1/one.txt", "1");
    write(dir.path(), "my-build-1/nested/deep.txt", "d");
    write(dir.path(), "my-build-2/two.txt", "2");
    write(dir.path(), "other/three.txt", "3");
    let spec = ArtifactSpec { base_directory: Some("my-build*".to_owned()), ..spec(&["**/*"]) };
    let selected = select_files(dir.path(), &spec).unwrap();
    let pairs: Vec<(String, String)> = selected
        .iter()
        .map(|file| {
            let source = file.source.strip_prefix(dir.path()).unwrap().to_str().unwrap().to_owned();
            (file.archive_path.clone(), source)
        })
        .collect();
    assert_eq!(
        pairs,
        [
            ("nested/deep.txt".to_owned(), "my-build-1/nested/deep.txt".to_owned()),
            ("one.txt".to_owned(), "my-build-1/one.txt".to_owned()),
            ("two.txt".to_owned(), "my-build-2/two.txt".to_owned()),
        ]
    );
}

#[test]
fn same_relative_path_under_two_base_directories_is_a_duplicate() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "build-a/app.jar", "a");
    write(dir.path(), "build-b/app.jar", "b");
    let spec = ArtifactSpec { base_directory: Some("build-*".to_owned()), ..spec(&["*.jar"]) };
    match select_files(dir.path(), &spec).unwrap_err() {
        ArtifactError::DuplicatePath { archive_path, first, second } => {
            assert_eq!(archive_path, "app.jar");
            assert!(first.ends_with("build-a/app.jar"), "{first:?}");
            assert!(second.ends_with("build-b/app.jar"), "{second:?}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn base_directory_matching_nothing_selects_nothing() {
    let dir = tree();
    let spec = ArtifactSpec { base_directory: Some("nope*".to_owned()), ..spec(&["**/*"]) };
    assert!(matches!(select_files(dir.path(), &spec), Err(ArtifactError::NoMatchingFiles { .. })));
    // A base that is a file, not a directory, is no base at all.
    let spec = ArtifactSpec { base_directory: Some("a.txt".to_owned()), ..spec };
    assert!(matches!(select_files(dir.path(), &spec), Err(ArtifactError::NoMatchingFiles { .. })));
}

#[test]
fn exclude_paths_remove_dot_files_and_dot_folders() {
    let dir = tree();
    let dot_files = ArtifactSpec { exclude_paths: vec!["**/.*".to_owned()], ..spec(&["**/*"]) };
    // `**/.*` only names files whose own name starts with a dot; `.git/config` survives it.
    assert_eq!(
        names(dir.path(), &dot_files),
        [".git/config", "a.txt", "b.log", "dir/c.txt", "dir/sub/d.txt"]
    );
    let both = ArtifactSpec {
        exclude_paths: vec!["**/.*".to_owned(), "**/.*/**/*".to_owned(), "*.log".to_owned()],
        ..spec(&["**/*"])
    };
    assert_eq!(names(dir.path(), &both), ["a.txt", "dir/c.txt", "dir/sub/d.txt"]);
}

#[test]
fn exclude_paths_are_relative_to_the_base_directory() {
    let dir = tree();
    let spec = ArtifactSpec {
        base_directory: Some("dir".to_owned()),
        exclude_paths: vec!["sub/*".to_owned(), "./.hidden".to_owned()],
        ..spec(&["**/*"])
    };
    assert_eq!(names(dir.path(), &spec), ["c.txt"]);
}

#[test]
fn excluding_everything_is_no_match() {
    let dir = tree();
    let spec = ArtifactSpec { exclude_paths: vec!["**/*".to_owned()], ..spec(&["*.txt"]) };
    assert!(matches!(select_files(dir.path(), &spec), Err(ArtifactError::NoMatchingFiles { .. })));
}

#[test]
fn discard_paths_puts_every_file_at_the_root() {
    let dir = tree();
    let spec = ArtifactSpec { discard_paths: true, ..spec(&["dir/**/*.txt", "b.log"]) };
    assert_eq!(names(dir.path(), &spec), ["b.log", "c.txt", "d.txt"]);
}

#[test]
fn discard_paths_clash_names_both_files() {
    let dir = tree();
    write(dir.path(), "dir/sub/c.txt", "other c");
    let spec = ArtifactSpec { discard_paths: true, ..spec(&["**/c.txt"]) };
    let err = select_files(dir.path(), &spec).unwrap_err();
    let message = err.to_string();
    match err {
        ArtifactError::DuplicatePath { archive_path, first, second } => {
            assert_eq!(archive_path, "c.txt");
            assert_eq!(first, dir.path().join("dir/c.txt"));
            assert_eq!(second, dir.path().join("dir/sub/c.txt"));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(message.contains("dir/c.txt") && message.contains("dir/sub/c.txt"), "{message}");
}

#[test]
fn absolute_paths_keep_their_path_without_the_leading_slash() {
    let src = tree();
    write(src.path(), "out/x.bin", "x");
    write(src.path(), "out/y.log", "y");
    let absolute_dir = src.path().join("out");
    let pattern = format!("{}/*.bin", absolute_dir.display());
    let selected = select_files(src.path(), &spec(&[&pattern, "a.txt"])).unwrap();
    let expected = absolute_dir.join("x.bin").to_str().unwrap().trim_start_matches('/').to_owned();
    assert_eq!(
        selected,
        [
            SelectedFile { source: src.path().join("a.txt"), archive_path: "a.txt".to_owned() },
            SelectedFile { source: absolute_dir.join("x.bin"), archive_path: expected },
        ]
    );

    let discarded = ArtifactSpec { discard_paths: true, ..spec(&[&pattern]) };
    assert_eq!(names(src.path(), &discarded), ["x.bin"]);

    // A plain absolute path names one file, and absolute excludes apply to it.
    let plain = absolute_dir.join("y.log").to_str().unwrap().to_owned();
    assert_eq!(
        names(src.path(), &ArtifactSpec { discard_paths: true, ..spec(&[&plain]) }),
        ["y.log"]
    );
    let excluded = ArtifactSpec {
        exclude_paths: vec![format!("{}/*", absolute_dir.display())],
        ..spec(&[&plain])
    };
    assert!(matches!(
        select_files(src.path(), &excluded),
        Err(ArtifactError::NoMatchingFiles { .. })
    ));
}

#[test]
fn climbing_out_of_the_base_directory_keeps_the_absolute_path() {
    let dir = tree();
    let spec = ArtifactSpec { base_directory: Some("dir".to_owned()), ..spec(&["../a.txt"]) };
    let selected = select_files(dir.path(), &spec).unwrap();
    let expected = dir.path().join("a.txt").to_str().unwrap().trim_start_matches('/').to_owned();
    assert_eq!(selected.len(), 1);
    assert_eq!(selected[0].archive_path, expected);
}

#[test]
fn symlinks_are_followed_unless_enabled() {
    let dir = TempDir::new().unwrap();
    let root = dir.path();
    write(root, "real/file.txt", "content");
    symlink("real/file.txt", root.join("link.txt")).unwrap();
    symlink("real", root.join("linked-dir")).unwrap();
    symlink("missing", root.join("broken")).unwrap();
    // A loop must not make the walk run forever or fail.
    symlink(".", root.join("real/self")).unwrap();

    assert_eq!(
        names(root, &spec(&["**/*"])),
        ["link.txt", "linked-dir/file.txt", "real/file.txt"],
        "followed: the directory link is walked, the broken link skipped"
    );
    let keep = ArtifactSpec { enable_symlinks: true, ..spec(&["**/*"]) };
    assert_eq!(
        names(root, &keep),
        ["broken", "link.txt", "linked-dir", "real/file.txt", "real/self"],
        "kept: every link is an entry of its own and nothing is walked through"
    );
}

/// Reads every entry of a zip: name, contents, unix mode, and whether it is a link.
fn read_zip(path: &Path) -> Vec<(String, Vec<u8>, u32, bool)> {
    let mut archive = ZipArchive::new(File::open(path).unwrap()).unwrap();
    (0..archive.len())
        .map(|index| {
            let mut entry = archive.by_index(index).unwrap();
            let mut contents = Vec::new();
            entry.read_to_end(&mut contents).unwrap();
            (
                entry.name().unwrap().into_owned(),
                contents,
                entry.unix_mode().unwrap(),
                entry.is_symlink(),
            )
        })
        .collect()
}

#[test]
fn zip_holds_the_selected_files_with_contents_and_modes() {
    let dir = tree();
    write(dir.path(), "bin/run.sh", "#!/bin/sh\necho hi\n");
    fs::set_permissions(dir.path().join("bin/run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(dir.path().join("a.txt"), fs::Permissions::from_mode(0o600)).unwrap();
    let out = TempDir::new().unwrap();
    let dest = out.path().join("artifact.zip");

    let files = select_files(dir.path(), &spec(&["a.txt", "bin/*", "dir/**/*.txt"])).unwrap();
    let summary = write_zip(&files, dir.path(), &dest, false).unwrap();

    assert_eq!(summary.files, 4);
    assert_eq!(summary.bytes, fs::metadata(&dest).unwrap().len());
    assert_eq!(summary.sha256.len(), 64);
    assert_eq!(summary.sha256, hex::encode(Sha256::digest(fs::read(&dest).unwrap())));

    let entries = read_zip(&dest);
    let listed: Vec<(&str, &[u8], u32)> = entries
        .iter()
        .map(|(name, contents, mode, _)| (name.as_str(), contents.as_slice(), mode & 0o777))
        .collect();
    assert_eq!(
        listed,
        [
            ("a.txt", b"a".as_slice(), 0o600),
            ("bin/run.sh", b"#!/bin/sh\necho hi\n".as_slice(), 0o755),
            ("dir/c.txt", b"c".as_slice(), 0o644 & !umask_bits(dir.path())),
            ("dir/sub/d.txt", b"d".as_slice(), 0o644 & !umask_bits(dir.path())),
        ]
    );
    let mut archive = ZipArchive::new(File::open(&dest).unwrap()).unwrap();
    assert_eq!(archive.by_index(0).unwrap().compression(), CompressionMethod::Deflated);
}

/// The permission bits the umask removed from a freshly written file (`d.txt` in [`tree`]).
fn umask_bits(root: &Path) -> u32 {
    let mode = fs::metadata(root.join("dir/sub/d.txt")).unwrap().permissions().mode() & 0o777;
    0o644 & !mode
}

#[test]
fn zip_keeps_modification_times() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "old.txt", "old");
    // 2021-03-04 05:06:08 UTC.
    let when = UNIX_EPOCH + Duration::from_secs(1_614_834_368);
    File::options()
        .write(true)
        .open(dir.path().join("old.txt"))
        .unwrap()
        .set_modified(when)
        .unwrap();
    let dest = dir.path().join("out.zip");
    write_zip(&select_files(dir.path(), &spec(&["old.txt"])).unwrap(), dir.path(), &dest, false)
        .unwrap();

    let mut archive = ZipArchive::new(File::open(&dest).unwrap()).unwrap();
    let entry = archive.by_index(0).unwrap();
    let dos = entry.last_modified().unwrap();
    assert_eq!(
        (dos.year(), dos.month(), dos.day(), dos.hour(), dos.minute(), dos.second()),
        (2021, 3, 4, 5, 6, 8)
    );
    let extended = entry.extra_data_fields().find_map(|field| match field {
        ExtraField::ExtendedTimestamp(timestamp) => timestamp.mod_time(),
        _ => None,
    });
    assert_eq!(extended, Some(1_614_834_368));
}

#[test]
fn dos_time_handles_calendar_edges() {
    let at = |seconds: u64| {
        let time = dos_time(Some(UNIX_EPOCH + Duration::from_secs(seconds)));
        (time.year(), time.month(), time.day(), time.hour(), time.minute(), time.second())
    };
    // 2000-02-29 23:59:58, a leap day in a century leap year.
    assert_eq!(at(951_868_798), (2000, 2, 29, 23, 59, 58));
    // 2024-12-31 12:00:00.
    assert_eq!(at(1_735_646_400), (2024, 12, 31, 12, 0, 0));
    // 2107-12-31 23:59:59, the last second the format holds (its seconds are even).
    assert_eq!(at(4_354_819_199), (2107, 12, 31, 23, 59, 58));
    // Before 1980 or after 2107 the format has nothing to offer but its epoch, even for
    // times beyond what any calendar library holds.
    assert_eq!(at(0), (1980, 1, 1, 0, 0, 0));
    assert_eq!(at(4_354_819_200), (1980, 1, 1, 0, 0, 0));
    assert_eq!(at(u64::from(u32::MAX) * 1_000), (1980, 1, 1, 0, 0, 0));
}

#[test]
fn zip_stores_links_as_links_when_enabled() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "lib/libfoo.so.1", "elf");
    symlink("libfoo.so.1", dir.path().join("lib/libfoo.so")).unwrap();
    symlink("nowhere", dir.path().join("lib/broken")).unwrap();
    let dest = dir.path().join("out.zip");

    let keep = ArtifactSpec { enable_symlinks: true, ..spec(&["lib/*"]) };
    let summary =
        write_zip(&select_files(dir.path(), &keep).unwrap(), dir.path(), &dest, true).unwrap();
    assert_eq!(summary.files, 3);
    let entries = read_zip(&dest);
    let links: Vec<(&str, &[u8], bool)> = entries
        .iter()
        .map(|(name, contents, _, link)| (name.as_str(), contents.as_slice(), *link))
        .collect();
    assert_eq!(
        links,
        [
            ("lib/broken", b"nowhere".as_slice(), true),
            ("lib/libfoo.so", b"libfoo.so.1".as_slice(), true),
            ("lib/libfoo.so.1", b"elf".as_slice(), false),
        ]
    );
}

#[test]
fn zip_stores_link_targets_when_disabled() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "lib/libfoo.so.1", "elf");
    symlink("libfoo.so.1", dir.path().join("lib/libfoo.so")).unwrap();
    symlink("nowhere", dir.path().join("lib/broken")).unwrap();
    let dest = dir.path().join("out.zip");

    // Hand `write_zip` the broken link too: it must skip it rather than fail.
    let mut files = select_files(dir.path(), &spec(&["lib/*"])).unwrap();
    files.insert(
        0,
        SelectedFile {
            source: dir.path().join("lib/broken"),
            archive_path: "lib/broken".to_owned(),
        },
    );
    let summary = write_zip(&files, dir.path(), &dest, false).unwrap();
    assert_eq!(summary.files, 2);
    let entries = read_zip(&dest);
    let stored: Vec<(&str, &[u8], bool)> = entries
        .iter()
        .map(|(name, contents, _, link)| (name.as_str(), contents.as_slice(), *link))
        .collect();
    assert_eq!(
        stored,
        [
            ("lib/libfoo.so", b"elf".as_slice(), false),
            ("lib/libfoo.so.1", b"elf".as_slice(), false)
        ]
    );
}

#[test]
fn zip_of_the_same_files_is_reproducible() {
    let dir = tree();
    let files = select_files(dir.path(), &spec(&["**/*"])).unwrap();
    let out = TempDir::new().unwrap();
    let one = write_zip(&files, dir.path(), &out.path().join("one.zip"), false).unwrap();
    // The second zip is written after the clock has moved on to the next two-second step
    // (a DOS timestamp's resolution), so an entry stamped with the time of writing rather
    // than its file's time would differ between the two.
    let step = || crate::clock::now_nanos() / 2_000_000_000;
    let first_step = step();
    let deadline = crate::clock::instant() + Duration::from_secs(30);
    while step() == first_step {
        assert!(crate::clock::instant() < deadline, "the clock did not move");
        std::thread::sleep(Duration::from_millis(10));
    }
    let two = write_zip(&files, dir.path(), &out.path().join("two.zip"), false).unwrap();
    assert_eq!(one, two);
}

/// A source directory inside a temporary directory, with a host file beside it that no
/// artifact may hold.
fn source_with_host_file() -> (TempDir, std::path::PathBuf, std::path::PathBuf) {
    let outside = TempDir::new().unwrap();
    let src = outside.path().join("src");
    write(&src, "ok.txt", "ok");
    let host_file = outside.path().join("host/shadow");
    write(outside.path(), "host/shadow", "root:$6$secret");
    (outside, src, host_file)
}

/// Selecting `spec` under `src` is refused, naming `named` in its message.
fn refused(src: &Path, spec: &ArtifactSpec, named: &str) {
    let err = select_files(src, spec).unwrap_err();
    assert!(matches!(err, ArtifactError::OutsideSource { .. }), "{spec:?}: {err:?}");
    let message = err.to_string();
    assert!(message.contains(named), "{spec:?}: {message}");
    assert!(message.contains("outside the build's source directory"), "{message}");
}

#[test]
fn a_link_to_a_file_outside_the_source_is_refused() {
    let (_outside, src, host_file) = source_with_host_file();
    symlink(&host_file, src.join("shadow-link")).unwrap();
    symlink("../host/shadow", src.join("relative-link")).unwrap();
    refused(&src, &spec(&["shadow-link"]), "shadow-link");
    refused(&src, &spec(&["relative-link"]), "relative-link");
    refused(&src, &spec(&["**/*"]), "link");
    refused(&src, &spec(&["*-link"]), "link");
}

#[test]
fn a_dot_dot_entry_is_refused() {
    let (_outside, src, _) = source_with_host_file();
    refused(&src, &spec(&["../host/shadow"]), "shadow");
    refused(&src, &spec(&["../host/*"]), "host");
    refused(&src, &spec(&["../**/*"]), "src/..");
    // An absolute path outside is refused the same way.
    let absolute = src.parent().unwrap().join("host/shadow");
    refused(&src, &spec(&[absolute.to_str().unwrap()]), "shadow");
    // Climbing out and back in stays inside.
    assert_eq!(names(&src, &spec(&["../src/ok.txt"])).len(), 1);
}

#[test]
fn a_linked_directory_outside_the_source_is_refused() {
    let (outside, src, _) = source_with_host_file();
    symlink(outside.path().join("host"), src.join("etc")).unwrap();
    refused(&src, &spec(&["etc/*"]), "etc");
    refused(&src, &spec(&["etc/shadow"]), "etc/shadow");
    refused(&src, &spec(&["**/*"]), "etc");
    // With enable-symlinks the link is an entry of its own and is never walked through...
    let keep = ArtifactSpec { enable_symlinks: true, ..spec(&["**/*"]) };
    assert_eq!(names(&src, &keep), ["etc", "ok.txt"]);
    // ...and naming a path through it is refused all the same.
    let through = ArtifactSpec { enable_symlinks: true, ..spec(&["etc/*"]) };
    refused(&src, &through, "etc");
}

#[test]
fn a_base_directory_outside_the_source_is_refused() {
    let (outside, src, _) = source_with_host_file();
    let base = |base: &str| ArtifactSpec { base_directory: Some(base.to_owned()), ..spec(&["*"]) };
    refused(&src, &base("../host"), "host");
    refused(&src, &base(outside.path().join("host").to_str().unwrap()), "host");
    symlink(outside.path().join("host"), src.join("linked")).unwrap();
    refused(&src, &base("linked"), "linked");
    refused(&src, &base("link*"), "linked");
    // Inside, a base directory and a `..` back to the source are fine.
    write(&src, "dist/app.js", "js");
    assert_eq!(names(&src, &base("dist")), ["app.js"]);
    let up = ArtifactSpec { base_directory: Some("dist".to_owned()), ..spec(&["../ok.txt"]) };
    assert_eq!(select_files(&src, &up).unwrap().len(), 1);
}

#[test]
fn enable_symlinks_stores_a_link_to_a_host_file_as_a_link() {
    let (outside, src, host_file) = source_with_host_file();
    symlink(&host_file, src.join("shadow-link")).unwrap();
    let keep = ArtifactSpec { enable_symlinks: true, ..spec(&["shadow-link", "ok.txt"]) };
    let files = select_files(&src, &keep).unwrap();
    let dest = outside.path().join("out.zip");
    write_zip(&files, &src, &dest, true).unwrap();
    let entries = read_zip(&dest);
    let link = entries.iter().find(|entry| entry.0 == "shadow-link").unwrap();
    assert!(link.3, "stored as a link");
    assert_eq!(link.1, host_file.to_str().unwrap().as_bytes(), "the target, as text");
    let zip_bytes = fs::read(&dest).unwrap();
    assert!(!zip_bytes.windows(6).any(|it| it == b"$6$sec"), "the host file is never read");
}

#[test]
fn a_file_swapped_for_a_link_after_selection_is_refused() {
    let (outside, src, host_file) = source_with_host_file();
    let files = select_files(&src, &spec(&["ok.txt"])).unwrap();
    fs::remove_file(src.join("ok.txt")).unwrap();
    symlink(&host_file, src.join("ok.txt")).unwrap();
    let dest = outside.path().join("out.zip");
    let err = write_zip(&files, &src, &dest, false).unwrap_err();
    assert!(matches!(err, ArtifactError::OutsideSource { .. }), "{err:?}");
    assert!(err.to_string().contains("ok.txt"), "{err}");
    assert!(!dest.exists(), "no half-written zip is left");
}
