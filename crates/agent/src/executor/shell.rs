//! One build's shell session: a long-lived bash that runs each command in a subshell and
//! carries variables and the working directory from command to command (see `driver.sh`).

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use protocol::Shell;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin};
use tokio::sync::mpsc;

const DRIVER: &str = include_str!("driver.sh");
const RUN_AS: &str = include_str!("run-as.sh");

/// Where `runuser` (util-linux) lives; it is found by path because a build's `PATH` is the
/// user's to set.
const RUNUSER: &[&str] =
    &["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser", "/bin/runuser"];

/// What a running command produced.
pub(crate) enum Step {
    /// Some of its output.
    Output(Vec<u8>),
    /// Its exit status: the command is over.
    Done(i32),
}

/// What the reader task found in the shell's output.
enum Chunk {
    Text(Vec<u8>),
    Status(i32),
}

/// A running build shell.
pub(crate) struct ShellSession {
    child: Child,
    stdin: ChildStdin,
    chunks: mpsc::Receiver<Chunk>,
    /// The process group of the shell and everything it started.
    pgid: Option<u32>,
    state_dir: PathBuf,
    posix: bool,
    next_file: u64,
    /// The shell's variables after the last command: name to its `declare -p` line.
    variables: HashMap<String, String>,
    /// The working directory after the last command.
    directory: Option<String>,
    /// Whether `load` holds changes the shell must source before the next command.
    load_pending: bool,
}

/// The session ended while a command ran: the shell died or was killed.
#[derive(Debug)]
pub(crate) struct SessionLost;

