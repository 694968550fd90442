//! S3 end to end with the real `aws` CLI and boto3, path-style at the server's endpoint:
//! buckets, `aws s3 cp`/`sync`/`rm`/`rb`, multipart uploads (by the CLI, by boto3's threads,
//! and one across a `kill -9` of the server), listings and their paging, odd keys, conditional
//! and ranged reads, copies, presigned URLs, anonymous requests, users whose policies allow
//! only part of a bucket, and the audit trail's S3 events.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::server::RunningServer;
use crate::support::text;
use crate::{Run, Sandbox};

const MIB: usize = 1024 * 1024;

/// A server on the sandbox's data directory, with no agent (no test here builds).
fn start(sandbox: &Sandbox) -> RunningServer {
    RunningServer::start_with(&sandbox.path("data"), "127.0.0.1:0", &["--no-local-agent"])
}

/// `size` bytes that differ from part to part (an xorshift), so that a part out of place or
/// missing shows.
fn bytes(size: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Asserts that a command failed with the CLI's exit code 255 and that its error says `code`.
#[track_caller]
fn refused(run: &Run, code: &str) {
    run.expect_code(255);
    assert!(run.stderr.contains(&format!("({code})")), "{run:?}");
}

/// The JSON a command printed, asserting it succeeded.
#[track_caller]
fn parsed(run: &Run) -> Value {
    run.expect_code(0);
    serde_json::from_str(&run.stdout).unwrap_or_else(|err| panic!("{err}: {}", run.stdout))
}

/// `curl` of `url` without credentials: the status and the body.
fn curl(url: &str) -> (String, String) {
    let output = Command::new("curl")
        .args(["-s", "-g", "-o", "-", "-w", "\n%{http_code}", url])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let all = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = all.rsplit_once('\n').unwrap();
    (status.to_owned(), body.to_owned())
}

/// Runs `script` with python3 (and boto3), the endpoint as its first argument and the admin's
/// credentials; it prints one JSON document.
fn python(server: &RunningServer, script: &str) -> Value {
    let output = Command::new("python3")
        .args(["-c", script, &server.endpoint])
        .env("AWS_SHARED_CREDENTIALS_FILE", server.credentials())
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let run = Run::from(output);
    parsed(&run)
}

/// The keys a listing's `Contents` names.
fn keys(listing: &Value) -> Vec<String> {
    listing["Contents"]
        .as_array()
        .map(|it| it.iter().map(|o| text(&o["Key"])).collect())
        .unwrap_or_default()
}

/// The prefixes a listing's `CommonPrefixes` names.
fn prefixes(listing: &Value) -> Vec<String> {
    listing["CommonPrefixes"]
        .as_array()
        .map(|it| it.iter().map(|p| text(&p["Prefix"])).collect())
        .unwrap_or_default()
}

/// Writes `content` at `path`, creating directories; returns the path.
fn write_bytes(path: &Path, content: &[u8]) -> PathBuf {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
    path.to_owned()
}

#[test]
fn buckets_and_folder_trees_with_aws_s3() {
    let sandbox = Sandbox::new();
    let server = start(&sandbox);
    let made = server.aws(&["s3", "mb", "s3://photos"]);
    assert_eq!(made.expect_code(0).stdout.trim(), "make_bucket: photos");
    server.aws(&["s3", "mb", "s3://logs"]).expect_code(0);
    let listed = server.aws(&["s3", "ls"]);
    let names: Vec<&str> =
        listed.expect_code(0).stdout.lines().filter_map(|it| it.split(' ').nth(2)).collect();
    assert_eq!(names, ["logs", "photos"], "{listed:?}");

    server.aws(&["s3api", "head-bucket", "--bucket", "photos"]).expect_code(0);
    refused(&server.aws(&["s3api", "head-bucket", "--bucket", "nothing"]), "404");
    let location = server.json(&["s3api", "get-bucket-location", "--bucket", "photos"]);
    assert_eq!(location, json!({ "LocationConstraint": null }));
    // us-east-1 answers a create of a bucket one owns with success.
    server.aws(&["s3api", "create-bucket", "--bucket", "photos"]).expect_code(0);
    refused(&server.aws(&["s3api", "create-bucket", "--bucket", "Bad_Name"]), "InvalidBucketName");

    // A tree of folders goes up, once.
    let tree = sandbox.path("tree");
    write_bytes(&tree.join("index.html"), b"<h1>hi</h1>\n");
    write_bytes(&tree.join("docs/guide.md"), b"# Guide\n");
    write_bytes(&tree.join("docs/deep/er/notes.txt"), b"deep\n");
    write_bytes(&tree.join("img/logo.bin"), &bytes(70_000, 1));
    let tree_arg = tree.to_str().unwrap();
    let synced = server.aws(&["s3", "sync", tree_arg, "s3://photos/site", "--no-progress"]);
    let uploads = synced.expect_code(0).stdout.lines().filter(|it| it.starts_with("upload: "));
    assert_eq!(uploads.count(), 4, "{synced:?}");
    let recursive = server.aws(&["s3", "ls", "--recursive", "s3://photos"]);
    let listed: Vec<(u64, &str)> = recursive
        .expect_code(0)
        .stdout
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields[2].parse().unwrap(), fields[3])
        })
        .collect();
    assert_eq!(
        listed,
        [
            (5, "site/docs/deep/er/notes.txt"),
            (8, "site/docs/guide.md"),
            (70_000, "site/img/logo.bin"),
            (12, "site/index.html"),
        ],
        "{recursive:?}"
    );
    let top = server.aws(&["s3", "ls", "s3://photos/site/"]);
    assert!(top.expect_code(0).stdout.contains("PRE docs/"), "{top:?}");
    let again = server.aws(&["s3", "sync", tree_arg, "s3://photos/site", "--no-progress"]);
    assert_eq!(again.expect_code(0).stdout, "", "{again:?}");
    // And comes back down the same.
    let copy = sandbox.path("copy");
    let down = server.aws(&["s3", "sync", "s3://photos/site", copy.to_str().unwrap()]);
    down.expect_code(0);
    for file in ["index.html", "docs/guide.md", "docs/deep/er/notes.txt", "img/logo.bin"] {
        assert_eq!(
            std::fs::read(copy.join(file)).unwrap(),
            std::fs::read(tree.join(file)).unwrap()
        );
    }

    let full = server.aws(&["s3", "rb", "s3://photos"]);
    full.expect_code(1);
    assert!(full.stderr.contains("BucketNotEmpty"), "{full:?}");
    let removed = server.aws(&["s3", "rm", "--recursive", "s3://photos"]);
    let deletes = removed.expect_code(0).stdout.lines().filter(|it| it.starts_with("delete: "));
    assert_eq!(deletes.count(), 4, "{removed:?}");
    let gone = server.aws(&["s3", "rb", "s3://photos"]);
    assert_eq!(gone.expect_code(0).stdout.trim(), "remove_bucket: photos");
}

