#!/usr/bin/env bash
# P10 (BENCHMARKS.md): the S3 API, PUT and GET of one SIZE_MB object through `aws s3 cp`.
#
# A file of SIZE_MB x 2^20 pseudo-random bytes is written to the temporary directory. Then, in
# the same run and on the same disk:
#   - the floor: `cp` of the file to another file followed by `sync` (the server makes an
#     upload durable before it answers), median of RUNS, MB/s;
#   - `slipway server` (SQLite, its blob directory in the data directory, on the same disk):
#     `aws s3 cp` of the file into a bucket (the CLI's multipart upload: 8 MiB parts, 10 threads)
#     and back into a new file (ranged GETs, 10 threads), median of RUNS each, MB/s; the bytes
#     read back are compared with the file; the server's VmRSS, sampled every 0.1 s, its
#     maximum during the transfers against its value before them;
#   - the same server, with `curl` as the client: a PUT and a GET of the file through URLs
#     presigned for SigV4 with botocore (an unsigned payload, so the server hashes the body
#     for its ETag only), median of RUNS, MB/s. `aws s3 cp` is Python: on a 2-core machine the
#     CLI's own hashing and copying take about as much CPU as the server, so this says what the
#     server itself sustains; and a multipart upload of the same bytes in 8 MiB parts through
#     presigned UploadPart URLs on CURL_STREAMS curls at once, then its completion; the
#     server's CPU seconds per transfer are printed for the CLI's and curl's;
#   - moto's S3 server (`moto_server`, as the tests run it), the same two commands, MB/s.
#
# Usage: bench/p10-s3.sh        (from any directory; about a minute for 512 MB, and about 6 x
#                                SIZE_MB of free space in $TMPDIR)
#   SIZE_MB=512         the object's size in MiB, 1..4096
#   RUNS=3              transfers of each kind; the median is printed
#   MOTO=1              also measure moto (0: skip it)
#   CURL_STREAMS=4      curls at once for the multipart upload through presigned URLs
#   CARGO_TARGET_DIR    where the release binary is, as for cargo; NO_BUILD=1 uses it as it is
# Prints one line per figure, `name: value unit (floor: value, ratio: x)`.

BENCH=p10
source "$(dirname "$0")/lib/server.sh"

SIZE_MB=${SIZE_MB:-512}
if ! [[ $SIZE_MB =~ ^[0-9]+$ ]] || ((SIZE_MB < 1 || SIZE_MB > 4096)); then
    die "SIZE_MB must be a whole number from 1 to 4096, not '$SIZE_MB'"
fi
RUNS=${RUNS:-3}
MOTO=${MOTO:-1}
CURL_STREAMS=${CURL_STREAMS:-4}
command -v aws >/dev/null || die "needs the aws CLI (pip install awscli)"

header "P10 S3 PUT and GET of $SIZE_MB MiB through aws s3 cp"
bytes=$((SIZE_MB * 1024 * 1024))
head -c "$bytes" /dev/urandom >"$work/object.bin"
mb=$(python3 -c "print($bytes / 1e6)")

# seconds CMD...: runs CMD, prints how long it took in seconds.
seconds() {
    local start end
    start=${EPOCHREALTIME/[.,]/}
    "$@" >/dev/null
    end=${EPOCHREALTIME/[.,]/}
    python3 -c "print(($end - $start) / 1e6)"
}

