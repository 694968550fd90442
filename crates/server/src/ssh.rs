//! Git over SSH, as CodeCommit serves it: `ssh://APKA…@HOST:PORT/v1/repos/<name>`
//! (`slipway server --ssh-listen ADDR`).
//!
//! Sign-in is by public key only: the SSH user name is the id of an IAM SSH public key
//! (`aws iam upload-ssh-public-key`), and the key the client proves it holds must be that
//! key, byte for byte, and Active (`auth::ssh_user`); the principal is the key's user.
//! Passwords and every other method are refused, and a wrong id and key pair gets the same
//! refusal as an unknown one.
//!
//! A session channel takes one exec request, the command git's SSH transport sends:
//! `git-upload-pack '/v1/repos/<name>'` or `git-receive-pack '/v1/repos/<name>'` (also without
//! the leading `/`, and `git upload-pack`); anything else is answered on stderr with exit
//! status 1. Authorization is git over HTTP's (`git::authorize_git`: GitPull or GitPush on the
//! repository's ARN), and so is the git program (`git::service_command`), here without
//! `--stateless-rpc`: over SSH git speaks its plain bidirectional protocol, the channel's data
//! into git's stdin, its stdout back as data, its stderr as extended data and its exit status
//! as the channel's. A push reads its commands as they stream past (`git::PushWatch`), so it
//! gets the same branch protection and records the same ref events (`git::record_push`) as
//! one over HTTP.
//!
//! Everything is bounded: connections at once and commands at once on each, the time to
//! sign in, an idle session's time (russh's inactivity timeout), and what is kept in memory
//! (git's output streams as it comes, under the channel's flow control; a push keeps at most
//! `MAX_REPORT_BYTES` of its report).
//!
//! The host key (ed25519) is made on the first start in the data directory
//! (`ssh_host_ed25519_key`, mode 0600) and reused; its fingerprint is printed at start.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use russh::keys::{Algorithm, HashAlg, PrivateKey};
use russh::server::{Auth, ChannelOpenHandle, Msg, PublicKeyOffer, Session, VerifiedPublicKey};
use russh::{
    Channel, ChannelId, ChannelMsg, ChannelReadHalf, ChannelWriteHalf, MethodKind, MethodSet, SshId,
};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};

use crate::audit::{Origin, record_git};
use crate::auth::Principal;
use crate::auth::facts::Arrival;
use crate::git::pkt::CommandParser;
use crate::git::{self, MAX_REPORT_BYTES, Service};
use crate::{AppState, ServerError};

#[cfg(test)]
mod tests;

/// The host key's file in the data directory.
pub(crate) const HOST_KEY_FILE: &str = "ssh_host_ed25519_key";

/// The most SSH connections served at once; more wait for one to end.
const MAX_CONNECTIONS: usize = 256;

/// How long a client has from connecting to being signed in.
const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a session may stay silent both ways before it is closed.
const INACTIVITY_TIMEOUT: Duration = Duration::from_secs(600);

/// Git over SSH, bound to its listener and ready to run.
pub struct SshServer {
    state: AppState,
    listener: TcpListener,
    config: Arc<russh::server::Config>,
    fingerprint: String,
}

impl SshServer {
    /// Prepares git over SSH on `listener`: the host key (made on the first start) and the
    /// port `cloneUrlSsh` names.
    pub(crate) fn new(state: AppState, listener: TcpListener) -> Result<SshServer, ServerError> {
        let key = host_key(&state.data_dir)?;
        let fingerprint = key.public_key().fingerprint(HashAlg::Sha256).to_string();
        if let Ok(address) = listener.local_addr() {
            // Set once: a second SSH listener keeps the first one's port in the URLs.
            let _ = state.codecommit().ssh_port.set(address.port());
        }
        let config = russh::server::Config {
            server_id: SshId::Standard("SSH-2.0-Slipway".into()),
            methods: MethodSet::from(&[MethodKind::PublicKey][..]),
            // OpenSSH's first "none" probe is answered at once; real refusals take a second.
            auth_rejection_time: Duration::from_secs(1),
            auth_rejection_time_initial: Some(Duration::ZERO),
            max_auth_attempts: 6,
            keys: vec![key],
            inactivity_timeout: Some(INACTIVITY_TIMEOUT),
            keepalive_interval: Some(Duration::from_secs(60)),
            nodelay: true,
            ..Default::default()
        };
        Ok(SshServer { state, listener, config: Arc::new(config), fingerprint })
    }