impl ShellSession {
    /// Starts the shell in `cwd` with exactly the environment `env`. In a sandbox the shell
    /// has no capabilities, except, when `switches_user` (the plan uses `run-as`), the two
    /// that `runuser` needs to become another user.
    pub(crate) fn start(
        shell: Shell,
        env: &[(String, String)],
        cwd: &Path,
        state_dir: &Path,
        sandbox: Option<(&Path, &[PathBuf])>,
        switches_user: bool,
    ) -> std::io::Result<ShellSession> {
        std::fs::create_dir_all(state_dir)?;
        // Only the agent's user may look: the variables it holds include the secrets (a
        // `run-as` user gets its files on descriptors, see `run-as.sh`).
        std::fs::set_permissions(state_dir, std::fs::Permissions::from_mode(0o700))?;
        let driver = state_dir.join("driver.sh");
        std::fs::write(&driver, DRIVER)?;
        std::fs::write(state_dir.join("run-as.sh"), RUN_AS)?;
        let nonce = nonce();
        let mut command = match sandbox {
            None => crate::process::command("bash"),
            Some((writable, hidden)) => {
                // bubblewrap: the host read-only, the workspace writable, a private /tmp, a
                // PID namespace (so that when bwrap is killed every process of the build goes
                // with it, and no other process of the host is visible), no capabilities,
                // and the `hidden` paths replaced by empty ones (before the workspace is
                // bound, which may lie under one of them).
                let mut command = crate::process::command("bwrap");
                command.args(crate::process::SANDBOX_ARGS);
                if switches_user {
                    command.args(["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]);
                }
                for path in hidden {
                    if path.is_dir() {
                        command.arg("--tmpfs").arg(path);
                    } else if path.exists() {
                        command.arg("--ro-bind").arg("/dev/null").arg(path);
                    }
                }
                command.args(["--tmpfs", "/tmp"]).arg("--bind").arg(writable).arg(writable).args([
                    "--unshare-pid",
                    "--die-with-parent",
                    "--",
                    "bash",
                ]);
                command
            }
        };
        command
            .arg("--noprofile")
            .arg("--norc")
            .arg(&driver)
            .arg(state_dir)
            .arg(&nonce)
            .arg(RUNUSER.iter().find(|it| Path::new(it).is_file()).unwrap_or(&"runuser"))
            .current_dir(cwd)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            // Its own process group, so that a stop or a timeout can kill everything the build
            // started, background processes included, and Ctrl-C reaches only us.
            .process_group(0)
            .kill_on_drop(true);
        let mut child = command.spawn()?;
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        // Bounded: when the build prints faster than its output is consumed, the reader stops
        // reading and the build blocks on its pipe, instead of the output piling up in memory.
        let (sender, chunks) = mpsc::channel(16);
        tokio::spawn(read_output(stdout, format!("\x1e{nonce} ").into_bytes(), sender));
        let pgid = child.id();
        Ok(ShellSession {
            child,
            stdin,
            chunks,
            pgid,
            state_dir: state_dir.to_owned(),
            posix: shell == Shell::Sh,
            next_file: 0,
            variables: HashMap::new(),
            directory: None,
            load_pending: false,
        })
    }

    /// Starts one command, as `run_as` when given. Its output and then its exit status come
    /// from [`ShellSession::next`], which must be called until it says the command is done.
    pub(crate) async fn begin(
        &mut self,
        script: &str,
        succeeding: bool,
        run_as: Option<&str>,
    ) -> Result<(), SessionLost> {
        self.next_file += 1;
        let file = self.state_dir.join(format!("command-{}.sh", self.next_file));
        std::fs::write(&file, script).map_err(|_| SessionLost)?;
        if run_as.is_some() {
            // The other user's fresh bash starts from every carried variable, not a difference.
            let mut env: String = self.variables.values().map(|line| format!("{line}\n")).collect();
            if let Some(directory) = &self.directory {
                env.push_str(&format!(
                    "cd -- '{}' 2>/dev/null\n",
                    directory.replace('\'', r"'\''")
                ));
            }
            std::fs::write(self.state_dir.join("run-as-env"), env).map_err(|_| SessionLost)?;
        }
        let request = format!(
            "{} {} {} {} {}\n",
            u8::from(succeeding),
            u8::from(self.posix),
            u8::from(std::mem::take(&mut self.load_pending)),
            run_as.unwrap_or("-"),
            file.display()
        );
        self.stdin.write_all(request.as_bytes()).await.map_err(|_| SessionLost)?;
        self.stdin.flush().await.map_err(|_| SessionLost)?;
        Ok(())
    }

    /// The next piece of the running command's output, or its exit status once it is done.
    pub(crate) async fn next(&mut self) -> Result<Step, SessionLost> {
        match self.chunks.recv().await {
            Some(Chunk::Text(bytes)) => Ok(Step::Output(bytes)),
            Some(Chunk::Status(status)) => {
                let _ = std::fs::remove_file(
                    self.state_dir.join(format!("command-{}.sh", self.next_file)),
                );
                self.absorb_state().map_err(|_| SessionLost)?;
                Ok(Step::Done(status))
            }
            None => Err(SessionLost),
        }
    }

    /// Runs one command to its end, collecting its output.
    async fn run_collecting(
        &mut self,
        script: &str,
        succeeding: bool,
    ) -> Result<(i32, Vec<u8>), SessionLost> {
        self.begin(script, succeeding, None).await?;
        let mut output = Vec::new();
        loop {
            match self.next().await? {
                Step::Output(bytes) => output.extend_from_slice(&bytes),
                Step::Done(status) => return Ok((status, output)),
            }
        }
    }

    /// Reads what the command left (its variables and directory) and writes the difference
    /// from before into `load`, for the shell to source before the next command. Diffing here
    /// rather than in bash keeps the per-command cost to one fork and one `declare -p`.
    fn absorb_state(&mut self) -> std::io::Result<()> {
        let dump = std::fs::read_to_string(self.state_dir.join("variables"))?;
        // An empty dump means the command replaced the subshell (`exec`) or was killed before
        // it could save: keep the previous state rather than lose every variable.
        if dump.is_empty() {
            return Ok(());
        }
        let directory =
            std::fs::read_to_string(self.state_dir.join("pwd"))?.trim_end_matches('\n').to_owned();
        let now = carried_variables(&dump);
        let mut load = String::new();
        for (name, line) in &now {
            match self.variables.get(name) {
                Some(before) if before == line => {}
                // A changed attribute (`export -n`, `declare -i`) only goes away with the variable.
                Some(before) if flags(before) != flags(line) => {
                    load.push_str(&format!("unset {name}\n{line}\n"));
                }
                _ => {
                    load.push_str(line);
                    load.push('\n');
                }
            }
        }
        for name in self.variables.keys() {
            if !now.contains_key(name) {
                load.push_str(&format!("unset {name}\n"));
            }
        }
        if self.directory.as_deref() != Some(directory.as_str()) {
            load.push_str(&format!("cd -- '{}' 2>/dev/null\n", directory.replace('\'', r"'\''")));
            self.directory = Some(directory);
        }
        self.variables = now;
        if !load.is_empty() {
            std::fs::write(self.state_dir.join("load"), load)?;
            self.load_pending = true;
        }
        Ok(())
    }

    /// Expands each text as the inside of a double-quoted string would be, with the session's
    /// variables: `$VAR`, `${VAR:-x}`, `$(command)`. Used for artifact, cache and report fields.
    pub(crate) async fn expand(
        &mut self,
        texts: &[String],
        succeeding: bool,
    ) -> Result<Vec<String>, SessionLost> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let out = self.state_dir.join("expanded");
        let delimiter = format!("SLIPWAY_FIELD_{}", nonce());
        let mut script = String::from("{\n");
        for text in texts {
            // An unquoted here-document expands like a double-quoted string, and no quote in
            // the text can end it early.
            script.push_str(&format!("IFS= read -r -d '' __slipway_v <<{delimiter}\n{text}\n{delimiter}\nprintf '%s\\0' \"${{__slipway_v%$'\\n'}}\"\n"));
        }
        script.push_str(&format!("}} > '{}'\n", out.display()));
        self.run_collecting(&script, succeeding).await?;
        let bytes = std::fs::read(&out).map_err(|_| SessionLost)?;
        let mut values: Vec<String> =
            bytes.split(|b| *b == 0).map(|it| String::from_utf8_lossy(it).into_owned()).collect();
        values.pop();
        if values.len() != texts.len() {
            return Err(SessionLost);
        }
        Ok(values)
    }

    /// Kills the shell and every process of its group.
    pub(crate) async fn kill(&mut self) {
        if let Some(pgid) = self.pgid {
            crate::process::kill_group(pgid);
        }
        let _ = self.child.kill().await;
        let _ = self.child.wait().await;
    }
}

/// The shell's own variables, which are never carried from one command to the next.
const INTERNAL_VARIABLES: &[&str] = &[
    "BASHOPTS",
    "BASHPID",
    "BASH_ALIASES",
    "BASH_ARGC",
    "BASH_ARGV",
    "BASH_ARGV0",
    "BASH_CMDS",
    "BASH_COMMAND",
    "BASH_LINENO",
    "BASH_REMATCH",
    "BASH_SOURCE",
    "BASH_SUBSHELL",
    "BASH_VERSINFO",
    "BASH_VERSION",
    "COLUMNS",
    "COMP_WORDBREAKS",
    "DIRSTACK",
    "EPOCHREALTIME",
    "EPOCHSECONDS",
    "EUID",
    "FUNCNAME",
    "GROUPS",
    "HISTCMD",
    "HISTFILE",
    "HISTFILESIZE",
    "HISTSIZE",
    "IFS",
    "LINENO",
    "LINES",
    "OLDPWD",
    "OPTARG",
    "OPTERR",
    "OPTIND",
    "PIPESTATUS",
    "PPID",
    "PS1",
    "PS2",
    "PS4",
    "PWD",
    "RANDOM",
    "SECONDS",
    "SHELLOPTS",
    "SHLVL",
    "SRANDOM",
    "UID",
    "_",
    "CODEBUILD_BUILD_SUCCEEDING",
];

/// The variables of a `declare -p` dump that carry over: every line by name, without the
/// shell's own variables, the driver's, arrays (which CodeBuild does not carry) and
/// read-only ones (which cannot be set again).
fn carried_variables(dump: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    // bash 5 writes one declaration per line, quoting newlines as `$'\n'`.
    for line in dump.lines() {
        let Some(rest) = line.strip_prefix("declare -") else { continue };
        let Some((flags, rest)) = rest.split_once(' ') else { continue };
        let name = rest.split_once('=').map_or(rest, |(name, _)| name);
        if flags.contains(['a', 'A', 'r'])
            || name.starts_with("__slipway")
            || INTERNAL_VARIABLES.contains(&name)
        {
            continue;
        }
        out.insert(name.to_owned(), line.to_owned());
    }
    out
}

/// The attribute letters of a `declare -p` line (`-x` of `declare -x A="1"`).
fn flags(line: &str) -> &str {
    line.strip_prefix("declare -").and_then(|it| it.split(' ').next()).unwrap_or("")
}

/// Splits the shell's output into text and status markers. A marker can be cut across reads
/// and can follow text that does not end in a newline, so bytes that might be the start of
/// a marker are held back until the next read decides.
async fn read_output(
    mut stdout: tokio::process::ChildStdout,
    marker: Vec<u8>,
    sender: mpsc::Sender<Chunk>,
) {
    let mut buffer: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut read = vec![0u8; 64 * 1024];
    loop {
        let n = match stdout.read(&mut read).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        buffer.extend_from_slice(&read[..n]);
        loop {
            match find(&buffer, &marker) {
                Some(start) => {
                    let rest = &buffer[start + marker.len()..];
                    let Some(end) = rest.iter().position(|b| *b == 0x1e) else { break };
                    let status = std::str::from_utf8(&rest[..end])
                        .ok()
                        .and_then(|it| it.parse().ok())
                        .unwrap_or(-1);
                    // Skip the closing separator and its newline.
                    let consumed = start + marker.len() + end + 2;
                    if start > 0 {
                        let _ = sender.send(Chunk::Text(buffer[..start].to_vec())).await;
                    }
                    let _ = sender.send(Chunk::Status(status)).await;
                    buffer.drain(..consumed.min(buffer.len()));
                }
                None => {
                    let keep = partial_suffix(&buffer, &marker);
                    let flush = buffer.len() - keep;
                    if flush > 0 {
                        let _ = sender.send(Chunk::Text(buffer[..flush].to_vec())).await;
                        buffer.drain(..flush);
                    }
                    break;
                }
            }
        }
    }
    if !buffer.is_empty() {
        let _ = sender.send(Chunk::Text(buffer)).await;
    }
}

/// Where `needle` first occurs. Markers start with a byte that text almost never holds, so
/// looking for that byte first keeps this linear on the hundreds of megabytes a build may print.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(offset) = haystack[from..].iter().position(|b| *b == needle[0]) {
        let at = from + offset;
        if haystack[at..].starts_with(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// The length of the longest suffix of `buffer` that is a proper prefix of `marker`.
fn partial_suffix(buffer: &[u8], marker: &[u8]) -> usize {
    (1..marker.len().min(buffer.len() + 1))
        .rev()
        .find(|n| buffer.ends_with(&marker[..*n]))
        .unwrap_or(0)
}

/// A random token (32 hex digits: a v4 UUID's 122 random bits from the system's generator),
/// so that no build output can forge a marker or end a here-document.
pub(super) fn nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
