//! Where a build's artifacts go, and putting them there.
//!
//! An agent packages each artifact as a zip and uploads it; the project's artifact setting
//! (the primary `artifacts`, or the `secondaryArtifacts` entry of its identifier, kept in the
//! build document when the build starts) decides where it is stored ([`destination`]):
//!
//! - type `S3`: in the bucket `location`, at `path/[build uuid if namespaceType is
//!   BUILD_ID]/name`, as CodeBuild writes it. With `packaging` `ZIP` the zip is that object;
//!   with `NONE` (CodeBuild's default) the zip's files are objects under that key, each its own
//!   (`.../name/<file>`). `BatchGetBuilds` shows the location as `arn:aws:s3:::bucket/key`.
//! - the other types (`NO_ARTIFACTS`, `CODEPIPELINE`): in the blob store, at
//!   `builds/<project>/<uuid>/[identifier/]name`, the key `BatchGetBuilds` shows.
//!
//! The name is the buildspec's `artifacts.name`, as the build's shell evaluated it, when the
//! project's `overrideArtifactName` is true, else the project's artifact `name`; without
//! either (or with one that is no usable key) the agent's file name (`artifacts.zip`,
//! `<identifier>.zip`).

use std::path::{Path, PathBuf};

use engine::store::Document;
use serde_json::Value;

use crate::Context;
use crate::buckets::{BucketError, object_arn};
use crate::builds::INTERNAL;

/// Where one artifact is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// The blob store, at this key.
    Blob(String),
    /// The object `key` of `bucket`: the zip itself, or (`unzip`, packaging `NONE`) the
    /// folder whose objects are the zip's files.
    S3 {
        /// The bucket (the setting's `location`).
        bucket: String,
        /// The object's key, or the folder's.
        key: String,
        /// Whether the zip's files are stored instead of the zip.
        unzip: bool,
    },
}

impl Destination {
    /// What `BatchGetBuilds` shows as the artifact's `location`: the blob key, or the
    /// object's (the folder's) ARN, which `aws s3 cp` takes as `s3://bucket/key`.
    pub fn location(&self) -> String {
        match self {
            Destination::Blob(key) => key.clone(),
            Destination::S3 { bucket, key, .. } => object_arn(bucket, key),
        }
    }
}

/// The project's setting of the artifact `identifier` (`None`: the primary artifact) in a
/// build's `{"primary", "secondary"}` artifact settings; `Null` when the project has none.
pub fn setting<'a>(settings: &'a Value, identifier: Option<&str>) -> &'a Value {
    match identifier {
        None => &settings["primary"],
        Some(id) => settings["secondary"]
            .as_array()
            .and_then(|all| all.iter().find(|it| it["artifactIdentifier"] == id))
            .unwrap_or(&Value::Null),
    }
}

/// Whether `name` may name an artifact: no empty, `.` or `..` segment, no backslash or
/// control character, at most 512 bytes.
fn usable(name: &&str) -> bool {
    !name.is_empty()
        && name.len() <= 512
        && !name.contains('\\')
        && !name.chars().any(char::is_control)
        && name.split('/').all(|it| !matches!(it, "" | "." | ".."))
}

/// The artifact's name as its settings give it (see the module's doc), `None` when neither
/// the buildspec nor the project names it usably; and whether the project lets the
/// buildspec name it (`overrideArtifactName`).
pub fn name<'a>(setting: &'a Value, buildspec_name: Option<&'a str>) -> (Option<&'a str>, bool) {
    let overrides = setting["overrideArtifactName"] == true;
    let name = buildspec_name
        .filter(|_| overrides)
        .filter(usable)
        .or_else(|| setting["name"].as_str().filter(usable));
    (name, overrides)
}

/// The key of an artifact of type `S3` named `name` in its bucket: `path/[build uuid]/name`,
/// each part without its surrounding slashes and left out when empty.
pub fn s3_key(setting: &Value, build_uuid: &str, name: &str) -> String {
    let mut parts = vec![setting["path"].as_str().unwrap_or_default()];
    if setting["namespaceType"] == "BUILD_ID" {
        parts.push(build_uuid);
    }
    parts.push(name);
    let parts: Vec<&str> =
        parts.iter().map(|it| it.trim_matches('/')).filter(|it| !it.is_empty()).collect();
    parts.join("/")
}

/// The bucket of an artifact setting of type `S3` (its `location`); `None` for the other
/// types.
pub fn s3_bucket(setting: &Value) -> Option<&str> {
    setting["location"].as_str().filter(|it| !it.is_empty()).filter(|_| setting["type"] == "S3")
}