#[test]
fn cp_uploads_a_large_file_in_parts_and_small_files_whole() {
    let sandbox = Sandbox::new();
    let server = start(&sandbox);
    server.aws(&["s3", "mb", "s3://files"]).expect_code(0);
    let content = bytes(24 * MIB, 7);
    let big = write_bytes(&sandbox.path("big.bin"), &content);
    let up =
        server.aws(&["s3", "cp", big.to_str().unwrap(), "s3://files/big.bin", "--no-progress"]);
    up.expect_code(0);

    // The CLI sends 8 MiB parts: three.
    let head = server.json(&["s3api", "head-object", "--bucket", "files", "--key", "big.bin"]);
    assert_eq!(head["ContentLength"], 24 * MIB, "{head}");
    let etag = text(&head["ETag"]);
    assert!(etag.starts_with('"') && etag.ends_with("-3\""), "{head}");
    let first =
        ["s3api", "head-object", "--bucket", "files", "--key", "big.bin", "--part-number", "1"];
    let part = server.json(&first);
    assert_eq!(
        (&part["PartsCount"], &part["ContentLength"]),
        (&json!(3), &json!(8 * MIB)),
        "{part}"
    );
    assert_eq!(text(&part["ETag"]), etag);

    let back = sandbox.path("back.bin");
    let down = server.aws(&["s3", "cp", "s3://files/big.bin", back.to_str().unwrap()]);
    down.expect_code(0);
    assert!(std::fs::read(&back).unwrap() == content, "the downloaded bytes differ");

    let small = write_bytes(&sandbox.path("hello.txt"), b"hello, s3\n");
    server.aws(&["s3", "cp", small.to_str().unwrap(), "s3://files/dir/hello.txt"]).expect_code(0);
    let head =
        server.json(&["s3api", "head-object", "--bucket", "files", "--key", "dir/hello.txt"]);
    assert_eq!(head["ContentLength"], 10, "{head}");
    assert!(!text(&head["ETag"]).contains('-'), "{head}");
    assert_eq!(head["ContentType"], "text/plain", "{head}");
    let out = server.aws(&["s3", "cp", "s3://files/dir/hello.txt", "-"]);
    assert_eq!(out.expect_code(0).stdout, "hello, s3\n");
}

