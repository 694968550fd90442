//! Tests of unpacking a source zip: files, directories and modes kept; entries that would
//! leave the directory refused.

use std::io::Write;

use super::*;

fn zip_of(path: &Path, entries: &[(&str, &str, u32)]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, text, mode) in entries {
        let options = zip::write::SimpleFileOptions::default().unix_permissions(*mode);
        if name.ends_with('/') {
            zip.add_directory(*name, options).unwrap();
        } else {
            zip.start_file(*name, options).unwrap();
            zip.write_all(text.as_bytes()).unwrap();
        }
    }
    zip.finish().unwrap();
}

#[test]
fn a_source_zip_is_unpacked_with_its_directories_and_modes() {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("source.zip");
    zip_of(
        &zip,
        &[
            ("buildspec.yml", "version: 0.2\n", 0o644),
            ("empty/", "", 0o755),
            ("scripts/run.sh", "#!/bin/sh\necho hi\n", 0o755),
            ("./a/./b.txt", "b", 0o644),
        ],
    );
    let into = dir.path().join("src");
    std::fs::create_dir(&into).unwrap();
    assert_eq!(unzip_source(&zip, &into), Ok(3));
    assert_eq!(std::fs::read_to_string(into.join("buildspec.yml")).unwrap(), "version: 0.2\n");
    assert_eq!(std::fs::read_to_string(into.join("a/b.txt")).unwrap(), "b");
    assert!(into.join("empty").is_dir());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(into.join("scripts/run.sh")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
    }
}

#[test]
fn entries_that_would_leave_the_directory_are_refused() {
    for name in ["../evil.txt", "a/../../evil.txt", "/etc/evil.txt", "..\\evil.txt"] {
        let dir = tempfile::tempdir().unwrap();
        let zip = dir.path().join("source.zip");
        zip_of(&zip, &[("ok.txt", "ok", 0o644), (name, "evil", 0o644)]);
        let into = dir.path().join("src");
        std::fs::create_dir(&into).unwrap();
        let refused = unzip_source(&zip, &into).unwrap_err();
        assert!(refused.contains("would leave the source directory"), "{name}: {refused}");
        assert!(!dir.path().join("evil.txt").exists(), "{name}");
    }
    assert_eq!(inside("a/./b"), Some(PathBuf::from("a/b")));
    assert_eq!(inside("./"), None);
}

#[test]
fn a_file_that_is_no_zip_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("source.zip");
    std::fs::write(&zip, "not a zip").unwrap();
    let refused = unzip_source(&zip, dir.path()).unwrap_err();
    assert!(refused.starts_with("the source is not a zip file"), "{refused}");
}
