//! What the crate's unit tests share: a context on a fresh temporary directory, a caller, and
//! the operations by name (as the server's operation table calls them).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use awsapi::json::typed;
use awsapi::{ApiError, Caller};
use engine::store::{Document, Store};
use serde_json::Value;

use crate::buckets::{BucketError, BucketFuture, Buckets, ObjectBody, ObjectInfo};
use crate::{Context, FileAt, Repositories, RepositoryFuture, builds, projects, reports};

/// Buckets in memory: the names that exist and their objects' bytes.
#[derive(Default)]
pub(crate) struct MemoryBuckets {
    buckets: Mutex<BTreeSet<String>>,
    objects: Mutex<BTreeMap<(String, String), Vec<u8>>>,
}

impl MemoryBuckets {
    /// Buckets in memory with one, empty.
    pub(crate) fn with_bucket(bucket: &str) -> MemoryBuckets {
        let buckets = MemoryBuckets::default();
        buckets.create(bucket);
        buckets
    }

    /// Creates the bucket `bucket`.
    pub(crate) fn create(&self, bucket: &str) {
        self.buckets.lock().unwrap().insert(bucket.to_owned());
    }

    /// Puts an object (into a bucket that need not exist: the tests make what they need).
    pub(crate) fn put(&self, bucket: &str, key: &str, bytes: &[u8]) {
        self.objects.lock().unwrap().insert((bucket.to_owned(), key.to_owned()), bytes.to_vec());
    }

    /// The keys of `bucket`'s objects, in order.
    pub(crate) fn keys(&self, bucket: &str) -> Vec<String> {
        let objects = self.objects.lock().unwrap();
        objects.keys().filter(|(b, _)| b == bucket).map(|(_, key)| key.clone()).collect()
    }

    /// The bytes of an object.
    pub(crate) fn get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        self.objects.lock().unwrap().get(&(bucket.to_owned(), key.to_owned())).cloned()
    }

    fn lookup(&self, bucket: &str, key: &str) -> Result<Vec<u8>, BucketError> {
        if !self.buckets.lock().unwrap().contains(bucket) {
            return Err(BucketError::NoSuchBucket(bucket.to_owned()));
        }
        self.get(bucket, key).ok_or_else(|| BucketError::NoSuchKey {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        })
    }
}

fn info(bytes: &[u8]) -> ObjectInfo {
    ObjectInfo { size: bytes.len() as u64, etag: format!("\"{}\"", bytes.len()) }
}

impl Buckets for MemoryBuckets {
    fn bucket_exists<'a>(&'a self, bucket: &'a str) -> BucketFuture<'a, bool> {
        Box::pin(async move { Ok(self.buckets.lock().unwrap().contains(bucket)) })
    }

    fn head_object<'a>(&'a self, bucket: &'a str, key: &'a str) -> BucketFuture<'a, ObjectInfo> {
        Box::pin(async move { self.lookup(bucket, key).map(|it| info(&it)) })
    }

    fn read_object<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
    ) -> BucketFuture<'a, (ObjectInfo, ObjectBody)> {
        Box::pin(async move {
            let bytes = self.lookup(bucket, key)?;
            let body: ObjectBody =
                Box::pin(futures::stream::iter([Ok(bytes::Bytes::from(bytes.clone()))]));
            Ok((info(&bytes), body))
        })
    }

    fn list_keys<'a>(&'a self, bucket: &'a str, prefix: &'a str) -> BucketFuture<'a, Vec<String>> {
        Box::pin(async move {
            if !self.buckets.lock().unwrap().contains(bucket) {
                return Err(BucketError::NoSuchBucket(bucket.to_owned()));
            }
            Ok(self.keys(bucket).into_iter().filter(|it| it.starts_with(prefix)).collect())
        })
    }

    fn write_object<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
        from: &'a Path,
        _: &'a str,
    ) -> BucketFuture<'a, ObjectInfo> {
        Box::pin(async move {
            if !self.buckets.lock().unwrap().contains(bucket) {
                return Err(BucketError::NoSuchBucket(bucket.to_owned()));
            }
            let bytes = std::fs::read(from).map_err(|err| BucketError::Failed(err.to_string()))?;
            self.put(bucket, key, &bytes);
            Ok(info(&bytes))
        })
    }
}

/// No hosted repository has any commit, file or event.
pub(crate) struct NoRepositories;

impl Repositories for NoRepositories {
    fn default_branch<'a>(&'a self, _: &'a str) -> RepositoryFuture<'a, Option<String>> {
        Box::pin(async { Ok(None) })
    }
    fn resolve_commit<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
    ) -> RepositoryFuture<'a, Option<String>> {
        Box::pin(async { Ok(None) })
    }
    fn has_branch<'a>(&'a self, _: &'a str, _: &'a str) -> RepositoryFuture<'a, bool> {
        Box::pin(async { Ok(false) })
    }
    fn read_file<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: &'a str,
        _: usize,
    ) -> RepositoryFuture<'a, FileAt> {
        Box::pin(async { Ok(FileAt::Missing) })
    }
    fn latest_event<'a>(&'a self, _: &'a str) -> RepositoryFuture<'a, i64> {
        Box::pin(async { Ok(0) })
    }
    fn events_after<'a>(&'a self, _: &'a str, _: i64) -> RepositoryFuture<'a, Vec<Document>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    fn commit_message<'a>(&'a self, _: &'a str, _: &'a str) -> RepositoryFuture<'a, String> {
        Box::pin(async { Ok(String::new()) })
    }
    fn changed_files<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: &'a str,
    ) -> RepositoryFuture<'a, Vec<String>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// A context on a fresh temporary directory (SQLite, local blobs, a new sealing key), in