#[test]
fn listings_page_group_by_delimiter_and_keep_odd_keys() {
    let sandbox = Sandbox::new();
    let server = start(&sandbox);
    server.aws(&["s3", "mb", "s3://list"]).expect_code(0);
    let odd = ["with space.txt", "plus+sign.txt", "héllo ✓.txt", "100%.txt", "q?a=b&c.txt"];
    let tree = sandbox.path("tree");
    for (index, key) in ["a/1.txt", "a/2.txt", "a/b/3.txt", "c.txt"].iter().chain(&odd).enumerate()
    {
        write_bytes(&tree.join(key), format!("{key} {index}\n").as_bytes());
    }
    server
        .aws(&["s3", "sync", tree.to_str().unwrap(), "s3://list", "--no-progress"])
        .expect_code(0);
    let mut all: Vec<String> = ["a/1.txt", "a/2.txt", "a/b/3.txt", "c.txt"]
        .iter()
        .chain(&odd)
        .map(|it| it.to_string())
        .collect();
    all.sort();

    // By hand, three keys a page.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut args = vec![
            "s3api",
            "list-objects-v2",
            "--bucket",
            "list",
            "--max-keys",
            "3",
            "--no-paginate",
        ];
        if let Some(token) = &token {
            args.extend(["--continuation-token", token]);
        }
        let page = server.json(&args);
        pages += 1;
        assert_eq!(page["MaxKeys"], 3, "{page}");
        seen.extend(keys(&page));
        assert_eq!(page["KeyCount"], keys(&page).len(), "{page}");
        if page["IsTruncated"] == json!(false) {
            assert!(page.get("NextContinuationToken").is_none(), "{page}");
            break;
        }
        token = Some(text(&page["NextContinuationToken"]));
    }
    assert_eq!((pages, &seen), (3, &all));
    // The CLI's own paging, two keys a request, five items an answer.
    let paged = server.json(&["s3api", "list-objects-v2", "--bucket", "list", "--page-size", "2"]);
    assert_eq!(keys(&paged), all);
    let five = server.json(&[
        "s3api",
        "list-objects-v2",
        "--bucket",
        "list",
        "--max-items",
        "5",
        "--page-size",
        "2",
    ]);
    assert_eq!(keys(&five), all[..5]);
    let rest = [
        "s3api",
        "list-objects-v2",
        "--bucket",
        "list",
        "--page-size",
        "2",
        "--starting-token",
        five["NextToken"].as_str().unwrap(),
    ];
    assert_eq!(keys(&server.json(&rest)), all[5..]);

    let folder = server.json(&[
        "s3api",
        "list-objects-v2",
        "--bucket",
        "list",
        "--prefix",
        "a/",
        "--delimiter",
        "/",
    ]);
    assert_eq!(
        (keys(&folder), prefixes(&folder)),
        (vec!["a/1.txt".to_owned(), "a/2.txt".to_owned()], vec!["a/b/".to_owned()]),
        "{folder}"
    );
    let root = server.json(&["s3api", "list-objects-v2", "--bucket", "list", "--delimiter", "/"]);
    assert_eq!(prefixes(&root), ["a/"], "{root}");
    assert_eq!(keys(&root).len(), all.len() - 3, "{root}");
    let after =
        server.json(&["s3api", "list-objects-v2", "--bucket", "list", "--start-after", "c.txt"]);
    let later: Vec<String> = all.iter().filter(|it| it.as_str() > "c.txt").cloned().collect();
    assert_eq!(keys(&after), later, "{after}");
    // ListObjects (version 1) with a marker.
    let v1 = server.json(&[
        "s3api",
        "list-objects",
        "--bucket",
        "list",
        "--marker",
        "a/b/3.txt",
        "--max-keys",
        "2",
        "--no-paginate",
    ]);
    assert_eq!(keys(&v1), all[4..6], "{v1}");
    assert_eq!(v1["IsTruncated"], true, "{v1}");
    assert_eq!(v1["Marker"], "a/b/3.txt", "{v1}");

    // Odd keys come back down as they went up.
    let copy = sandbox.path("copy");
    server
        .aws(&["s3", "sync", "s3://list", copy.to_str().unwrap(), "--no-progress"])
        .expect_code(0);
    for key in &all {
        assert_eq!(
            std::fs::read(copy.join(key)).unwrap(),
            std::fs::read(tree.join(key)).unwrap(),
            "{key}"
        );
    }
}