    /// The host key's fingerprint, as `ssh-keygen -l` prints it (`SHA256:…`).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves connections until the process ends (or the returned future is dropped).
    pub async fn run(self) {
        let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        loop {
            let Ok(permit) = permits.clone().acquire_owned().await else { return };
            let (stream, peer) = match self.listener.accept().await {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(%err, "ssh: accepting a connection");
                    // A full file table and the like: wait a moment rather than spin.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let config = self.config.clone();
            let signed_in = Arc::new(AtomicBool::new(false));
            let origin = Origin { source_ip: peer.ip().to_string(), user_agent: USER_AGENT.into() };
            let handler = Connection::new(self.state.clone(), signed_in.clone(), origin);
            tokio::spawn(async move {
                let deadline = tokio::time::Instant::now() + SIGN_IN_TIMEOUT;
                let started = russh::server::run_stream(config, stream, handler);
                let session = match tokio::time::timeout_at(deadline, started).await {
                    Ok(Ok(session)) => session,
                    Ok(Err(err)) => {
                        tracing::debug!(%err, %peer, "ssh: handshake");
                        return;
                    }
                    Err(_) => return,
                };
                // A client that has not signed in by the deadline is sent away.
                let handle = session.handle();
                let watchdog = tokio::spawn(async move {
                    tokio::time::sleep_until(deadline).await;
                    if !signed_in.load(Ordering::SeqCst) {
                        let reason = russh::Disconnect::ByApplication;
                        let why = "signing in took too long".to_owned();
                        let _ = handle.disconnect(reason, why, "en".to_owned()).await;
                    }
                });
                if let Err(err) = session.await {
                    tracing::debug!(%err, %peer, "ssh: session ended");
                }
                watchdog.abort();
                drop(permit);
            });
        }
    }
}

/// The host key in `data_dir`, made (mode 0600) when there is none.
fn host_key(data_dir: &Path) -> Result<PrivateKey, ServerError> {
    let path = data_dir.join(HOST_KEY_FILE);
    let io_error = |source| ServerError::DataDir { path: path.display().to_string(), source };
    match std::fs::read_to_string(&path) {
        Ok(text) => PrivateKey::from_openssh(text.as_bytes())
            .map_err(|err| ServerError::Crypto(format!("{}: {err}", path.display()))),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let mut rng = russh::keys::key::safe_rng();
            let key = PrivateKey::random(&mut rng, Algorithm::Ed25519)
                .map_err(|err| ServerError::Crypto(format!("making the SSH host key: {err}")))?;
            let text = key
                .to_openssh(russh::keys::ssh_key::LineEnding::LF)
                .map_err(|err| ServerError::Crypto(format!("writing the SSH host key: {err}")))?;
            crate::write_private(&path, &text).map_err(io_error)?;
            Ok(key)
        }
        Err(err) => Err(io_error(err)),
    }
}

/// What an exec request asks for: a git service on a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GitRequest {
    pub(crate) service: Service,
    pub(crate) repository: String,
}

