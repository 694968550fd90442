"""Helpers for the bench scripts that talk to `slipway server` (P1, P3, P6, P7, P8).

Uses botocore (it comes with the aws CLI) rather than the CLI itself: the CLI's ~0.3 s start-up
would dominate every figure. `python3 -m slipway_bench figure NAME VALUE UNIT FLOOR` prints one
result line for the shell scripts.
"""

import configparser
import datetime
import math
import os
import sys
import time

ENVIRONMENT = {"type": "LINUX_CONTAINER", "image": "local", "computeType": "BUILD_GENERAL1_SMALL"}
REGION = "us-east-1"


def credentials(data_dir):
    """The admin's (access key id, secret) from `<data-dir>/admin-credentials`."""
    parser = configparser.ConfigParser()
    path = os.path.join(data_dir, "admin-credentials")
    if not parser.read(path):
        raise SystemExit(f"cannot read {path}")
    section = parser["default"]
    return section["aws_access_key_id"], section["aws_secret_access_key"]


def client(url, data_dir, retries=0, pool=10):
    """A CodeBuild client for the server at `url`, as the admin. No retries by default, so a
    failed call is seen rather than hidden."""
    import botocore.config
    import botocore.session

    key, secret = credentials(data_dir)
    config = botocore.config.Config(
        retries={"total_max_attempts": retries + 1, "mode": "standard"},
        max_pool_connections=pool,
        connect_timeout=10,
        read_timeout=60,
    )
    return botocore.session.get_session().create_client(
        "codebuild",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=config,
    )


def buildspec(*commands):
    """An inline buildspec with one `build` phase running `commands` (YAML-quoted)."""
    lines = ["version: 0.2", "phases:", "  build:", "    commands:"]
    for command in commands:
        quoted = command.replace("'", "''")
        lines.append(f"      - '{quoted}'")
    return "\n".join(lines) + "\n"


MARK_COMMAND = 'echo "MARK $(date +%s%N)"'
"""The build command whose time P1 measures: it prints the nanoseconds it ran at. (The
embedded agent runs builds in a sandbox that cannot write outside their workspace, so the
time comes back through the build's log, read after the build.)"""


def marked_time_ns(url, data_dir, build_id):
    """The nanoseconds `MARK_COMMAND` printed in build `build_id`'s log, or None."""
    import base64, urllib.parse, urllib.request
    key, secret = credentials(data_dir)
    request = urllib.request.Request(f"{url}/v1/builds/{urllib.parse.quote(build_id)}/log")
    request.add_header("Authorization", "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode())
    with urllib.request.urlopen(request, timeout=60) as response:
        log = response.read().decode(errors="replace")
    for line in log.splitlines():
        if line.startswith("MARK ") and line[5:].strip().isdigit():
            return int(line[5:].strip())
    return None


def create_project(cb, name, spec, timeout_minutes=None):
    args = dict(
        name=name,
        source={"type": "NO_SOURCE", "buildspec": spec},
        artifacts={"type": "NO_ARTIFACTS"},
        environment=ENVIRONMENT,
        serviceRole="r",
    )
    if timeout_minutes:
        args["timeoutInMinutes"] = timeout_minutes
    cb.create_project(**args)


def env(**variables):
    """`environmentVariablesOverride` for start_build."""
    return [{"name": k, "value": str(v), "type": "PLAINTEXT"} for k, v in variables.items()]


def wait_complete(cb, ids, timeout, interval=0.5, on_poll=None):
    """Polls batch_get_builds (100 ids a call) until every build is complete or `timeout`
    seconds pass. Returns {id: build} of the complete ones. `on_poll()` runs between polls."""
    pending = list(ids)
    done = {}
    deadline = time.monotonic() + timeout
    while pending:
        still = []
        for i in range(0, len(pending), 100):
            response = cb.batch_get_builds(ids=pending[i : i + 100])
            for build in response["builds"]:
                if build.get("buildComplete"):
                    done[build["id"]] = build
            if response.get("buildsNotFound"):
                raise SystemExit(f"builds not found: {response['buildsNotFound'][:5]}")
            still += [b for b in pending[i : i + 100] if b not in done]
        pending = still
        if not pending or time.monotonic() >= deadline:
            break
        if on_poll:
            on_poll()
        time.sleep(interval)
    return done


def statuses(builds):
    """{status: count} of builds (a dict or an iterable of builds)."""
    counts = {}
    for build in builds.values() if isinstance(builds, dict) else builds:
        status = build.get("buildStatus", "?")
        counts[status] = counts.get(status, 0) + 1
    return counts


def timestamp(value):
    """Seconds since the epoch of a botocore timestamp (a datetime)."""
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    return float(value)


def phase(build, phase_type):
    for entry in build.get("phases", []):
        if entry.get("phaseType") == phase_type:
            return entry
    return None


def rss_kb(pid, field="VmRSS"):
    """A field of /proc/PID/status in kB (VmRSS: resident now; VmHWM: the peak)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise SystemExit(f"no {field} in /proc/{pid}/status")


def median(values):
    values = sorted(values)
    n = len(values)
    if n == 0:
        return float("nan")
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


def percentile(values, p):
    """Nearest-rank percentile: with 50 values, p99 is the largest."""
    values = sorted(values)
    if not values:
        return float("nan")
    rank = max(1, math.ceil(p / 100 * len(values)))
    return values[rank - 1]


def number(value):
    value = float(value)
    if math.isnan(value):
        return "nan"
    if abs(value) >= 1000:
        return f"{value:.0f}"
    return f"{value:.3g}"


def figure(name, value, unit, floor):
    """Prints `NAME: VALUE UNIT (floor: FLOOR UNIT, ratio: Rx)` (the format of BENCHMARKS.md)."""
    value, floor = float(value), float(floor)
    if floor > 0 and not math.isnan(value):
        r = value / floor
        ratio = f"{r:.0f}x" if r >= 10 else f"{r:.1f}x" if r >= 1 else f"{r:.2f}x"
    else:
        ratio = "n/a"
    print(f"{name}: {number(value)} {unit} (floor: {number(floor)} {unit}, ratio: {ratio})", flush=True)


def service_client(service, url, data_dir, retries=0, pool=10):
    """Like `client`, for another service of the server (`codecommit`, say)."""
    import botocore.config
    import botocore.session

    key, secret = credentials(data_dir)
    config = botocore.config.Config(
        retries={"total_max_attempts": retries + 1, "mode": "standard"},
        max_pool_connections=pool,
        connect_timeout=10,
        read_timeout=60,
    )
    return botocore.session.get_session().create_client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=config,
    )


def git_url(clone_url, username, password):
    """`clone_url` (http://HOST/v1/repos/NAME) with HTTP Basic credentials in it, for git."""
    from urllib.parse import quote

    scheme, rest = clone_url.split("://", 1)
    return f"{scheme}://{quote(username, safe='')}:{quote(password, safe='')}@{rest}"


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "figure":
        figure(*sys.argv[2:])
    else:
        raise SystemExit("usage: python3 -m slipway_bench figure NAME VALUE UNIT FLOOR")