#[test]
fn objects_metadata_copies_ranges_conditions_and_the_trail() {
    let sandbox = Sandbox::new();
    let server = start(&sandbox);
    server.aws(&["s3", "mb", "s3://docs"]).expect_code(0);
    let body = write_bytes(&sandbox.path("doc.md"), b"0123456789 the document\n");
    let put = server.json(&[
        "s3api",
        "put-object",
        "--bucket",
        "docs",
        "--key",
        "doc.md",
        "--body",
        body.to_str().unwrap(),
        "--content-type",
        "text/markdown",
        "--metadata",
        "author=ann,team=web",
    ]);
    let etag = text(&put["ETag"]);
    let head = server.json(&["s3api", "head-object", "--bucket", "docs", "--key", "doc.md"]);
    assert_eq!(head["ContentType"], "text/markdown", "{head}");
    assert_eq!(head["Metadata"], json!({ "author": "ann", "team": "web" }), "{head}");
    assert_eq!((text(&head["ETag"]), &head["ContentLength"]), (etag.clone(), &json!(24)));

    // Missing things.
    let missing = server.aws(&["s3api", "head-object", "--bucket", "docs", "--key", "nope"]);
    missing.expect_code(255);
    assert!(
        missing.stderr.contains("(404)") && missing.stderr.contains("Not Found"),
        "{missing:?}"
    );
    let out = sandbox.path("out");
    let out_arg = out.to_str().unwrap();
    refused(
        &server.aws(&["s3api", "get-object", "--bucket", "docs", "--key", "nope", out_arg]),
        "NoSuchKey",
    );
    refused(
        &server.aws(&["s3api", "get-object", "--bucket", "nobucket", "--key", "k", out_arg]),
        "NoSuchBucket",
    );

    // Copies keep the metadata, or replace it.
    server.json(&[
        "s3api",
        "copy-object",
        "--bucket",
        "docs",
        "--key",
        "copy.md",
        "--copy-source",
        "docs/doc.md",
    ]);
    let copied = server.json(&["s3api", "head-object", "--bucket", "docs", "--key", "copy.md"]);
    assert_eq!(
        (&copied["ContentType"], &copied["Metadata"]),
        (&head["ContentType"], &head["Metadata"])
    );
    assert_eq!(text(&copied["ETag"]), etag);
    server.json(&[
        "s3api",
        "copy-object",
        "--bucket",
        "docs",
        "--key",
        "replaced.txt",
        "--copy-source",
        "docs/doc.md",
        "--metadata-directive",
        "REPLACE",
        "--metadata",
        "author=bob",
        "--content-type",
        "text/plain",
    ]);
    let replaced =
        server.json(&["s3api", "head-object", "--bucket", "docs", "--key", "replaced.txt"]);
    assert_eq!(
        (&replaced["ContentType"], &replaced["Metadata"]),
        (&json!("text/plain"), &json!({ "author": "bob" })),
        "{replaced}"
    );

    // A range.
    let ranged = server.json(&[
        "s3api",
        "get-object",
        "--bucket",
        "docs",
        "--key",
        "doc.md",
        "--range",
        "bytes=2-5",
        out_arg,
    ]);
    assert_eq!(
        (&ranged["ContentRange"], &ranged["ContentLength"]),
        (&json!("bytes 2-5/24"), &json!(4)),
        "{ranged}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"2345");

    // Conditions.
    let get = |extra: &[&str]| {
        let mut args = vec!["s3api", "get-object", "--bucket", "docs", "--key", "doc.md"];
        args.extend_from_slice(extra);
        args.push(out_arg);
        server.aws(&args)
    };
    get(&["--if-match", &etag]).expect_code(0);
    refused(&get(&["--if-match", "\"0000\""]), "PreconditionFailed");
    refused(&get(&["--if-none-match", &etag]), "304");
    get(&["--if-none-match", "\"0000\""]).expect_code(0);
    let modified = text(&head["LastModified"]);
    refused(&get(&["--if-modified-since", &modified]), "304");
    get(&["--if-modified-since", "2001-01-01T00:00:00Z"]).expect_code(0);
    refused(&get(&["--if-unmodified-since", "2001-01-01T00:00:00Z"]), "PreconditionFailed");

    // The audit trail has S3's events.
    let attribute = "AttributeKey=EventSource,AttributeValue=s3.amazonaws.com";
    let events = server.json(&["cloudtrail", "lookup-events", "--lookup-attributes", attribute]);
    let records: Vec<Value> = events["Events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|it| serde_json::from_str(it["CloudTrailEvent"].as_str().unwrap()).unwrap())
        .collect();
    let put = records
        .iter()
        .find(|it| it["eventName"] == "PutObject" && it["requestParameters"]["key"] == "doc.md")
        .unwrap_or_else(|| panic!("no PutObject in {events}"));
    assert_eq!(put["eventSource"], "s3.amazonaws.com", "{put}");
    assert_eq!(put["requestParameters"]["bucketName"], "docs", "{put}");
    let failed = records
        .iter()
        .find(|it| it["eventName"] == "GetObject" && it["errorCode"] == "NoSuchKey")
        .unwrap_or_else(|| panic!("no failed GetObject in {events}"));
    assert_eq!(failed["requestParameters"]["key"], "nope", "{failed}");
}

#[test]
fn presigned_urls_work_until_tampered_with_or_expired() {
    let sandbox = Sandbox::new();
    let server = start(&sandbox);
    server.aws(&["s3", "mb", "s3://share"]).expect_code(0);
    for (key, content) in [("note.txt", "the note\n"), ("other.txt", "another\n")] {
        let file = write_bytes(&sandbox.path(key), content.as_bytes());
        server
            .aws(&["s3", "cp", file.to_str().unwrap(), &format!("s3://share/{key}")])
            .expect_code(0);
    }
    // The CLI signs presigned URLs with SigV2 unless told otherwise.
    let config =
        write_bytes(&sandbox.path("config"), b"[default]\ns3 =\n    signature_version = s3v4\n");
    let presign = |key: &str| {
        let run = server.aws_configured(
            "us-east-1",
            &server.credentials(),
            &config,
            &["s3", "presign", &format!("s3://share/{key}"), "--expires-in", "600"],
        );
        run.expect_code(0).stdout.trim().to_owned()
    };
    let url = presign("note.txt");
    assert!(
        url.contains("X-Amz-Algorithm=AWS4-HMAC-SHA256") && url.contains("X-Amz-Expires=600"),
        "{url}"
    );
    assert_eq!(curl(&url), ("200".to_owned(), "the note\n".to_owned()));

    for tampered in [
        url.replace("/note.txt?", "/other.txt?"),
        url.replace("X-Amz-Expires=600", "X-Amz-Expires=6000"),
    ] {
        let (status, body) = curl(&tampered);
        assert_eq!(status, "403", "{body}");
        assert!(body.contains("<Code>SignatureDoesNotMatch</Code>"), "{body}");
    }

    // boto3 presigns a PUT, and a GET an hour ago for a minute (botocore's clock turned back).
    let script = r#"
import datetime, json, sys, boto3, botocore.auth
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                  config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
put = s3.generate_presigned_url("put_object", Params={"Bucket": "share", "Key": "put.txt"}, ExpiresIn=60)
now = botocore.auth.get_current_datetime
botocore.auth.get_current_datetime = lambda: now() - datetime.timedelta(hours=1)
old = s3.generate_presigned_url("get_object", Params={"Bucket": "share", "Key": "note.txt"}, ExpiresIn=60)
print(json.dumps([put, old]))
"#;
    let urls = python(&server, script);
    let put = Command::new("curl")
        .args(["-s", "-g", "-X", "PUT", "--data-binary", "put by URL", "-w", "%{http_code}"])
        .arg(text(&urls[0]))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&put.stdout), "200");
    let got = server.aws(&["s3", "cp", "s3://share/put.txt", "-"]);
    assert_eq!(got.expect_code(0).stdout, "put by URL");
    let (status, body) = curl(&text(&urls[1]));
    assert_eq!(status, "403", "{body}");
    assert!(
        body.contains("<Code>AccessDenied</Code>") && body.contains("Request has expired"),
        "{body}"
    );
}

