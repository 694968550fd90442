//! S3 bodies as the SDKs send them, with boto3 against a real server: an aws-chunked upload
//! with its checksum in the trailer (what botocore sends over TLS, made here over plain HTTP),
//! a wrong trailer checksum and a body changed after it was signed leave no object, and a URL
//! presigned with Signature Version 2 is refused as S3 refuses it; temporary credentials sign
//! S3 requests and a forged session token is refused; an XML body past S3's limit is refused;
//! and `aws deploy push`'s upload.

use std::process::{Command, Stdio};

use crate::server::RunningServer;
use crate::{Run, Sandbox};

/// Runs `script` with python3, the server's endpoint and the admin's credentials in the
/// environment (`ENDPOINT`, and botocore's own variables).
fn python(server: &RunningServer, script: &str) -> Run {
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .env("ENDPOINT", &server.endpoint)
        .env("AWS_SHARED_CREDENTIALS_FILE", server.credentials())
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::null())
        .output()
        .expect("python3 with boto3 is installed (it comes with the aws CLI)");
    Run::from(output)
}

/// A boto3 client of the server, and botocore told that plain HTTP is TLS where it decides
/// how to send a checksum, so that it sends aws-chunked bodies with trailers as it does over
/// HTTPS.
const CLIENT: &str = r#"
import io, os, urllib.parse
import boto3, botocore.httpchecksum
from botocore.config import Config
from botocore.exceptions import ClientError

class AsTls:
    def __init__(self, url): self.parsed = urllib.parse.urlparse(url)
    def __getattr__(self, name): return "https" if name == "scheme" else getattr(self.parsed, name)
botocore.httpchecksum.urlparse = AsTls
s3 = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1")
def code(call):
    try:
        call()
    except ClientError as err:
        return err.response["Error"]["Code"]
    return "ok"
def keys(bucket):
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
"#;

