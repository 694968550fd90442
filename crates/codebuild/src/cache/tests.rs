//! Tests of S3 caches: the location read as bucket and prefix, entry keys and names, and the
//! role's decision on each access.

use std::sync::Arc;

use serde_json::json;

use super::*;

fn cache(bucket: &str, prefix: &str) -> S3Cache {
    S3Cache { bucket: bucket.to_owned(), prefix: prefix.to_owned() }
}

#[test]
fn a_cache_location_is_a_bucket_and_a_prefix() {
    let s3 = |location: &str| s3_cache(&json!({ "type": "S3", "location": location }));
    assert_eq!(s3("caches/app/"), Some(cache("caches", "app")));
    assert_eq!(s3("arn:aws:s3:::caches/a/b"), Some(cache("caches", "a/b")));
    assert_eq!(s3("caches"), Some(cache("caches", "")));
    assert_eq!(s3(""), None);
    assert_eq!(s3_cache(&json!({ "type": "LOCAL", "location": "caches" })), None);
    assert_eq!(entry_key(&cache("c", "app"), "default.zip"), "app/default.zip");
    assert_eq!(entry_key(&cache("c", ""), "default.zip"), "default.zip");
    let keys = ["app/default.zip", "app/k-v1.zip", "app/deeper/k-x.zip", "app/notes.txt"]
        .map(str::to_owned);
    assert_eq!(entries(&cache("c", "app"), &keys), ["default.zip", "k-v1.zip"]);
    assert!(check_entry("../default.zip").is_err());
    assert!(check_entry(".tmp-1.zip").is_err());
}

#[tokio::test]
async fn each_access_to_the_cache_is_the_roles_to_allow() {
    let buckets = Arc::new(crate::testing::MemoryBuckets::with_bucket("caches"));
    let (ctx, _dir) = crate::testing::test_context_with(buckets).await;
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:ListBucket","s3:GetObject"],"Resource":["arn:aws:s3:::caches","arn:aws:s3:::caches/app/*"]}]}"#;
    crate::testing::role(&ctx, "reader", crate::testing::TRUST_CODEBUILD, policy).await;
    let document = engine::store::Document {
        kind: engine::kinds::BUILD.to_owned(),
        key: "app:u".to_owned(),
        parent: Some("app".to_owned()),
        sort: 0,
        version: 0,
        body: json!({
            "serviceRole": "reader",
            "buildComplete": false,
            INTERNAL: { "agentId": "agent-1", "s3Cache": cache("caches", "app") },
        }),
    };
    ctx.store.apply(vec![engine::store::Write::Insert(document)]).await.unwrap();
    let access = |access| leased_cache(&ctx, "app:u", "agent-1", access, 0);
    assert_eq!(access(CacheAccess::List).await.unwrap(), cache("caches", "app"));
    assert_eq!(access(CacheAccess::Read("default.zip")).await.unwrap(), cache("caches", "app"));
    let refused = access(CacheAccess::Write("default.zip")).await.unwrap_err();
    assert_eq!(
        refused.message,
        "Role arn:aws:iam::000000000000:role/reader may not write cache object arn:aws:s3:::caches/app/default.zip (s3:PutObject)"
    );
    let refused = access(CacheAccess::Read("../x.zip")).await.unwrap_err();
    assert_eq!(refused.message, "invalid cache entry name ../x.zip");
    let other = leased_cache(&ctx, "app:u", "agent-2", CacheAccess::List, 0).await.unwrap_err();
    assert_eq!(other.code(), "JobNotLeased");
}