/// Reads an exec request's command as git's SSH transport sends it:
/// `git-upload-pack '/v1/repos/<name>'` (or `git-receive-pack`, or `git upload-pack`; the
/// path with or without its leading `/`, quoted as git quotes it or bare). `None` for
/// anything else.
pub(crate) fn parse_command(command: &[u8]) -> Option<GitRequest> {
    let command = std::str::from_utf8(command).ok()?.trim();
    let (service, rest) = if let Some(rest) = command.strip_prefix("git-") {
        rest.split_once(' ')?
    } else {
        command.strip_prefix("git ")?.trim_start().split_once(' ')?
    };
    let service = match service {
        "upload-pack" => Service::UploadPack,
        "receive-pack" => Service::ReceivePack,
        _ => return None,
    };
    let path = unquote(rest.trim())?;
    let path = path.strip_prefix('/').unwrap_or(&path);
    let repository = path.strip_prefix("v1/repos/")?;
    let repository = repository.strip_suffix('/').unwrap_or(repository);
    let valid = !repository.is_empty() && !repository.contains(['/', '\'', ' ']);
    valid.then(|| GitRequest { service, repository: repository.to_owned() })
}

/// A path as git quotes it for the shell (`'…'`, with `'` as `'\''`), or bare.
fn unquote(text: &str) -> Option<String> {
    if !text.starts_with('\'') {
        return (!text.contains(['\'', '"', '\\', ' '])).then(|| text.to_owned());
    }
    let mut out = String::new();
    let mut rest = text;
    while let Some(after) = rest.strip_prefix('\'') {
        let end = after.find('\'')?;
        out.push_str(&after[..end]);
        rest = &after[end + 1..];
        if let Some(after) = rest.strip_prefix("\\'") {
            out.push('\'');
            rest = after;
        } else {
            break;
        }
    }
    rest.is_empty().then_some(out)
}

/// One SSH connection: who signed in, and its session channels until they run a command.
struct Connection {
    state: AppState,
    /// Where the connection comes from, for the audit trail.
    origin: Origin,
    principal: Option<Principal>,
    /// Set once the client has signed in (the sign-in deadline's watchdog reads it).
    signed_in: Arc<AtomicBool>,
    channels: HashMap<ChannelId, Channel<Msg>>,
    /// `GIT_PROTOCOL` as each channel set it (`SendEnv`; git asks for protocol v2 so).
    protocols: HashMap<ChannelId, String>,
    /// A permit for each command running.
    commands: Arc<Semaphore>,
}

/// The most session channels one connection has open before running a command.
const MAX_CHANNELS: usize = 8;

/// The most commands (git processes) one connection runs at once.
const MAX_COMMANDS: usize = 4;

/// The user agent the audit trail records for git over SSH (SSH has no such header).
const USER_AGENT: &str = "git over SSH";

impl Connection {
    fn new(state: AppState, signed_in: Arc<AtomicBool>, origin: Origin) -> Connection {
        Connection {
            state,
            origin,
            principal: None,
            signed_in,
            channels: HashMap::new(),
            protocols: HashMap::new(),
            commands: Arc::new(Semaphore::new(MAX_COMMANDS)),
        }
    }
}