#[test]
fn sdk_bodies_are_checked_as_s3_checks_them() {
    let sandbox = Sandbox::new();
    let server =
        RunningServer::start_with(&sandbox.path("data"), "127.0.0.1:0", &["--no-local-agent"]);
    let script = format!(
        r#"{CLIENT}
s3.create_bucket(Bucket="bodies")
seen = []
s3.meta.events.register("before-send.s3.PutObject", lambda request, **_: seen.append(dict(request.headers)))

# An aws-chunked body with its CRC32 in the trailer.
body = bytes(range(256)) * 4096
s3.put_object(Bucket="bodies", Key="chunked.bin", Body=io.BytesIO(body))
sent = seen[-1]
assert sent["X-Amz-Content-SHA256"] == b"STREAMING-UNSIGNED-PAYLOAD-TRAILER", sent
assert sent["X-Amz-Trailer"] == b"x-amz-checksum-crc32", sent
got = s3.get_object(Bucket="bodies", Key="chunked.bin", ChecksumMode="ENABLED")
assert got["Body"].read() == body
assert got["ContentLength"] == len(body)
assert "ChecksumCRC32" in got, got
assert "ContentEncoding" not in got, got

# The same body with a trailer that does not match it: refused, nothing kept.
import re
def wrong_trailer(request, **_):
    # The aws-chunked wrapper hands out a chunk per read.
    request.body.seek(0)
    data = b"".join(iter(lambda: request.body.read(65536), b""))
    data, found = re.subn(rb"x-amz-checksum-crc32:[A-Za-z0-9+/=]{{8}}", b"x-amz-checksum-crc32:AAAAAA==", data)
    assert found == 1, data[-100:]
    request.body = data
trailing = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1")
trailing.meta.events.register("before-send.s3.PutObject", wrong_trailer)
print("trailer", code(lambda: trailing.put_object(Bucket="bodies", Key="wrong.bin", Body=io.BytesIO(body))))
def damage(request, **_):
    data = request.body.read() if hasattr(request.body, "read") else request.body
    request.body = data[:-1] + bytes([data[-1] ^ 1])
    request.headers["Content-Length"] = str(len(request.body))
# A body changed after it was signed (its payload's SHA-256 is in the signature).
plain = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
                     config=Config(request_checksum_calculation="when_required"))
plain.meta.events.register("before-send.s3.PutObject", damage)
print("damaged", code(lambda: plain.put_object(Bucket="bodies", Key="damaged.bin", Body=b"signed bytes")))
print("keys", sorted(keys("bodies")))

# Temporary credentials (GetSessionToken) sign S3 requests with their token; a forged token
# is refused as an unknown key, header-signed or presigned.
creds = boto3.client("sts", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1").get_session_token()["Credentials"]
def with_token(token, **config):
    return boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
                        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=token, config=Config(**config))
print("session", sorted(keys("bodies")) == sorted(k["Key"] for k in with_token(creds["SessionToken"]).list_objects_v2(Bucket="bodies")["Contents"]))
print("forged", code(lambda: with_token(creds["SessionToken"][:-4] + "AAAA").list_objects_v2(Bucket="bodies")))
import urllib.request, urllib.error
def fetch(url):
    try:
        return urllib.request.urlopen(url).status
    except urllib.error.HTTPError as err:
        return err.code
token = creds["SessionToken"]
presigned = with_token(token, signature_version="s3v4").generate_presigned_url("get_object", Params={{"Bucket": "bodies", "Key": "chunked.bin"}})
print("presigned session", fetch(presigned), fetch(presigned.replace(urllib.parse.quote(token, safe=""), urllib.parse.quote(token[:-4] + "AAAA", safe=""))))

# A request body past what S3 takes for XML: refused before it is parsed.
many = [{{"Key": "k" * 1000 + str(i)}} for i in range(3000)]
print("huge", code(lambda: s3.delete_objects(Bucket="bodies", Delete={{"Objects": many}})))

# A URL presigned with Signature Version 2, as the aws CLI version 1 makes by default.
v2 = boto3.client("s3", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
                  config=Config(signature_version="s3"))
url = v2.generate_presigned_url("get_object", Params={{"Bucket": "bodies", "Key": "chunked.bin"}})
assert "AWSAccessKeyId=" in url and "Signature=" in url, url
try:
    urllib.request.urlopen(url)
    print("v2 ok")
except urllib.error.HTTPError as err:
    print("v2", err.code, b"<Code>InvalidRequest</Code>" in err.read())
"#
    );
    let run = python(&server, &script);
    run.expect_code(0);
    assert!(run.stdout.contains("trailer BadDigest"), "{}", run.stdout);
    assert!(run.stdout.contains("damaged XAmzContentSHA256Mismatch"), "{}", run.stdout);
    assert!(run.stdout.contains("keys ['chunked.bin']"), "{}", run.stdout);
    assert!(run.stdout.contains("v2 400 True"), "{}", run.stdout);
    assert!(run.stdout.contains("session True"), "{}", run.stdout);
    assert!(run.stdout.contains("forged InvalidAccessKeyId"), "{}", run.stdout);
    assert!(run.stdout.contains("presigned session 200 403"), "{}", run.stdout);
    assert!(run.stdout.contains("huge MaxMessageLengthExceeded"), "{}", run.stdout);
}

/// `aws deploy push` zips a folder and uploads it with S3's PutObject before it registers the
/// revision: with `AWS_ENDPOINT_URL` naming the server, the upload lands in the bucket as a zip
/// holding the folder (the registration is CodeDeploy's, which this server does not have yet).
#[test]
fn aws_deploy_push_uploads_its_bundle_to_the_bucket() {
    let sandbox = Sandbox::new();
    let server =
        RunningServer::start_with(&sandbox.path("data"), "127.0.0.1:0", &["--no-local-agent"]);
    server.aws(&["s3", "mb", "s3://deploys"]).expect_code(0);
    sandbox.write("app/appspec.yml", "version: 0.0\nos: linux\n");
    sandbox.write("app/index.html", "<h1>hello</h1>\n");
    let output = Command::new("aws")
        .args(["deploy", "push", "--application-name", "web", "--s3-location"])
        .args(["s3://deploys/web.zip", "--source"])
        .arg(sandbox.path("app"))
        .args(["--region", "us-east-1"])
        .env("AWS_ENDPOINT_URL", &server.endpoint)
        .env("AWS_SHARED_CREDENTIALS_FILE", server.credentials())
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let pushed = Run::from(output);
    assert!(pushed.stderr.contains("RegisterApplicationRevision"), "{}", pushed.stderr);
    let zip = sandbox.path("web.zip");
    server.aws(&["s3", "cp", "s3://deploys/web.zip", zip.to_str().unwrap()]).expect_code(0);
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
    let mut names: Vec<String> =
        archive.file_names().map(|name| name.unwrap().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["appspec.yml", "index.html"]);
    let mut appspec = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("appspec.yml").unwrap(), &mut appspec)
        .unwrap();
    assert_eq!(appspec, "version: 0.0\nos: linux\n");
}