/// boto3's calls; each answer (or the part of it that matters) under a name.
const BOTO3_SCRIPT: &str = r#"
import hashlib, io, json, random, sys, boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError
MIB = 1024 * 1024
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}))
out = {}
s3.create_bucket(Bucket="pybucket")
out["put"] = s3.put_object(Bucket="pybucket", Key="hello.txt", Body=b"hello boto3\n")["ETag"]
got = s3.get_object(Bucket="pybucket", Key="hello.txt")
out["get"] = [got["Body"].read().decode(), got["ETag"], got["ContentLength"]]
for i in range(4):
    s3.put_object(Bucket="pybucket", Key=f"del/{i}", Body=b"x")
quiet = s3.delete_objects(Bucket="pybucket", Delete={"Quiet": True, "Objects": [{"Key": "del/0"}, {"Key": "del/1"}]})
out["quiet"] = [quiet.get("Deleted", []), quiet.get("Errors", [])]
loud = s3.delete_objects(Bucket="pybucket", Delete={"Objects": [{"Key": "del/2"}, {"Key": "del/3"}, {"Key": "never"}]})
out["loud"] = sorted(it["Key"] for it in loud.get("Deleted", []))
out["left"] = [it["Key"] for it in s3.list_objects_v2(Bucket="pybucket", Prefix="del/").get("Contents", [])]
odd = ["a//b", "/lead", "dot/../up", "x%2Fy", "semi;colon,=@$", "folder/"]
for key in odd:
    s3.put_object(Bucket="pybucket", Key=key, Body=key.encode())