impl russh::server::Handler for Connection {
    type Error = russh::Error;

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        // Spares the client a signature for a key that would be refused anyway.
        Ok(match self.admit(user, offer.public_key).await {
            Some(_) => Auth::Accept,
            None => Auth::reject(),
        })
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        match self.admit(user, key.public_key).await {
            Some(principal) => {
                self.principal = Some(principal);
                self.signed_in.store(true, Ordering::SeqCst);
                Ok(Auth::Accept)
            }
            None => Ok(Auth::reject()),
        }
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if self.principal.is_none() || self.channels.len() >= MAX_CHANNELS {
            return Ok(()); // dropping the handle refuses the channel
        }
        self.channels.insert(channel.id(), channel);
        reply.accept().await;
        Ok(())
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        value: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        match git::allowed_git_protocol(value) {
            Some(protocol) if name == "GIT_PROTOCOL" && self.channels.contains_key(&channel) => {
                self.protocols.insert(channel, protocol.to_owned());
                session.channel_success(channel)
            }
            _ => session.channel_failure(channel),
        }
    }

    async fn exec_request(
        &mut self,
        channel_id: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let (Some(channel), Some(principal), Ok(permit)) = (
            self.channels.remove(&channel_id),
            self.principal.clone(),
            self.commands.clone().try_acquire_owned(),
        ) else {
            return session.channel_failure(channel_id);
        };
        let protocol = self.protocols.remove(&channel_id);
        session.channel_success(channel_id)?;
        let state = self.state.clone();
        let origin = self.origin.clone();
        let command = data.to_vec();
        // The session goes on handling messages (the channel's data among them) meanwhile.
        tokio::spawn(async move {
            let (reader, writer) = channel.split();
            let writer = Arc::new(writer);
            let status = match prepare(&state, &principal, &origin, &command).await {
                Ok((request, dir)) => {
                    let (name, push) =
                        (request.repository.clone(), request.service == Service::ReceivePack);
                    let (status, refused) = run_git(
                        &state, &principal, &origin, request, &dir, protocol, reader, &writer,
                    )
                    .await;
                    let error = refused.or_else(|| {
                        (status != 0).then(|| ("GitFailed", format!("git exited {status}")))
                    });
                    record_git(&state, &principal, &origin, &name, push, error).await;
                    status
                }
                Err(message) => {
                    let _ = writer.extended_data_bytes(1, Bytes::from(message)).await;
                    1
                }
            };
            finish(&writer, status).await;
            drop(permit);
        });
        Ok(())
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        // Git only: there is no shell, as on CodeCommit.
        if let Some(channel) = self.channels.remove(&channel) {
            tokio::spawn(async move {
                let (_reader, writer) = channel.split();
                let message = "You have successfully authenticated over SSH. You can use Git to \
                               interact with Slipway. Interactive shells are not supported.\n";
                let _ = writer.extended_data_bytes(1, Bytes::from(message)).await;
                finish(&writer, 1).await;
            });
        }
        session.channel_success(channel)
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _columns: u32,
        _rows: u32,
        _width: u32,
        _height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_failure(channel)
    }

    async fn channel_close(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.channels.remove(&channel);
        self.protocols.remove(&channel);
        Ok(())
    }
}

impl Connection {
    /// The principal `user` (an SSH key id) and `key` sign in as, if they do.
    async fn admit(&self, user: &str, key: &russh::keys::PublicKey) -> Option<Principal> {
        let blob = key.to_bytes().ok()?;
        match crate::auth::ssh_user(&self.state, user, &blob).await {
            Ok(principal) => Some(principal),
            Err(crate::auth::AuthError::Internal(err)) => {
                tracing::error!(%err, "ssh: looking up a key");
                None
            }
            Err(_) => None,
        }
    }
}

/// The request an exec command makes and the repository's directory, or the message that
/// refuses it.
async fn prepare(
    state: &AppState,
    principal: &Principal,
    origin: &Origin,
    command: &[u8],
) -> Result<(GitRequest, std::path::PathBuf), String> {
    let Some(request) = parse_command(command) else {
        return Err(format!(
            "Slipway serves git over SSH only (git-upload-pack or git-receive-pack of \
             '/v1/repos/<name>'), not: {}\n",
            String::from_utf8_lossy(command).chars().take(200).collect::<String>()
        ));
    };
    let name = &request.repository;
    let not_found = || format!("repository {name} does not exist\n");
    let dir = match git::existing_repository(state, name).await {
        Ok(Some(dir)) => dir,
        Ok(None) => return Err(not_found()),
        Err(err) => {
            tracing::error!(%err, "ssh: looking up a repository");
            return Err("looking up the repository failed\n".to_owned());
        }
    };
    // A fetch, and the advertisement before a push; a push's refs once its commands are read.
    let arrival = ssh_arrival(origin);
    match git::authorize_git(state, principal, request.service, name, &[], arrival).await {
        Ok(None) => Ok((request, dir)),
        Ok(Some(denied)) => {
            let push = request.service == Service::ReceivePack;
            let refused = Some(("AccessDenied", denied.message.clone()));
            record_git(state, principal, origin, name, push, refused).await;
            Err(format!("{denied}\n"))
        }
        Err(err) => {
            tracing::error!(%err, "ssh: telling what a git request asks");
            Err("authorizing the request failed\n".to_owned())
        }
    }
}

