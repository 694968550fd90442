//! The services the tests talk to: a throwaway PostgreSQL and a moto S3 server.
//!
//! `cargo xtask test` starts both before `cargo test` and passes their addresses in
//! `SLIPWAY_TEST_DATABASE_URL`, `SLIPWAY_TEST_S3_ENDPOINT` and `SLIPWAY_TEST_S3_BUCKET`.
//! [`Services`] stops them when it is dropped: after the tests, when they fail, and when
//! xtask panics. Everything listens on 127.0.0.1 only, on ports picked free at start-up.
//!
//! PostgreSQL is started as `shared/reference/feasibility.md` §1 says: `initdb` and `pg_ctl`
//! run as the `postgres` user (they refuse root), with a data directory under `/tmp` that the
//! user can reach. That needs root, so elsewhere PostgreSQL is skipped with a message (and
//! the store's tests then skip it too, or fail under `CI`). A server left behind by an
//! interrupted run (Ctrl-C kills xtask before it can clean up, and `pg_ctl` detaches the
//! server from the terminal) is stopped and removed by the next run.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The bucket the blob store's tests use.
const BUCKET: &str = "slipway-test";
/// The moto release the machine image has; installed when it is missing.
const MOTO: &str = "moto[server]==5.2.1";
/// How long a service may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// The directories of a run in /tmp, followed by xtask's process id.
const PG_DIR_PREFIX: &str = "slipway-pg-";
const MOTO_DIR_PREFIX: &str = "slipway-moto-";

/// The running services; dropping this stops them and removes their files.
pub(crate) struct Services {
    env: Vec<(String, String)>,
    // Each stops its own service when dropped (fields drop in this order).
    _postgres: Option<Postgres>,
    _moto: Option<Moto>,
}

impl Services {
    /// Starts PostgreSQL (when root) and moto, unless the environment already names them.
    pub(crate) fn start() -> Result<Services, String> {
        remove_leftovers();
        let mut env = Vec::new();
        let postgres = if let Some(url) = preset("SLIPWAY_TEST_DATABASE_URL") {
            eprintln!("xtask: using the PostgreSQL of SLIPWAY_TEST_DATABASE_URL ({url})");
            None
        } else if !is_root() {
            eprintln!(
                "xtask: not root, so no throwaway PostgreSQL (initdb must run as the `postgres` \
                 user): the PostgreSQL tests are skipped, or fail if CI is set"
            );
            None
        } else {
            let postgres = Postgres::start()?;
            env.push(("SLIPWAY_TEST_DATABASE_URL".to_owned(), postgres.url()));
            Some(postgres)
        };
        let moto = if let Some(endpoint) = preset("SLIPWAY_TEST_S3_ENDPOINT") {
            eprintln!("xtask: using the S3 endpoint of SLIPWAY_TEST_S3_ENDPOINT ({endpoint})");
            None
        } else {
            let moto = Moto::start()?;
            env.push(("SLIPWAY_TEST_S3_ENDPOINT".to_owned(), moto.endpoint()));
            env.push(("SLIPWAY_TEST_S3_BUCKET".to_owned(), BUCKET.to_owned()));
            // moto takes any credentials; the blob tests that read them from the environment
            // (as `--blob-url s3://…` does) find these.
            env.push(("AWS_ACCESS_KEY_ID".to_owned(), "test".to_owned()));
            env.push(("AWS_SECRET_ACCESS_KEY".to_owned(), "test".to_owned()));
            env.push(("AWS_DEFAULT_REGION".to_owned(), "us-east-1".to_owned()));
            Some(moto)
        };
        for (name, value) in &env {
            eprintln!("xtask: {name}={value}");
        }
        Ok(Services { env, _postgres: postgres, _moto: moto })
    }

    /// The variables that tell the tests where the services are.
    pub(crate) fn env(&self) -> &[(String, String)] {
        &self.env
    }
}

/// A throwaway PostgreSQL server in `/tmp/slipway-pg-<pid>`.
struct Postgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    started: bool,
}