out["odd"] = [s3.get_object(Bucket="pybucket", Key=key)["Body"].read().decode() == key for key in odd]
out["odd_listed"] = [it["Key"] for it in s3.list_objects_v2(Bucket="pybucket")["Contents"]]
s3.delete_objects(Bucket="pybucket", Delete={"Objects": [{"Key": key} for key in odd]})

data = random.Random(5).randbytes(13 * MIB)
config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=4, use_threads=True)
s3.upload_fileobj(io.BytesIO(data), "pybucket", "multi.bin", Config=config)
chunks = [data[i:i + 5 * MIB] for i in range(0, len(data), 5 * MIB)]
digests = b"".join(hashlib.md5(chunk).digest() for chunk in chunks)
out["multi_expected"] = '"%s-%d"' % (hashlib.md5(digests).hexdigest(), len(chunks))
head = s3.head_object(Bucket="pybucket", Key="multi.bin", PartNumber=3)
out["multi"] = [head["ETag"], head.get("PartsCount"), head["ContentLength"]]
out["multi_same"] = s3.get_object(Bucket="pybucket", Key="multi.bin")["Body"].read() == data
try:
    s3.get_object(Bucket="pybucket", Key="multi.bin", PartNumber=4)
    out["part_4"] = "read"
except ClientError as err:
    out["part_4"] = [err.response["Error"]["Code"], err.response["ResponseMetadata"]["HTTPStatusCode"]]

upload = s3.create_multipart_upload(Bucket="pybucket", Key="pending.bin")["UploadId"]
etags = [s3.upload_part(Bucket="pybucket", Key="pending.bin", UploadId=upload, PartNumber=n, Body=body)["ETag"]
         for n, body in [(1, b"a" * 5 * MIB), (2, b"tail")]]