/// How a git command over SSH arrived, for its condition keys: from the client's address,
/// encrypted (`aws:SecureTransport` is true).
fn ssh_arrival(origin: &Origin) -> Arrival<'_> {
    Arrival { source_ip: &origin.source_ip, secure_transport: true }
}

/// What writes to a channel.
type Writer = ChannelWriteHalf<Msg>;

/// Ends a channel's command with its exit status.
async fn finish(writer: &Writer, status: u32) {
    let _ = writer.exit_status(status).await;
    let _ = writer.eof().await;
    let _ = writer.close().await;
}

/// Runs the git service between the channel (`reader`, `writer`) and git; its exit status,
/// and the error its event carries when it was refused (by policy before git had it, or a
/// ref update by git, [`git::push_refusal`]).
#[allow(clippy::too_many_arguments)]
async fn run_git(
    state: &AppState,
    principal: &Principal,
    origin: &Origin,
    request: GitRequest,
    dir: &Path,
    protocol: Option<String>,
    reader: ChannelReadHalf,
    writer: &Arc<Writer>,
) -> (u32, Option<(&'static str, String)>) {
    let service = request.service;
    let name = request.repository;
    let user = principal.acting_user();
    let fail = async |message: String| {
        let _ = writer.extended_data_bytes(1, Bytes::from(message)).await;
        1
    };
    let policy = match service {
        Service::ReceivePack => match git::push_policy(state, &name, dir, &user).await {
            Ok(policy) => policy,
            Err((what, err)) => {
                tracing::error!(%err, "ssh: {what}");
                return (fail(format!("{what} failed\n")).await, None);
            }
        },
        Service::UploadPack => None,
    };
    let mut command = git::service_command(service, dir, policy.as_ref(), false);
    if let Some(protocol) = &protocol {
        command.env("GIT_PROTOCOL", protocol);
    }
    command.kill_on_drop(true);
    let policy_path = policy.as_ref().map(|it| it.path.clone());
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(err) => {
            tracing::error!(%err, "ssh: starting git {}", service.command());
            return (fail(format!("starting git {} failed\n", service.command())).await, None);
        }
    };
    let (Some(mut stdin), Some(mut stdout), Some(mut stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return (fail("starting git failed\n".to_owned()).await, None);
    };
    let push = service == Service::ReceivePack;
    // The channel's data into git's stdin. A push's command list is held back until it has
    // been read whole and authorized with every ref it moves (`codecommit:References`), as
    // over HTTP; then the hook's policy is written and git gets it. A refused push never
    // reaches git: its stdin closes, and the refusal goes to the client.
    let (parsed_sender, mut parsed) = oneshot::channel();
    let feeder = {
        let (state, principal, name, writer) =
            (state.clone(), principal.clone(), name.clone(), writer.clone());
        let source_ip = origin.source_ip.clone();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let mut reader = reader;
            let mut parser = push.then(CommandParser::new);
            let mut head = Vec::new();
            let mut policy = policy;
            let mut parsed_sender = Some(parsed_sender);
            while let Some(message) = reader.wait().await {
                let data = match message {
                    ChannelMsg::Data { data } => data,
                    ChannelMsg::Eof | ChannelMsg::Close => break,
                    _ => continue,
                };
                let Some(open) = parser.as_mut() else {
                    if stdin.write_all(&data).await.is_err() {
                        break;
                    }
                    continue;
                };
                open.feed(&data);
                head.extend_from_slice(&data);
                if !open.is_done() && head.len() <= git::MAX_COMMANDS_BYTES {
                    continue;
                }
                let Some((commands, capabilities)) = parser.take().and_then(CommandParser::finish)
                else {
                    let message = "the push's ref updates could not be read\n";
                    let _ = writer.extended_data_bytes(1, Bytes::from(message)).await;
                    if let Some(sender) = parsed_sender.take() {
                        let _ = sender.send(Err(None));
                    }
                    return;
                };
                let references: Vec<&str> = commands.iter().map(|it| it.name.as_str()).collect();
                let arrival = Arrival { source_ip: &source_ip, secure_transport: true };
                let (refused, denied) = match git::authorize_git(
                    &state,
                    &principal,
                    Service::ReceivePack,
                    &name,
                    &references,
                    arrival,
                )
                .await
                {
                    Ok(None) => (None, None),
                    Ok(Some(denied)) => (Some(format!("{denied}\n")), Some(denied.message)),
                    Err(err) => {
                        tracing::error!(%err, "ssh: telling what a push asks");
                        (Some("authorizing the push failed\n".to_owned()), None)
                    }
                };
                if let Some(message) = refused {
                    let _ = writer.extended_data_bytes(1, Bytes::from(message.clone())).await;
                    // As over HTTP, git's own report of the refused refs, so that git shows
                    // `[remote rejected]` and why (git, without its commands, writes nothing
                    // more).
                    if let Some(report) = git::refusal_report(&commands, &capabilities, &message) {
                        let _ = writer.data_bytes(Bytes::from(report)).await;
                    }
                    if let Some(sender) = parsed_sender.take() {
                        let _ = sender.send(Err(denied));
                    }
                    return;
                }
                if let Some(policy) = policy.take() {
                    policy.write(Some(&commands)).await;
                }
                if let Some(sender) = parsed_sender.take() {
                    let _ = sender.send(Ok((commands, capabilities)));
                }
                if stdin.write_all(&std::mem::take(&mut head)).await.is_err() {
                    break;
                }
            }
            // Closing stdin tells git the client is done.
            drop(stdin);
        })
    };
    // git's stderr as the channel's extended data, as it comes.
    let errors = {
        let writer = writer.clone();
        tokio::spawn(async move {
            let mut buffer = vec![0u8; 8 << 10];
            loop {
                match stderr.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    Ok(read) => {
                        let chunk = Bytes::copy_from_slice(&buffer[..read]);
                        // A client that went away: read on so that git never blocks.
                        let _ = writer.extended_data_bytes(1, chunk).await;
                    }
                }
            }
        })
    };
    // git's stdout as the channel's data, a copy of a push's kept for its report.
    let mut kept = push.then(Vec::new);
    let mut buffer = vec![0u8; 32 << 10];
    let mut open = true;
    loop {
        let read = match stdout.read(&mut buffer).await {
            Ok(0) => break,
            Ok(read) => read,
            Err(err) => {
                tracing::debug!(%err, "ssh: reading git's output");
                break;
            }
        };
        if let Some(copy) = &mut kept {
            if copy.len() + read <= MAX_REPORT_BYTES {
                copy.extend_from_slice(&buffer[..read]);
            } else {
                kept = None;
            }
        }
        if open && writer.data_bytes(Bytes::copy_from_slice(&buffer[..read])).await.is_err() {
            // The client went away: a push still runs to its end, a fetch need not.
            open = false;
            if !push {
                break;
            }
        }
    }
    if !open && !push {
        // Dropping the child would kill it too; waiting reaps it.
        let _ = child.start_kill();
    }
    let status = child.wait().await;
    let _ = errors.await;
    feeder.abort();
    if let Some(path) = policy_path {
        // Absent when the commands never arrived.
        let _ = tokio::fs::remove_file(path).await;
    }
    let code = match &status {
        Ok(status) => status.code().map_or(1, |code| u32::try_from(code).unwrap_or(1)),
        Err(_) => 1,
    };
    let read = parsed.try_recv().ok();
    if let Some(Err(denied)) = read {
        // Refused (or unreadable) before git had it: the client was told why.
        return (1, denied.map(|message| ("AccessDenied", message)));
    }
    if code != 0 {
        tracing::warn!(repository = %name, ?status, "ssh: git {} failed", service.command());
        (code, None)
    } else if push {
        // git read the whole command list, so the feeder has read and authorized it.
        (code, git::record_push(state, &name, &user, read.and_then(Result::ok), kept).await)
    } else {
        (code, None)
    }
}