impl Postgres {
    fn start() -> Result<Postgres, String> {
        let bin = match postgres_bin() {
            Some(bin) => bin,
            None => {
                apt_install("postgresql")?;
                postgres_bin().ok_or(
                    "postgresql is installed but no initdb was found under /usr/lib/postgresql",
                )?
            }
        };
        if !succeeds(Command::new("id").args(["-u", "postgres"])) {
            run(
                "useradd",
                Command::new("useradd").args(["--system", "--no-create-home", "postgres"]),
            )?;
        }
        let dir = fresh_dir(&format!("/tmp/{PG_DIR_PREFIX}{}", std::process::id()))?;
        // From here on, dropping `postgres` cleans up, whatever fails next.
        let mut postgres = Postgres { bin, dir, port: 0, started: false };
        run("chown", Command::new("chown").arg("postgres:postgres").arg(&postgres.dir))?;

        let started = Instant::now();
        let data = postgres.dir.join("data");
        let initdb_log = postgres.dir.join("initdb.log");
        let status = as_postgres(&postgres.bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
            .stdout(log_file(&initdb_log)?)
            .stderr(log_file(&initdb_log)?)
            .status()
            .map_err(|err| format!("cannot run initdb: {err}"))?;
        if !status.success() {
            return Err(format!("initdb failed ({status}):\n{}", tail(&initdb_log)));
        }

        // The port is free when picked but may be taken before the server binds it: retry.
        let server_log = postgres.dir.join("server.log");
        for _attempt in 0..3 {
            postgres.port = free_port()?;
            let options = format!(
                "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c synchronous_commit=off \
                 -c full_page_writes=off -c max_connections=200",
                postgres.port,
                postgres.dir.display()
            );
            let status = as_postgres(&postgres.bin.join("pg_ctl"))
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(&server_log)
                .args(["-w", "-t", "30", "-o", &options, "start"])
                .stdout(Stdio::null())
                .status()
                .map_err(|err| format!("cannot run pg_ctl: {err}"))?;
            if status.success() {
                postgres.started = true;
                break;
            }
        }
        if !postgres.started {
            return Err(format!("PostgreSQL did not start:\n{}", tail(&server_log)));
        }
        wait_for_port(postgres.port, || Ok(()))?;
        eprintln!(
            "xtask: PostgreSQL on 127.0.0.1:{} in {} (started in {:.1} s)",
            postgres.port,
            postgres.dir.display(),
            started.elapsed().as_secs_f64()
        );
        Ok(postgres)
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.started {
            stop_postgres(&self.bin, &self.dir.join("data"));
            eprintln!("xtask: PostgreSQL stopped");
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A moto S3 server, in xtask's process group so that Ctrl-C stops it too. Its log and
/// process id are in `/tmp/slipway-moto-<pid>`.
struct Moto {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Moto {
    fn start() -> Result<Moto, String> {
        if !succeeds(Command::new("python3").args(["-c", "import moto, flask"])) {
            eprintln!("xtask: installing {MOTO}");
            run("pip", Command::new("python3").args(["-m", "pip", "install", "-q", MOTO]))?;
        }
        let started = Instant::now();
        let port = free_port()?;
        let dir = fresh_dir(&format!("/tmp/{MOTO_DIR_PREFIX}{}", std::process::id()))?;
        let log = dir.join("moto.log");
        // `moto_server` is the documented command; the module is the same program, for
        // when pip put the script somewhere off the PATH.
        let mut command = if installed("moto_server") {
            Command::new("moto_server")
        } else {
            let mut command = Command::new("python3");
            command.args(["-m", "moto.server"]);
            command
        };
        let child = command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log_file(&log)?)
            .stderr(log_file(&log)?)
            .spawn()
            .map_err(|err| format!("cannot start moto_server: {err}"))?;
        // For the next run, should this one be killed before it can stop moto.
        let _ = fs::write(dir.join("moto.pid"), child.id().to_string());
        let mut moto = Moto { child, port, dir };
        let child = &mut moto.child;
        wait_for_port(port, || match child.try_wait() {
            Ok(Some(status)) => Err(format!("moto_server exited ({status}):\n{}", tail(&log))),
            _ => Ok(()),
        })?;
        create_bucket(port)?;
        eprintln!(
            "xtask: moto S3 on 127.0.0.1:{port} with bucket {BUCKET} (started in {:.1} s)",
            started.elapsed().as_secs_f64()
        );
        Ok(moto)
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // The shims exec their way to the Python process, so the child is moto itself.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
        eprintln!("xtask: moto stopped");
    }
}

/// Creates the test bucket. moto checks no signature, so a bare HTTP request does it.
fn create_bucket(port: u16) -> Result<(), String> {
    let fail = |err: std::io::Error| format!("cannot create the bucket {BUCKET} in moto: {err}");
    let mut stream =
        TcpStream::connect_timeout(&loopback(port), Duration::from_secs(5)).map_err(fail)?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).map_err(fail)?;
    stream.set_write_timeout(Some(Duration::from_secs(10))).map_err(fail)?;
    let request = format!(
        "PUT /{BUCKET} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).map_err(fail)?;
    // `Connection: close`: the response ends when moto closes the connection.
    let mut response = Vec::new();
    stream.take(1 << 20).read_to_end(&mut response).map_err(fail)?;
    let response = String::from_utf8_lossy(&response);
    let status_line = response.lines().next().unwrap_or_default();
    if status_line.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        Err(format!("moto refused to create the bucket {BUCKET}: {response}"))
    }
}

/// Waits (at most [`READY_TIMEOUT`]) until 127.0.0.1:`port` accepts connections; `alive`
/// reports a service that died meanwhile, so that we stop waiting for it.
fn wait_for_port(port: u16, mut alive: impl FnMut() -> Result<(), String>) -> Result<(), String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    while Instant::now() < deadline {
        alive()?;
        if TcpStream::connect_timeout(&loopback(port), Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        thread::sleep(Duration::from_millis(50));
    }
    Err(format!("nothing accepted connections on 127.0.0.1:{port} within {READY_TIMEOUT:?}"))
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// A port nobody listens on now (the kernel's pick for port 0).
fn free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind(loopback(0)).map_err(|err| format!("cannot pick a port: {err}"))?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(|err| format!("cannot pick a port: {err}"))
}

/// The newest `/usr/lib/postgresql/<version>/bin` that has an `initdb`.
fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// A command run as the `postgres` user; `runuser` needs no password and passes the exit
/// status through.
fn as_postgres(program: &Path) -> Command {
    let mut command = Command::new("runuser");
    command.args(["-u", "postgres", "--"]).arg(program);
    command
}

fn stop_postgres(bin: &Path, data: &Path) {
    let _ = as_postgres(&bin.join("pg_ctl"))
        .arg("-D")
        .arg(data)
        .args(["-m", "immediate", "-w", "-t", "30", "stop"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Stops and removes what runs killed before they could clean up left behind: the `/tmp`
/// directories of xtask processes that are gone, and the services recorded in them.
fn remove_leftovers() {
    let Ok(entries) = fs::read_dir("/tmp") else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let (service, pid) = if let Some(pid) = name.strip_prefix(PG_DIR_PREFIX) {
            ("postgres", pid)
        } else if let Some(pid) = name.strip_prefix(MOTO_DIR_PREFIX) {
            ("moto", pid)
        } else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else { continue };
        let path = entry.path();
        if !path.is_dir() || is_running(pid, "xtask") {
            continue;
        }
        eprintln!("xtask: cleaning up {} (left by an interrupted run)", path.display());
        if service == "postgres" {
            let data = path.join("data");
            if data.join("postmaster.pid").exists()
                && is_root()
                && let Some(bin) = postgres_bin()
            {
                stop_postgres(&bin, &data);
            }
        } else if let Ok(moto) = fs::read_to_string(path.join("moto.pid")) {
            // Only if that process is still moto: the id may have been reused since.
            if let Ok(moto) = moto.trim().parse::<u32>()
                && is_running(moto, "moto")
            {
                let _ = succeeds(Command::new("kill").args(["-KILL", &moto.to_string()]));
            }
        }
        let _ = fs::remove_dir_all(&path);
    }
}

/// Whether process `pid` runs a program whose command line mentions `program`: not gone,
/// not a zombie (whose command line is empty), and not another program that reuses the id.
fn is_running(pid: u32, program: &str) -> bool {
    fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains(program))
}

/// An empty directory at `path` (whatever was there is removed).
fn fresh_dir(path: &str) -> Result<PathBuf, String> {
    let dir = PathBuf::from(path);
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(|err| format!("cannot remove {path}: {err}"))?;
    }
    fs::create_dir(&dir).map_err(|err| format!("cannot create {path}: {err}"))?;
    Ok(dir)
}

/// A variable the caller set to point the tests at a service of their own.
fn preset(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// Whether we run as root (effective uid 0), from `/proc` rather than a libc call.
fn is_root() -> bool {
    fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|uids| uids.split_whitespace().nth(1))
            == Some("0")
    })
}

fn apt_install(package: &str) -> Result<(), String> {
    eprintln!("xtask: installing {package}");
    if !installed("apt-get") {
        return Err(format!("the tests need {package}; install it and retry"));
    }
    run("apt-get update", Command::new("apt-get").args(["update", "-qq"]))?;
    run(
        "apt-get install",
        Command::new("apt-get")
            .args(["install", "-y", "-qq", package])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

fn installed(program: &str) -> bool {
    succeeds(Command::new("sh").arg("-c").arg(format!("command -v {program}")))
}

/// Runs a command quietly and says whether it succeeded.
fn succeeds(command: &mut Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Runs a command (its output goes to ours) and fails unless it succeeds.
fn run(what: &str, command: &mut Command) -> Result<(), String> {
    match command.stdin(Stdio::null()).status() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("{what} failed ({status})")),
        Err(err) => Err(format!("cannot run {what}: {err}")),
    }
}

/// A log file to append to (a service's stdout and stderr share one).
fn log_file(path: &Path) -> Result<File, String> {
    File::options()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|err| format!("cannot open {}: {err}", path.display()))
}

/// The end of a log, for error messages.
fn tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