/// The S3 destination of an artifact of type `S3` (`None` for the other types) uploaded as
/// `file` and named `name` (see [`name`]), of the build whose uuid is `build_uuid`.
pub fn s3_object(
    setting: &Value,
    build_uuid: &str,
    file: &str,
    name: Option<&str>,
) -> Option<Destination> {
    let bucket = s3_bucket(setting)?;
    let unzip = setting["packaging"] != "ZIP";
    // A project name of `/` puts the files at `path/[build uuid]/` itself.
    let root = setting["name"]
        .as_str()
        .is_some_and(|it| !it.is_empty() && it.trim_matches('/').is_empty());
    let name = match name {
        Some(name) => name,
        None if root && unzip => "",
        None => file,
    };
    Some(Destination::S3 {
        bucket: bucket.to_owned(),
        key: s3_key(setting, build_uuid, name),
        unzip,
    })
}

/// Where the artifact `identifier` (`None`: the primary one) of the build `document` (job
/// `job_id`, `<project>:<uuid>`), uploaded as `file` and named `buildspec_name` by the
/// buildspec, is stored; and whether the project lets the buildspec name it.
pub fn destination(
    document: &Document,
    job_id: &str,
    identifier: Option<&str>,
    file: &str,
    buildspec_name: Option<&str>,
) -> (Destination, bool) {
    let setting = setting(&document.body[INTERNAL]["artifacts"], identifier);
    let (name, overrides) = name(setting, buildspec_name);
    let uuid = job_id.split_once(':').map_or(job_id, |(_, uuid)| uuid);
    let destination = match s3_object(setting, uuid, file, name) {
        Some(destination) => destination,
        None => {
            let dir = format!("builds/{}", job_id.replace(':', "/"));
            Destination::Blob(match (identifier, name) {
                (None, Some(name)) => format!("{dir}/{name}"),
                (Some(id), Some(name)) => format!("{dir}/{id}/{name}"),
                (_, None) => format!("{dir}/{file}"),
            })
        }
    };
    (destination, overrides)
}

/// Stores the uploaded zip `zip` at `destination`: into the blob store, as one S3 object, or
/// (packaging `NONE`) as one S3 object per file in it (zip entries that would leave the
/// folder, `..` or absolute, are refused).
pub async fn store(
    ctx: &Context,
    destination: &Destination,
    zip: &Path,
) -> Result<(), BucketError> {
    let failed = |err: &dyn std::fmt::Display| BucketError::Failed(err.to_string());
    match destination {
        Destination::Blob(key) => {
            ctx.blobs.put_file(key, zip).await.map(drop).map_err(|err| failed(&err))
        }
        Destination::S3 { bucket, key, unzip: false } => {
            ctx.buckets.write_object(bucket, key, zip, "application/zip").await.map(drop)
        }
        Destination::S3 { bucket, key, unzip: true } => {
            if !ctx.buckets.bucket_exists(bucket).await? {
                return Err(BucketError::NoSuchBucket(bucket.clone()));
            }
            std::fs::create_dir_all(&ctx.temp_dir).map_err(|err| failed(&err))?;
            let dir = tempfile_dir(&ctx.temp_dir).map_err(|err| failed(&err))?;
            let files = {
                let (zip, into) = (zip.to_owned(), dir.clone());
                tokio::task::spawn_blocking(move || unzip_flat(&zip, &into))
                    .await
                    .map_err(|err| failed(&err))
                    .and_then(|it| it.map_err(BucketError::Failed))
            };
            let written = async {
                for (name, path) in files? {
                    let object = if key.is_empty() { name } else { format!("{key}/{name}") };
                    ctx.buckets.write_object(bucket, &object, &path, "binary/octet-stream").await?;
                }
                Ok(())
            }
            .await;
            let _ = std::fs::remove_dir_all(&dir);
            written
        }
    }
}

/// A new, empty directory under `parent`.
fn tempfile_dir(parent: &Path) -> std::io::Result<PathBuf> {
    let dir = parent.join(format!("artifact-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir(&dir)?;
    Ok(dir)
}

/// The files of the zip `zip`, each written to a file of its own in `into` (named by its
/// index, so that no entry name reaches the file system): their names in the zip and their
/// files. Directories are left out; an entry whose name leaves the zip (`..`, an absolute
/// path) is refused.
pub fn unzip_flat(zip: &Path, into: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let open =
        std::fs::File::open(zip).map_err(|err| format!("cannot open the artifact: {err}"))?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(open))
        .map_err(|err| format!("the artifact is not a zip: {err}"))?;
    let mut files = Vec::new();
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .map_err(|err| format!("cannot read entry {index} of the artifact: {err}"))?;
        if entry.is_dir() {
            continue;
        }
        let Some(name) = entry.enclosed_name() else {
            let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
            return Err(format!("the artifact's entry {name} would leave its folder"));
        };
        let name = name.to_string_lossy().replace('\\', "/");
        let path = into.join(index.to_string());
        let mut out = std::fs::File::create(&path)
            .map_err(|err| format!("cannot write {}: {err}", path.display()))?;
        std::io::copy(&mut entry, &mut out)
            .map_err(|err| format!("cannot unpack {name} of the artifact: {err}"))?;
        files.push((name, path));
    }
    Ok(files)
}

#[cfg(test)]
mod tests;