/// `us-east-1` and account `000000000000`; the directory lives as long as the returned guard.
pub(crate) async fn test_context() -> (Context, tempfile::TempDir) {
    test_context_with(Arc::new(MemoryBuckets::default())).await
}

/// [`test_context`] with these buckets.
pub(crate) async fn test_context_with(buckets: Arc<MemoryBuckets>) -> (Context, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Store::connect(&format!("sqlite:{}", dir.path().join("state.db").display())).await.unwrap();
    let blobs = engine::blob::BlobStore::local(&dir.path().join("blobs")).unwrap();
    let sealer = iam::crypto::SecretBox::load_or_create(&dir.path().join("key"), true).unwrap();
    let ctx = Context {
        identity: iam::identity::Identity::new(store.clone(), sealer.clone(), "000000000000"),
        secrets: iam::secrets_store::SecretsStore::new(store.clone(), sealer),
        store,
        blobs,
        region: "us-east-1".to_owned(),
        account: "000000000000".to_owned(),
        temp_dir: dir.path().join("tmp"),
        repositories: Arc::new(NoRepositories),
        buckets,
        jobs: Arc::new(tokio::sync::Notify::new()),
        logs: Arc::new(tokio::sync::Notify::new()),
    };
    (ctx, dir)
}

/// The user `admin`, calling from nowhere in particular.
pub(crate) fn admin() -> Caller {
    Caller { user: "admin".to_owned(), access_key_id: String::new(), host: String::new() }
}

/// The CodeBuild operation `operation` as `admin`, at the clock's time.
pub(crate) async fn call(ctx: &Context, operation: &str, input: Value) -> Result<Value, ApiError> {
    let now = engine::clock::now_ms();
    let caller = admin();
    match operation {
        "CreateProject" => answer(projects::create_project(ctx, typed(input)?, now).await?),
        "UpdateProject" => answer(projects::update_project(ctx, typed(input)?, now).await?),
        "StartBuild" => answer(builds::start_build(ctx, &caller, typed(input)?, now).await?),
        "RetryBuild" => answer(builds::retry_build(ctx, &caller, typed(input)?, now).await?),
        "ListProjects" => answer(projects::list_projects(ctx, typed(input)?).await?),
        "CreateReportGroup" => answer(reports::create_report_group(ctx, typed(input)?, now).await?),
        "BatchGetReportGroups" => {
            answer(reports::batch_get_report_groups(ctx, typed(input)?).await?)
        }
        "ListReportGroups" => answer(reports::list_report_groups(ctx, typed(input)?).await?),
        "DescribeTestCases" => answer(reports::describe_test_cases(ctx, typed(input)?).await?),
        "StopBuild" => answer(builds::stop_build(ctx, typed(input)?, now).await?),
        "BatchGetBuilds" => answer(builds::batch_get_builds(ctx, typed(input)?, now).await?),
        "BatchDeleteBuilds" => answer(builds::batch_delete_builds(ctx, typed(input)?).await?),
        "ListBuildsForProject" => {
            answer(builds::list_builds_for_project(ctx, typed(input)?).await?)
        }
        other => panic!("no operation {other} in the tests' table"),
    }
}

fn answer(output: impl serde::Serialize) -> Result<Value, ApiError> {
    Ok(serde_json::to_value(output).unwrap())
}

/// A trust policy that lets CodeBuild assume a role: what a project's service role has.
pub(crate) const TRUST_CODEBUILD: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"codebuild.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// Creates the role `name` trusted by `trust`, with no policies.
pub(crate) async fn create_role(ctx: &Context, name: &str, trust: &str) {
    let create = iam::roles::CreateRoleRequest {
        path: None,
        role_name: name.into(),
        assume_role_policy_document: trust.into(),
        description: None,
        max_session_duration: None,
        permissions_boundary: None,
        tags: Vec::new(),
    };
    iam::roles::create_role(&ctx.identity, create, 0).await.unwrap();
}

/// Gives the role `name` the inline policy `policy`.
pub(crate) async fn put_role_policy(ctx: &Context, name: &str, policy: &str) {
    let put = iam::policies::PutRolePolicyRequest {
        role_name: name.into(),
        policy_name: "test".into(),
        policy_document: policy.into(),
    };
    iam::policies::put_role_policy(&ctx.identity, put).await.unwrap();
}

/// The role `name` trusted by `trust`, with the inline policy `policy`.
pub(crate) async fn role(ctx: &Context, name: &str, trust: &str, policy: &str) {
    create_role(ctx, name, trust).await;
    put_role_policy(ctx, name, policy).await;
}
