//! Build caches of type `S3`: the project's `cache.location` (`<bucket>/<prefix>`) holds one
//! object per cache entry, `<prefix>/<entry file>` (the agent's entry files: `default.zip`,
//! `k-<key>.zip`, `h-<hash>.zip`). The agent downloads the entries before a build and uploads
//! the new ones after it, through the agent API, as the build's service role: listing needs
//! `s3:ListBucket` on the bucket, a download `s3:GetObject` and an upload `s3:PutObject` on
//! the entry's object. As in CodeBuild, a cache that cannot be read or written never fails a
//! build.

use protocol::agent::S3Cache;
use serde_json::Value;

use crate::Context;
use crate::buckets::object_arn;
use crate::builds::INTERNAL;
use crate::queue::{AgentError, bad, leased_build};
use crate::service_role::{GET_OBJECT, PUT_OBJECT, build_role, gate, request_keys};

/// The action a build's S3 cache is listed with.
pub const LIST_BUCKET: &str = "s3:ListBucket";

/// The S3 cache a project's `cache` setting names: `None` unless its type is `S3` with a
/// bucket in its `location`.
pub fn s3_cache(setting: &Value) -> Option<S3Cache> {
    if setting["type"] != "S3" {
        return None;
    }
    let location = setting["location"].as_str()?;
    let location = location.strip_prefix("arn:aws:s3:::").unwrap_or(location);
    let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
    (!bucket.is_empty())
        .then(|| S3Cache { bucket: bucket.to_owned(), prefix: prefix.trim_matches('/').to_owned() })
}

/// The key of the cache entry `file` in the cache's bucket.
pub fn entry_key(cache: &S3Cache, file: &str) -> String {
    if cache.prefix.is_empty() { file.to_owned() } else { format!("{}/{file}", cache.prefix) }
}

/// The entry files of the cache among `keys` (the bucket's keys under its prefix): those
/// directly under the prefix, named as the agent names entries.
pub fn entries(cache: &S3Cache, keys: &[String]) -> Vec<String> {
    let prefix = entry_key(cache, "");
    keys.iter()
        .filter_map(|key| key.strip_prefix(&prefix))
        .filter(|file| check_entry(file).is_ok())
        .map(str::to_owned)
        .collect()
}

/// Whether `file` may name a cache entry: a `.zip` file name without a path, not hidden.
pub fn check_entry(file: &str) -> Result<(), String> {
    let valid = file.ends_with(".zip")
        && !file.starts_with('.')
        && !file.contains(['/', '\\'])
        && file.len() <= 255
        && !file.chars().any(char::is_control);
    if valid { Ok(()) } else { Err(format!("invalid cache entry name {file}")) }
}

/// What an agent does with a build's S3 cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheAccess<'a> {
    /// Lists its entries.
    List,
    /// Downloads the entry.
    Read(&'a str),
    /// Uploads the entry.
    Write(&'a str),
}

/// The S3 cache of the build leased to `agent_id` as `job_id`, when its service role may do
/// `access` at `now`; `BadRequest` with the refusal (naming the role) otherwise, or for a
/// build without an S3 cache.
pub async fn leased_cache(
    ctx: &Context,
    job_id: &str,
    agent_id: &str,
    access: CacheAccess<'_>,
    now: i64,
) -> Result<S3Cache, AgentError> {
    let document = leased_build(ctx, job_id, agent_id).await?;
    let cache: S3Cache = serde_json::from_value(document.body[INTERNAL]["s3Cache"].clone())
        .map_err(|_| bad(format!("build {job_id} has no cache of type S3")))?;
    let (action, resource, what) = match access {
        CacheAccess::List => {
            let arn = format!("arn:aws:s3:::{}", cache.bucket);
            (LIST_BUCKET, arn, format!("list the cache in bucket {}", cache.bucket))
        }
        CacheAccess::Read(file) | CacheAccess::Write(file) => {
            check_entry(file).map_err(bad)?;
            let arn = object_arn(&cache.bucket, &entry_key(&cache, file));
            let (action, verb) = match access {
                CacheAccess::Read(_) => (GET_OBJECT, "read"),
                _ => (PUT_OBJECT, "write"),
            };
            (action, arn.clone(), format!("{verb} cache object {arn}"))
        }
    };
    let role = document.body["serviceRole"].as_str().unwrap_or_default();
    let role = build_role(ctx, role, now).await?;
    gate(&role, &request_keys(now), action, &resource, &what).map_err(bad)?;
    Ok(cache)
}

#[cfg(test)]
mod tests;