out["etags_expected"] = ['"%s"' % hashlib.md5(b"a" * 5 * MIB).hexdigest(), '"%s"' % hashlib.md5(b"tail").hexdigest()]
out["etags"] = etags
parts = s3.list_parts(Bucket="pybucket", Key="pending.bin", UploadId=upload)
out["parts"] = [[it["PartNumber"], it["Size"], it["ETag"]] for it in parts["Parts"]]
out["uploads"] = [[it["Key"], it["UploadId"] == upload] for it in s3.list_multipart_uploads(Bucket="pybucket").get("Uploads", [])]
s3.abort_multipart_upload(Bucket="pybucket", Key="pending.bin", UploadId=upload)
out["after_abort"] = s3.list_multipart_uploads(Bucket="pybucket").get("Uploads", [])
try:
    s3.list_parts(Bucket="pybucket", Key="pending.bin", UploadId=upload)
    out["aborted"] = "listed"
except ClientError as err:
    out["aborted"] = err.response["Error"]["Code"]
print(json.dumps(out))
"#;

#[test]
fn boto3_puts_gets_deletes_and_uploads_in_threads() {
    let sandbox = Sandbox::new();
    let server = start(&sandbox);
    let out = python(&server, BOTO3_SCRIPT);
    assert_eq!(out["get"], json!(["hello boto3\n", out["put"], 12]), "{out}");
    assert_eq!(out["quiet"], json!([[], []]), "{out}");
    assert_eq!(out["loud"], json!(["del/2", "del/3", "never"]), "{out}");
    assert_eq!(out["left"], json!([]), "{out}");
    assert_eq!(out["odd"], json!([true, true, true, true, true, true]), "{out}");
    let listed =
        json!(["/lead", "a//b", "dot/../up", "folder/", "hello.txt", "semi;colon,=@$", "x%2Fy"]);
    assert_eq!(out["odd_listed"], listed, "{out}");
    assert_eq!(out["multi"], json!([out["multi_expected"], 3, 3 * MIB]), "{out}");
    assert_eq!(out["multi_same"], true, "{out}");
    assert_eq!(out["part_4"], json!(["InvalidPartNumber", 416]), "{out}");
    assert_eq!(out["etags"], out["etags_expected"], "{out}");
    let etags = &out["etags"];
    assert_eq!(out["parts"], json!([[1, 5 * MIB, etags[0]], [2, 4, etags[1]]]), "{out}");
    assert_eq!(out["uploads"], json!([["pending.bin", true]]), "{out}");
    assert_eq!(
        (&out["after_abort"], &out["aborted"]),
        (&json!([]), &json!("NoSuchUpload")),
        "{out}"
    );
}

/// A shared-credentials file for the new access key of a new user `user`, who has no policies.
fn user_credentials(server: &RunningServer, sandbox: &Sandbox, user: &str) -> PathBuf {
    server.json(&["iam", "create-user", "--user-name", user]);
    let key = server.json(&["iam", "create-access-key", "--user-name", user]);
    let content = format!(
        "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        text(&key["AccessKey"]["AccessKeyId"]),
        text(&key["AccessKey"]["SecretAccessKey"])
    );
    write_bytes(&sandbox.path(&format!("{user}-credentials")), content.as_bytes())
}

