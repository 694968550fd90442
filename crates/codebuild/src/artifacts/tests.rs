//! Tests of where artifacts go: keys and locations as data (the blob store for the types
//! that are not S3, `path/[uuid]/name` in the bucket for S3), and storing a zip as one object
//! or as its files.

use std::io::Write;
use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::testing::{MemoryBuckets, test_context_with};

fn build(artifacts: Value) -> Document {
    Document {
        kind: engine::kinds::BUILD.to_owned(),
        key: "app:u".to_owned(),
        parent: None,
        sort: 0,
        version: 0,
        body: json!({ INTERNAL: { "artifacts": artifacts } }),
    }
}

fn s3(bucket: &str, key: &str, unzip: bool) -> Destination {
    Destination::S3 { bucket: bucket.to_owned(), key: key.to_owned(), unzip }
}

/// Secondary artifacts are named by their own project settings, under their identifier; a
/// name that is no usable key (`..`, empty) leaves the agent's file name.
#[test]
fn blob_keys_follow_the_project_settings_of_each_artifact() {
    let document = build(json!({
        "primary": { "type": "NO_ARTIFACTS", "name": "p.zip" },
        "secondary": [
            { "type": "CODEPIPELINE", "artifactIdentifier": "docs", "name": "d.zip", "overrideArtifactName": true },
            { "type": "CODEPIPELINE", "artifactIdentifier": "bad", "name": "../x", "overrideArtifactName": true },
        ],
    }));
    let key = |identifier, file, name| destination(&document, "app:u", identifier, file, name);
    let blob = |key: &str| Destination::Blob(key.to_owned());
    assert_eq!(key(None, "artifacts.zip", Some("b.zip")), (blob("builds/app/u/p.zip"), false));
    assert_eq!(
        key(Some("docs"), "docs.zip", Some("v/1.zip")),
        (blob("builds/app/u/docs/v/1.zip"), true)
    );
    assert_eq!(key(Some("docs"), "docs.zip", None), (blob("builds/app/u/docs/d.zip"), true));
    assert_eq!(key(Some("bad"), "bad.zip", Some("..")), (blob("builds/app/u/bad.zip"), true));
    assert_eq!(key(Some("none"), "none.zip", Some("n")), (blob("builds/app/u/none.zip"), false));
    assert_eq!(blob("builds/app/u/p.zip").location(), "builds/app/u/p.zip");
}

/// As CodeBuild builds an S3 artifact's key: `path/[build id]/name`, packaging NONE (the
/// default) a folder of the files, ZIP the zip; the location is the object's ARN.
#[test]
fn s3_keys_are_path_namespace_and_name() {
    let document = build(json!({
        "primary": { "type": "S3", "location": "out", "path": "/builds/", "namespaceType": "BUILD_ID", "name": "app.zip", "packaging": "ZIP" },
        "secondary": [
            { "type": "S3", "artifactIdentifier": "docs", "location": "docs-bucket", "name": "site" },
            { "type": "S3", "artifactIdentifier": "root", "location": "docs-bucket", "path": "p", "name": "/" },
            { "type": "S3", "artifactIdentifier": "named", "location": "out", "name": "fixed.zip", "packaging": "ZIP", "overrideArtifactName": true },
            { "type": "S3", "artifactIdentifier": "bare", "location": "out", "packaging": "ZIP" },
        ],
    }));
    let at = |identifier, file, name| destination(&document, "app:u", identifier, file, name);
    let (primary, overrides) = at(None, "artifacts.zip", Some("ignored.zip"));
    assert_eq!((primary.clone(), overrides), (s3("out", "builds/u/app.zip", false), false));
    assert_eq!(primary.location(), "arn:aws:s3:::out/builds/u/app.zip");
    assert_eq!(at(Some("docs"), "docs.zip", None).0, s3("docs-bucket", "site", true));
    assert_eq!(at(Some("root"), "root.zip", None).0, s3("docs-bucket", "p", true));
    assert_eq!(
        at(Some("named"), "named.zip", Some("v1/app.zip")).0,
        s3("out", "v1/app.zip", false)
    );
    assert_eq!(at(Some("named"), "named.zip", Some("../x")).0, s3("out", "fixed.zip", false));
    assert_eq!(at(Some("bare"), "bare.zip", None).0, s3("out", "bare.zip", false));
}

fn zip_of(path: &Path, entries: &[(&str, &[u8])]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, bytes) in entries {
        if name.ends_with('/') {
            zip.add_directory(*name, zip::write::SimpleFileOptions::default()).unwrap();
        } else {
            zip.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
            zip.write_all(bytes).unwrap();
        }
    }
    zip.finish().unwrap();
}

#[tokio::test]
async fn a_zip_is_stored_as_one_object_or_as_its_files() {
    let buckets = Arc::new(MemoryBuckets::with_bucket("out"));
    let (ctx, dir) = test_context_with(Arc::clone(&buckets)).await;
    let zip = dir.path().join("a.zip");
    zip_of(&zip, &[("dist/", b""), ("dist/app.js", b"js"), ("README", b"read me")]);

    store(&ctx, &s3("out", "b/u/app.zip", false), &zip).await.unwrap();
    assert_eq!(buckets.get("out", "b/u/app.zip").unwrap(), std::fs::read(&zip).unwrap());
    store(&ctx, &s3("out", "site", true), &zip).await.unwrap();
    assert_eq!(buckets.get("out", "site/dist/app.js").unwrap(), b"js");
    assert_eq!(buckets.get("out", "site/README").unwrap(), b"read me");
    // The files at the bucket's root, for a key of nothing.
    store(&ctx, &s3("out", "", true), &zip).await.unwrap();
    assert_eq!(buckets.get("out", "README").unwrap(), b"read me");
    assert_eq!(
        buckets.keys("out"),
        ["README", "b/u/app.zip", "dist/app.js", "site/README", "site/dist/app.js"]
    );
    // No bucket, no object.
    let missing = store(&ctx, &s3("gone", "site", true), &zip).await;
    assert_eq!(missing, Err(BucketError::NoSuchBucket("gone".to_owned())));
    let missing = store(&ctx, &s3("gone", "a.zip", false), &zip).await;
    assert_eq!(missing, Err(BucketError::NoSuchBucket("gone".to_owned())));
    // The blob store, for the other types.
    store(&ctx, &Destination::Blob("builds/app/u/a.zip".to_owned()), &zip).await.unwrap();
    assert!(dir.path().join("blobs/builds/app/u/a.zip").is_file());
}

#[test]
fn unzipping_refuses_entries_that_leave_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("evil.zip");
    zip_of(&zip, &[("ok.txt", b"ok"), ("../evil.txt", b"evil")]);
    let into = dir.path().join("out");
    std::fs::create_dir(&into).unwrap();
    let refused = unzip_flat(&zip, &into).unwrap_err();
    assert_eq!(refused, "the artifact's entry ../evil.txt would leave its folder");
    assert!(!dir.path().join("evil.txt").exists());
}