median() { python3 -c 'import statistics, sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
rate() { python3 -c "print(round($mb / $1, 1))"; }

copy_and_sync() {
    cp "$work/object.bin" "$work/copy.bin"
    sync "$work/copy.bin"
}
cp_times=()
for ((i = 0; i < RUNS; i++)); do
    rm -f "$work/copy.bin"
    cp_times+=("$(seconds copy_and_sync)")
done
rm -f "$work/copy.bin"
floor=$(rate "$(median "${cp_times[@]}")")

# s3_cp ENDPOINT SRC DST: `aws s3 cp` with the credentials in $work/credentials.
s3_cp() {
    AWS_SHARED_CREDENTIALS_FILE=$work/credentials AWS_CONFIG_FILE=/dev/null \
        aws s3 cp --no-progress --endpoint-url "$1" --region us-east-1 "$2" "$3"
}

# transfer NAME ENDPOINT: RUNS uploads and downloads; sets PUT_RATE and GET_RATE.
transfer() {
    local name=$1 endpoint=$2 put=() get=() i
    AWS_SHARED_CREDENTIALS_FILE=$work/credentials AWS_CONFIG_FILE=/dev/null \
        aws s3 mb "s3://p10-$name" --endpoint-url "$endpoint" --region us-east-1 >/dev/null
    for ((i = 0; i < RUNS; i++)); do
        put+=("$(seconds s3_cp "$endpoint" "$work/object.bin" "s3://p10-$name/object.bin")")
        rm -f "$work/back.bin"
        get+=("$(seconds s3_cp "$endpoint" "s3://p10-$name/object.bin" "$work/back.bin")")
        cmp -s "$work/object.bin" "$work/back.bin" || die "$name: the object read back differs from the file"
    done
    rm -f "$work/back.bin"
    PUT_RATE=$(rate "$(median "${put[@]}")")
    GET_RATE=$(rate "$(median "${get[@]}")")
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
# cpu_seconds PID: the process's user + system time so far.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($14 + $15) / hz }' "/proc/$1/stat"; }

# presign METHOD BUCKET KEY: a URL for METHOD of the object, presigned for SigV4, 1 hour.
presign() {
    AWS_SHARED_CREDENTIALS_FILE=$work/credentials python3 - "$SERVER_URL" "$@" <<'PY'
import sys
import boto3
from botocore.config import Config
endpoint, method, bucket, key = sys.argv[1:]
client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      config=Config(signature_version="s3v4"))
operation = {"PUT": "put_object", "GET": "get_object"}[method]
print(client.generate_presigned_url(operation, Params={"Bucket": bucket, "Key": key}, ExpiresIn=3600))
PY
}
curl_put() { curl -sf -o /dev/null -T "$work/object.bin" "$1"; }

# multipart_urls KEY: creates a multipart upload of KEY in p10-slipway and prints, one a line,
# the presigned URL of each part's UploadPart (8 MiB parts of the file, as split below), then
# the presigned URL of its CompleteMultipartUpload.
multipart_urls() {
    AWS_SHARED_CREDENTIALS_FILE=$work/credentials python3 - "$SERVER_URL" "$1" "$PARTS" <<'PY'
import sys
import boto3
from botocore.config import Config
endpoint, key, parts = sys.argv[1], sys.argv[2], int(sys.argv[3])
client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      config=Config(signature_version="s3v4"))
upload = client.create_multipart_upload(Bucket="p10-slipway", Key=key)["UploadId"]
for number in range(1, parts + 1):
    print(client.generate_presigned_url("upload_part", ExpiresIn=3600, Params={
        "Bucket": "p10-slipway", "Key": key, "UploadId": upload, "PartNumber": number}))
print(client.generate_presigned_url("complete_multipart_upload", ExpiresIn=3600, Params={
    "Bucket": "p10-slipway", "Key": key, "UploadId": upload}))
PY
}

# curl_multipart URLS_FILE: the parts on CURL_STREAMS curls at once, then the completion.
curl_multipart() {
    local urls=$1 number=0 url
    head -n "$PARTS" "$urls" | while read -r url; do
        number=$((number + 1))
        printf '%s %s %s\n' "$number" "$work/parts/p$(printf %04d $((number - 1)))" "$url"
    done | xargs -P "$CURL_STREAMS" -L 1 sh -c \
        'curl -sf -o /dev/null -T "$1" -w "$0 %header{etag}\n" "$2"' >"$work/etags"
    {
        echo "<CompleteMultipartUpload>"
        sort -n "$work/etags" | while read -r number etag; do
            echo "<Part><PartNumber>$number</PartNumber><ETag>$etag</ETag></Part>"
        done
        echo "</CompleteMultipartUpload>"
    } >"$work/complete.xml"
    curl -sf -o /dev/null -X POST --data-binary "@$work/complete.xml" "$(tail -n 1 "$urls")"
}
curl_get() { curl -sf -o "$work/back.bin" "$1"; }

start_server server "$work/data" --no-local-agent
cp "$work/data/admin-credentials" "$work/credentials"
# A first small transfer, so that idle is measured after the server's first S3 request.
head -c 1024 /dev/urandom >"$work/small.bin"
AWS_SHARED_CREDENTIALS_FILE=$work/credentials AWS_CONFIG_FILE=/dev/null \
    aws s3 mb s3://p10-warm --endpoint-url "$SERVER_URL" --region us-east-1 >/dev/null
s3_cp "$SERVER_URL" "$work/small.bin" s3://p10-warm/small.bin >/dev/null
idle=$(rss_kb "$SERVER_PID")
(
    peak=0
    while kill -0 "$SERVER_PID" 2>/dev/null; do
        now=$(rss_kb "$SERVER_PID" 2>/dev/null || echo 0)
        ((now > peak)) && peak=$now && echo "$peak" >"$work/peak"
        sleep 0.1
    done
) &
sampler=$!
on_exit "kill $sampler 2>/dev/null"
cpu_before=$(cpu_seconds "$SERVER_PID")
transfer slipway "$SERVER_URL"
cpu_cli=$(python3 -c "print(round(($(cpu_seconds "$SERVER_PID") - $cpu_before) / $RUNS, 2))")
slipway_put=$PUT_RATE
slipway_get=$GET_RATE
put_url=$(presign PUT p10-slipway curl.bin)
get_url=$(presign GET p10-slipway curl.bin)
put=() get=()
cpu_before=$(cpu_seconds "$SERVER_PID")
for ((i = 0; i < RUNS; i++)); do
    put+=("$(seconds curl_put "$put_url")")
    rm -f "$work/back.bin"
    get+=("$(seconds curl_get "$get_url")")
    cmp -s "$work/object.bin" "$work/back.bin" || die "curl: the object read back differs from the file"
done
rm -f "$work/back.bin"
# The same bytes as a multipart upload of 8 MiB parts on CURL_STREAMS curls at once, as the
# CLI sends them, but without Python in the way.
mkdir "$work/parts"
split -b 8M -d -a 4 "$work/object.bin" "$work/parts/p"
PARTS=$(find "$work/parts" -type f | wc -l)
multipart=()
for ((i = 0; i < RUNS; i++)); do
    multipart_urls "multipart.bin" >"$work/urls"
    multipart+=("$(seconds curl_multipart "$work/urls")")
done
rm -rf "$work/parts"
cpu_curl=$(python3 -c "print(round(($(cpu_seconds "$SERVER_PID") - $cpu_before) / $RUNS, 2))")
kill "$sampler" 2>/dev/null || true
peak=$(cat "$work/peak" 2>/dev/null || echo "$idle")
figure p10.put "$slipway_put" MB/s "$floor"
figure p10.get "$slipway_get" MB/s "$floor"
figure p10.put_curl_presigned "$(rate "$(median "${put[@]}")")" MB/s "$floor"
figure p10.get_curl_presigned "$(rate "$(median "${get[@]}")")" MB/s "$floor"
figure "p10.put_curl_multipart_${CURL_STREAMS}_streams" "$(rate "$(median "${multipart[@]}")")" MB/s "$floor"
echo "p10.server_cpu_per_put_and_get_aws_cli: $cpu_cli s"
echo "p10.server_cpu_per_put_and_get_curl: $cpu_curl s"
figure p10.server_rss_peak "$((peak / 1024))" MB "$((idle / 1024))"
problems=$(server_problems server)
[[ -z $problems ]] || echo "# the server logged: $problems"
stop server

if [[ $MOTO == 1 ]]; then
    python3 -c 'import moto, flask' 2>/dev/null || die "MOTO=1 needs moto[server] (pip install 'moto[server]'), or MOTO=0"
    port=$(free_port)
    spawn moto python3 -m moto.server -H 127.0.0.1 -p "$port"
    for ((i = 0; i < 300; i++)); do
        curl -s -o /dev/null "http://127.0.0.1:$port/" && break
        sleep 0.1
    done
    transfer moto "http://127.0.0.1:$port"
    figure p10.put_vs_moto "$slipway_put" MB/s "$PUT_RATE"
    figure p10.get_vs_moto "$slipway_get" MB/s "$GET_RATE"
    stop moto
fi