#[test]
fn anonymous_requests_and_users_see_what_their_policies_allow() {
    let sandbox = Sandbox::new();
    let server = start(&sandbox);
    server.aws(&["s3", "mb", "s3://shared"]).expect_code(0);
    let file = write_bytes(&sandbox.path("x"), b"public bytes\n");
    for key in ["public/x", "private/y"] {
        server
            .aws(&["s3", "cp", file.to_str().unwrap(), &format!("s3://shared/{key}")])
            .expect_code(0);
    }

    let (status, body) = curl(&format!("{}/shared/public/x", server.endpoint));
    assert_eq!(status, "403", "{body}");
    assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");
    let anonymous = server.aws(&["s3", "ls", "s3://shared", "--no-sign-request"]);
    assert!(anonymous.stderr.contains("AccessDenied"), "{anonymous:?}");

    let eve = user_credentials(&server, &sandbox, "eve");
    let out = sandbox.path("out");
    let out_arg = out.to_str().unwrap();
    let ls = server.aws_with(&eve, &["s3", "ls"]);
    assert!(ls.stderr.contains("AccessDenied"), "{ls:?}");
    refused(
        &server.aws_with(
            &eve,
            &["s3api", "get-object", "--bucket", "shared", "--key", "public/x", out_arg],
        ),
        "AccessDenied",
    );

    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [
            { "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::shared/public/*" },
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": "arn:aws:s3:::shared",
                "Condition": { "StringEquals": { "s3:prefix": "public/" } }
            }
        ]
    })
    .to_string();
    server
        .aws(&[
            "iam",
            "put-user-policy",
            "--user-name",
            "eve",
            "--policy-name",
            "public",
            "--policy-document",
            &policy,
        ])
        .expect_code(0);
    let down = server.aws_with(&eve, &["s3", "cp", "s3://shared/public/x", "-"]);
    assert_eq!(down.expect_code(0).stdout, "public bytes\n");
    refused(
        &server.aws_with(
            &eve,
            &["s3api", "get-object", "--bucket", "shared", "--key", "private/y", out_arg],
        ),
        "AccessDenied",
    );
    let listed = server
        .aws_with(&eve, &["s3api", "list-objects-v2", "--bucket", "shared", "--prefix", "public/"]);
    assert_eq!(keys(&parsed(&listed)), ["public/x"]);
    refused(
        &server.aws_with(&eve, &["s3api", "list-objects-v2", "--bucket", "shared"]),
        "AccessDenied",
    );
    let put = server.aws_with(&eve, &["s3", "cp", file.to_str().unwrap(), "s3://shared/public/z"]);
    assert!(put.stderr.contains("AccessDenied"), "{put:?}");
}

#[test]
fn a_multipart_upload_survives_a_kill_9_of_the_server() {
    let sandbox = Sandbox::new();
    let mut server = start(&sandbox);
    server.aws(&["s3", "mb", "s3://big"]).expect_code(0);
    let first = bytes(5 * MIB + 123, 3);
    let second = bytes(1000, 4);
    let part1 = write_bytes(&sandbox.path("part1"), &first);
    let part2 = write_bytes(&sandbox.path("part2"), &second);
    let created = server.json(&[
        "s3api",
        "create-multipart-upload",
        "--bucket",
        "big",
        "--key",
        "joined.bin",
    ]);
    let upload = text(&created["UploadId"]);
    let upload_part = |server: &RunningServer, number: &str, body: &Path| {
        let args = [
            "s3api",
            "upload-part",
            "--bucket",
            "big",
            "--key",
            "joined.bin",
            "--upload-id",
            &upload,
            "--part-number",
            number,
            "--body",
            body.to_str().unwrap(),
        ];
        text(&server.json(&args)["ETag"])
    };
    let etag1 = upload_part(&server, "1", &part1);

    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(server);
    let server = start(&sandbox);
    let list =
        ["s3api", "list-parts", "--bucket", "big", "--key", "joined.bin", "--upload-id", &upload];
    let parts = server.json(&list);
    assert_eq!(parts["Parts"][0]["ETag"], etag1.as_str(), "{parts}");
    assert_eq!(parts["Parts"][0]["Size"], first.len(), "{parts}");
    let etag2 = upload_part(&server, "2", &part2);
    let completion = json!({ "Parts": [
        { "PartNumber": 1, "ETag": etag1 },
        { "PartNumber": 2, "ETag": etag2 },
    ] })
    .to_string();
    let complete = [
        "s3api",
        "complete-multipart-upload",
        "--bucket",
        "big",
        "--key",
        "joined.bin",
        "--upload-id",
        &upload,
        "--multipart-upload",
        &completion,
    ];
    let completed = server.json(&complete);
    assert!(text(&completed["ETag"]).ends_with("-2\""), "{completed}");
    let out = sandbox.path("joined");
    server
        .aws(&[
            "s3api",
            "get-object",
            "--bucket",
            "big",
            "--key",
            "joined.bin",
            out.to_str().unwrap(),
        ])
        .expect_code(0);
    let joined = std::fs::read(&out).unwrap();
    assert!(
        joined.len() == first.len() + second.len()
            && joined[..first.len()] == first[..]
            && joined[first.len()..] == second[..],
        "the object is not part 1 then part 2"
    );
    let uploads = server.json(&["s3api", "list-multipart-uploads", "--bucket", "big"]);
    assert!(uploads.get("Uploads").is_none(), "{uploads}");
}
