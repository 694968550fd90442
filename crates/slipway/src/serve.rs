//! `slipway server` and the administration commands that work on its data directory
//! (`slipway user create|set-password`, `slipway access-key create|revoke`, …).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use server::{Server, ServerConfig};

use crate::{EXIT_FAILED, EXIT_INVALID};

/// Where the server keeps its state; shared by every command that opens it.
#[derive(Debug, clap::Args)]
pub(crate) struct StateArgs {
    /// The data directory: the SQLite database, blobs, the installation's key.
    #[arg(long, env = "SLIPWAY_DATA_DIR", default_value = "slipway-data", value_name = "DIR")]
    data_dir: PathBuf,
    /// Keep state in this database instead: `postgres://user@host/db` or `sqlite:PATH`.
    #[arg(long, env = "SLIPWAY_DATABASE_URL", value_name = "URL")]
    database_url: Option<String>,
    /// Keep blobs here instead: `s3://bucket/prefix?endpoint=URL&region=R` (credentials from
    /// the AWS_* environment variables) or a directory.
    #[arg(long, env = "SLIPWAY_BLOB_URL", value_name = "URL")]
    blob_url: Option<String>,
    /// The region in ARNs, and the one clients sign for.
    #[arg(long, env = "SLIPWAY_REGION", default_value = "us-east-1")]
    region: String,
    /// The installation's key (default: master.key in the data directory). Every server of
    /// one installation (one database) is given the key its first server created.
    #[arg(long, env = "SLIPWAY_MASTER_KEY_FILE", value_name = "FILE")]
    master_key_file: Option<PathBuf>,
}

impl StateArgs {
    /// The configuration of an administration command: it opens an existing installation and
    /// never creates one.
    fn config(&self) -> ServerConfig {
        ServerConfig {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            blob_url: self.blob_url.clone(),
            region: self.region.clone(),
            master_key_file: self.master_key_file.clone(),
            create: false,
            audit_retention_days: server::AUDIT_RETENTION_DAYS,
        }
    }
}

#[derive(Debug, clap::Args)]
pub(crate) struct ServerArgs {
    /// The address to listen on (port 0 picks a free port).
    #[arg(
        long,
        env = "SLIPWAY_LISTEN",
        default_value = "127.0.0.1:8080",
        value_name = "ADDR:PORT"
    )]
    listen: SocketAddr,
    /// Serve git over SSH on this address too (port 0 picks a free port): clone with
    /// `ssh://<SSH key id>@HOST:PORT/v1/repos/<name>`. Off unless given.
    #[arg(long, env = "SLIPWAY_SSH_LISTEN", value_name = "ADDR:PORT")]
    ssh_listen: Option<SocketAddr>,
    /// Do not run the embedded agent: builds then wait for a `slipway agent`.
    #[arg(long, env = "SLIPWAY_NO_LOCAL_AGENT")]
    no_local_agent: bool,
    /// How many builds the embedded agent runs at once.
    #[arg(long, env = "SLIPWAY_LOCAL_AGENT_CONCURRENCY", default_value_t = 2)]
    local_agent_concurrency: u32,
    /// Run the embedded agent's builds without bubblewrap, as the server's own user: any build
    /// can then read the data directory (the installation's key, the admin's credentials, the
    /// database). Without this flag the embedded agent refuses to start when bubblewrap is
    /// missing.
    #[arg(long)]
    unsandboxed_local_builds_can_read_server_secrets: bool,
    /// How many days the audit trail (`aws cloudtrail lookup-events`, the console's audit
    /// page) keeps its events; older ones are deleted.
    #[arg(long, env = "SLIPWAY_AUDIT_RETENTION_DAYS", default_value_t = server::AUDIT_RETENTION_DAYS, value_name = "DAYS")]
    audit_retention_days: u32,
    #[command(flatten)]
    state: StateArgs,
}

#[derive(Debug, clap::Args)]
pub(crate) struct AgentArgs {
    /// The server's URL, e.g. http://ci.example.com:8080.
    #[arg(long, env = "SLIPWAY_SERVER")]
    server: String,
    /// An agent token (`slipway agent-token create`).
    #[arg(long, env = "SLIPWAY_AGENT_TOKEN")]
    token: String,
    /// Labels builds can require, as k=v,k=v (os, arch and host are added).
    #[arg(long, value_delimiter = ',')]
    labels: Vec<String>,
    /// How many builds to run at once.
    #[arg(long, default_value_t = 1)]
    concurrency: u32,
    /// Where builds get their workspaces.
    #[arg(long, default_value = "slipway-agent", value_name = "DIR")]
    work_dir: PathBuf,
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum UserCommand {
    /// Create a user.
    Create {
        /// The user's name.
        name: String,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Attach a managed policy to a user: an ARN, the name of an AWS-managed policy
    /// (AdministratorAccess, AWSCodeCommitPowerUser, …) or of one of this installation's.
    #[command(name = "attach-policy")]
    AttachPolicy {
        /// The user's name.
        name: String,
        /// The policy's ARN or name.
        policy: String,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Set a user's console password: the first line of standard input, or a generated one
    /// (printed) with --generate.
    #[command(name = "set-password")]
    SetPassword {
        /// The user's name.
        name: String,
        /// Generate a password of 20 characters and print it.
        #[arg(long)]
        generate: bool,
        #[command(flatten)]
        state: StateArgs,
    },
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum GitCredentialsCommand {
    /// Create HTTPS git credentials for a user (like CodeCommit's): prints the git user name
    /// and the password, which is not shown again.
    Create {
        /// The user.
        #[arg(long)]
        user: String,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Revoke HTTPS git credentials by their git user name.
    Revoke {
        /// The git user name (`NAME-at-123456`).
        git_user: String,
        #[command(flatten)]
        state: StateArgs,
    },
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum BranchProtectionCommand {
    /// Protect the branches a name or glob (`release/*`) matches: only the listed users may
    /// push, force-push or delete them. A list left out lets anyone; an empty one (`''`)
    /// lets nobody. Replaces the rule for the same BRANCH. The rules are enforced as the
    /// account-level IAM policy SlipwayBranchProtection (see `show`).
    Set {
        /// The repository.
        repository: String,
        /// A branch name or a glob (as IAM's StringLike: `*` any characters, `/` included).
        branch: String,
        /// The users who alone may push (create or fast-forward), comma-separated.
        #[arg(long, value_delimiter = ',', num_args = 1, value_name = "USERS")]
        push: Option<Vec<String>>,
        /// The users who alone may force-push (an update that is not a fast-forward).
        #[arg(long, value_delimiter = ',', num_args = 1, value_name = "USERS")]
        force_push: Option<Vec<String>>,
        /// The users who alone may delete the branch.
        #[arg(long, value_delimiter = ',', num_args = 1, value_name = "USERS")]
        delete: Option<Vec<String>>,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Remove the rule for BRANCH (the name or glob it was set with).
    Remove {
        /// The repository.
        repository: String,
        /// The rule's branch name or glob.
        branch: String,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Print a repository's rules as JSON.
    List {
        /// The repository.
        repository: String,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Print the IAM policy statements that enforce a repository's rules, as JSON.
    Show {
        /// The repository.
        repository: String,
        #[command(flatten)]
        state: StateArgs,
    },
}

#[derive(Debug, clap::Args)]
pub(crate) struct TriggerSecretArgs {
    /// The repository.
    repository: String,
    /// The trigger's name.
    trigger: String,
    #[command(flatten)]
    state: StateArgs,
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum AgentTokenCommand {
    /// Create a token that lets an agent (`slipway agent --token`) take builds.
    Create {
        /// A name for the token, for people.
        name: String,
        #[command(flatten)]
        state: StateArgs,
    },
}

/// Which secret store a value goes to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SecretKind {
    Parameter,
    Secret,
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum PutCommand {
    /// Set the value; it is read from standard input unless --value is given.
    Put {
        /// The parameter name (`/prod/db/password`) or secret id (`ci/tokens`).
        name: String,
        /// The value (visible to other users of this machine in the process list: prefer
        /// standard input).
        #[arg(long)]
        value: Option<String>,
        #[command(flatten)]
        state: StateArgs,
    },
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum AccessKeyCommand {
    /// Create an access key for a user and print it in the AWS credentials-file format.
    Create {
        /// The user.
        #[arg(long)]
        user: String,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Revoke an access key: requests signed with it are refused from then on.
    Revoke {
        /// The access key id (`AKIA…`).
        access_key_id: String,
        #[command(flatten)]
        state: StateArgs,
    },
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts")
}

pub(crate) fn server(args: ServerArgs) -> ExitCode {
    crate::config::init_logging();
    runtime().block_on(async move {
        let config = ServerConfig {
            create: true,
            audit_retention_days: args.audit_retention_days,
            ..args.state.config()
        };
        if !args.no_local_agent
            && !args.unsandboxed_local_builds_can_read_server_secrets
            && let Err(err) = agent::check_sandbox().await
        {
            eprintln!(
                "slipway server: the embedded agent runs builds in bubblewrap, so that they cannot read the server's secrets, but {err}.\n\
                 Install it (`apt-get install bubblewrap`), or run builds only on remote agents (`--no-local-agent` and `slipway agent`), \
                 or accept that any build can take over this installation with --unsandboxed-local-builds-can-read-server-secrets."
            );
            return ExitCode::from(EXIT_FAILED);
        }
        // The port first: a second server on a busy port fails before it writes anything.
        let listener = match tokio::net::TcpListener::bind(args.listen).await {
            Ok(listener) => listener,
            Err(err) => {
                eprintln!("slipway server: cannot listen on {}: {err}", args.listen);
                return ExitCode::from(EXIT_FAILED);
            }
        };
        let ssh_listener = match args.ssh_listen {
            Some(address) => match tokio::net::TcpListener::bind(address).await {
                Ok(listener) => Some(listener),
                Err(err) => {
                    eprintln!("slipway server: cannot listen for SSH on {address}: {err}");
                    return ExitCode::from(EXIT_FAILED);
                }
            },
            None => None,
        };
        let server = match Server::open(&config).await {
            Ok(server) => server,
            Err(err) => {
                eprintln!("slipway server: {err}");
                return ExitCode::from(EXIT_FAILED);
            }
        };
        let ssh = match ssh_listener.map(|listener| server.ssh(listener)).transpose() {
            Ok(ssh) => ssh,
            Err(err) => {
                eprintln!("slipway server: {err}");
                return ExitCode::from(EXIT_FAILED);
            }
        };
        let address = listener.local_addr().map_or_else(|_| args.listen.to_string(), |it| it.to_string());
        let endpoint = format!("http://{address}");
        println!("Slipway is listening on {endpoint}");
        if let Some(ssh) = ssh {
            let address = ssh.local_addr().map_or_else(|_| "?".to_owned(), |it| it.to_string());
            println!("Git over SSH is listening on ssh://{address} (host key {})", ssh.fingerprint());
            // It ends with the process: a clone in flight is cut off, as a server's stop does.
            tokio::spawn(ssh.run());
        }
        println!("State: {}", config.database_url.as_deref().unwrap_or("SQLite in the data directory"));
        println!("Data directory: {}", config.data_dir.display());
        if let Some(credentials) = &server.created_admin {
            println!("Created the user admin with access key {}.", credentials.access_key_id);
        }
        println!("Console: {endpoint}/console/");
        if server.admin_credentials_file.is_file() {
            println!(
                "The admin's access key and console password are in {} (mode 0600). Try:",
                server.admin_credentials_file.display()
            );
            println!(
                "  AWS_SHARED_CREDENTIALS_FILE={} aws codebuild list-projects --endpoint-url {endpoint} --region {}",
                server.admin_credentials_file.display(),
                config.region
            );
        } else {
            // Another server of this installation created the admin, and wrote its file.
            println!("The admin was created by the installation's first server: its credentials are in that server's admin-credentials.");
        }
        let (stop_agent, agent_shutdown) = tokio::sync::watch::channel(false);
        let mut embedded = None;
        if !args.no_local_agent {
            let token = match server.create_agent_token("embedded agent").await {
                Ok(token) => token,
                Err(err) => return fail(err),
            };
            let state = &config;
            let config = agent_config(&endpoint, &token, "embedded", &[], args.local_agent_concurrency, &config.data_dir.join("agent"));
            let mut config = match config {
                Ok(config) => config,
                Err(err) => return invalid(err),
            };
            // The embedded agent runs on the server's machine as the server's user: its builds
            // see nothing of the server (its files, its process, its environment).
            config.base_env = crate::config::build_environment();
            let data_dir = std::path::absolute(&state.data_dir).unwrap_or_else(|_| state.data_dir.clone());
            let mut hidden = vec![data_dir.clone()];
            if let Some(key) = &state.master_key_file {
                hidden.push(std::path::absolute(key).unwrap_or_else(|_| key.clone()));
            }
            if let Some(path) = state.database_url.as_deref().and_then(|it| it.strip_prefix("sqlite:")) {
                let path = path.split('?').next().unwrap_or(path);
                let path = std::path::absolute(path).unwrap_or_else(|_| path.into());
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    hidden.push(format!("{}{suffix}", path.display()).into());
                }
            }
            if args.unsandboxed_local_builds_can_read_server_secrets {
                eprintln!("slipway server: WARNING: the embedded agent's builds run unsandboxed and can read the server's secrets in {}", data_dir.display());
            } else {
                config.forced_sandbox = Some(hidden);
            }
            embedded = Some(tokio::spawn(agent::run_agent(config, agent_shutdown)));
            println!("The embedded agent runs up to {} builds at once.", args.local_agent_concurrency);
        }
        // On Ctrl-C or SIGTERM the embedded agent goes first: its open long poll would
        // otherwise hold the graceful shutdown for as long as the poll lasts.
        let shutdown = async move {
            shutdown_signal().await;
            let _ = stop_agent.send(true);
            if let Some(embedded) = embedded {
                embedded.abort();
            }
        };
        let served = server.serve(listener, shutdown).await;
        match served {
            Ok(()) => {
                println!("Slipway stopped");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("slipway server: {err}");
                ExitCode::from(EXIT_FAILED)
            }
        }
    })
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

pub(crate) fn user(command: UserCommand) -> ExitCode {
    match command {
        UserCommand::Create { name, state } => administer(
            &state,
            async |server| server.create_user(&name).await,
            |()| {
                format!(
                    "Created user {name}. {name} has no permissions until a policy is attached, \
                     e.g. `aws iam attach-user-policy --user-name {name} --policy-arn \
                     arn:aws:iam::aws:policy/AdministratorAccess` (or `slipway user \
                     attach-policy {name} AdministratorAccess`)"
                )
            },
        ),
        UserCommand::AttachPolicy { name, policy, state } => administer(
            &state,
            async |server| server.attach_user_policy(&name, &policy).await,
            |arn| format!("Attached {arn} to user {name}"),
        ),
        UserCommand::SetPassword { name, generate, state } => {
            let password = if generate {
                server::generate_password()
            } else {
                let mut line = String::new();
                if let Err(err) = std::io::stdin().read_line(&mut line) {
                    return fail(err);
                }
                line.trim_end_matches(['\n', '\r']).to_owned()
            };
            administer(
                &state,
                async |server| server.set_console_password(&name, &password).await,
                |()| {
                    if generate {
                        format!("Set the console password of {name}: {password}")
                    } else {
                        format!("Set the console password of {name}")
                    }
                },
            )
        }
    }
}

pub(crate) fn access_key(command: AccessKeyCommand) -> ExitCode {
    match command {
        AccessKeyCommand::Create { user, state } => administer(
            &state,
            async |server| server.create_access_key(&user).await,
            |key| {
                format!(
                    "[default]\naws_access_key_id = {}\naws_secret_access_key = {}",
                    key.access_key_id, key.secret_access_key
                )
            },
        ),
        AccessKeyCommand::Revoke { access_key_id, state } => administer(
            &state,
            async |server| server.revoke_access_key(&access_key_id).await,
            |()| format!("Revoked access key {access_key_id}"),
        ),
    }
}

/// Opens the server's state as `state` says and runs one administration step on it: prints
/// what `done` makes of its result and exits 0; exits 2 when the step is refused (a bad name, a
/// missing user) and 1 when the state cannot be opened.
fn administer<T, E: std::fmt::Display>(
    state: &StateArgs,
    step: impl AsyncFnOnce(&Server) -> Result<T, E>,
    done: impl FnOnce(T) -> String,
) -> ExitCode {
    runtime().block_on(async move {
        let server = match Server::open(&state.config()).await {
            Ok(server) => server,
            Err(err) => return fail(err),
        };
        match step(&server).await {
            Ok(value) => {
                println!("{}", done(value));
                ExitCode::SUCCESS
            }
            Err(err) => invalid(err),
        }
    })
}

fn fail(err: impl std::fmt::Display) -> ExitCode {
    eprintln!("slipway: {err}");
    ExitCode::from(EXIT_FAILED)
}

fn invalid(err: impl std::fmt::Display) -> ExitCode {
    eprintln!("slipway: {err}");
    ExitCode::from(EXIT_INVALID)
}

pub(crate) fn agent_token(command: AgentTokenCommand) -> ExitCode {
    let AgentTokenCommand::Create { name, state } = command;
    runtime().block_on(async move {
        let server = match Server::open(&state.config()).await {
            Ok(server) => server,
            Err(err) => return fail(err),
        };
        match server.create_agent_token(&name).await {
            Ok(token) => {
                println!("{token}");
                ExitCode::SUCCESS
            }
            Err(err) => fail(err),
        }
    })
}

pub(crate) fn put_value(kind: SecretKind, command: PutCommand) -> ExitCode {
    let PutCommand::Put { name, value, state } = command;
    let value = match value {
        Some(value) => value,
        None => {
            let mut text = String::new();
            if let Err(err) = std::io::Read::read_to_string(&mut std::io::stdin(), &mut text) {
                return fail(err);
            }
            // A value piped from `echo` ends in a newline that is not part of it.
            text.strip_suffix('\n').map(str::to_owned).unwrap_or(text)
        }
    };
    runtime().block_on(async move {
        let server = match Server::open(&state.config()).await {
            Ok(server) => server,
            Err(err) => return fail(err),
        };
        let result = match kind {
            SecretKind::Parameter => server.put_parameter(&name, &value).await,
            SecretKind::Secret => server.put_secret(&name, &value).await,
        };
        match result {
            Ok(()) => {
                println!("Stored {name} (sealed)");
                ExitCode::SUCCESS
            }
            Err(err) => fail(err),
        }
    })
}

/// An agent's configuration: labels from the command line plus the host's own. The agent
/// is about to start, so the workspaces a killed one left in its work root go now.
fn agent_config(
    server: &str,
    token: &str,
    name: &str,
    labels: &[String],
    concurrency: u32,
    work_dir: &std::path::Path,
) -> Result<agent::AgentConfig, String> {
    let mut all = std::collections::BTreeMap::new();
    all.insert("os".to_owned(), std::env::consts::OS.to_owned());
    all.insert("arch".to_owned(), std::env::consts::ARCH.to_owned());
    for label in labels.iter().filter(|it| !it.is_empty()) {
        let (key, value) =
            label.split_once('=').ok_or_else(|| format!("--labels {label}: expected key=value"))?;
        all.insert(key.trim().to_owned(), value.trim().to_owned());
    }
    let log: std::sync::Arc<dyn Fn(String) + Send + Sync> =
        std::sync::Arc::new(|line: String| tracing::info!(target: "agent", "{line}"));
    match agent::remove_stale_workspaces(&work_dir.join("work")) {
        Ok(removed) if !removed.is_empty() => {
            let noun = if removed.len() == 1 { "workspace" } else { "workspaces" };
            log(format!("removed {} {noun} left by an earlier agent", removed.len()))
        }
        Ok(_) => {}
        Err(err) => log(format!("cannot remove the workspaces of an earlier agent: {err}")),
    }
    Ok(agent::AgentConfig {
        server: server.to_owned(),
        token: token.to_owned(),
        name: name.to_owned(),
        labels: all,
        concurrency: concurrency.max(1),
        work_root: std::path::absolute(work_dir.join("work"))
            .unwrap_or_else(|_| work_dir.join("work")),
        cache_dir: Some(
            std::path::absolute(work_dir.join("cache")).unwrap_or_else(|_| work_dir.join("cache")),
        ),
        helper_program: std::env::current_exe().ok(),
        base_env: crate::config::host_environment(),
        forced_sandbox: None,
        on_log: Some(log),
    })
}

/// `slipway agent`: runs builds for a server until Ctrl-C or SIGTERM.
pub(crate) fn agent(args: AgentArgs) -> ExitCode {
    crate::config::init_logging();
    let config = match agent_config(
        &args.server,
        &args.token,
        &crate::config::host_name(),
        &args.labels,
        args.concurrency,
        &args.work_dir,
    ) {
        Ok(config) => config,
        Err(err) => return invalid(err),
    };
    runtime().block_on(async move {
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop.send(true);
        });
        match agent::run_agent(config, shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => fail(err),
        }
    })
}

pub(crate) fn git_credentials(command: GitCredentialsCommand) -> ExitCode {
    match command {
        GitCredentialsCommand::Create { user, state } => administer(
            &state,
            async |server| server.create_git_credentials(&user).await,
            |(name, password)| format!("username = {name}\npassword = {password}"),
        ),
        GitCredentialsCommand::Revoke { git_user, state } => administer(
            &state,
            async |server| server.revoke_git_credentials(&git_user).await,
            |()| format!("Revoked git credentials {git_user}"),
        ),
    }
}

/// `slipway branch-protection set|remove|list|show`.
pub(crate) fn branch_protection(command: BranchProtectionCommand) -> ExitCode {
    // `--push ''` (nobody) arrives as one empty name.
    fn users(list: Option<Vec<String>>) -> Option<Vec<String>> {
        list.map(|it| it.into_iter().filter(|user| !user.is_empty()).collect())
    }
    runtime().block_on(async move {
        let state = match &command {
            BranchProtectionCommand::Set { state, .. }
            | BranchProtectionCommand::Remove { state, .. }
            | BranchProtectionCommand::List { state, .. }
            | BranchProtectionCommand::Show { state, .. } => state.config(),
        };
        let server = match Server::open(&state).await {
            Ok(server) => server,
            Err(err) => return fail(err),
        };
        match command {
            BranchProtectionCommand::Set {
                repository, branch, push, force_push, delete, ..
            } => {
                if branch.is_empty() {
                    return invalid("the branch name or glob is empty");
                }
                let (push, force_push, delete) = (users(push), users(force_push), users(delete));
                match server
                    .set_branch_protection(&repository, &branch, push, force_push, delete)
                    .await
                {
                    Ok(rules) => {
                        println!("{}", serde_json::to_string_pretty(&rules).unwrap_or_default());
                        ExitCode::SUCCESS
                    }
                    Err(err) => invalid(err),
                }
            }
            BranchProtectionCommand::Remove { repository, branch, .. } => {
                match server.remove_branch_protection(&repository, &branch).await {
                    Ok(true) => {
                        println!("Removed the protection of {branch} in {repository}");
                        ExitCode::SUCCESS
                    }
                    Ok(false) => invalid(format!("{repository} has no rule for {branch}")),
                    Err(err) => invalid(err),
                }
            }
            BranchProtectionCommand::List { repository, .. } => {
                match server.branch_protection(&repository).await {
                    Ok(rules) => {
                        println!("{}", serde_json::to_string_pretty(&rules).unwrap_or_default());
                        ExitCode::SUCCESS
                    }
                    Err(err) => invalid(err),
                }
            }
            BranchProtectionCommand::Show { repository, .. } => {
                match server.branch_protection_statements(&repository).await {
                    Ok(shown) => {
                        println!("{}", serde_json::to_string_pretty(&shown).unwrap_or_default());
                        ExitCode::SUCCESS
                    }
                    Err(err) => invalid(err),
                }
            }
        }
    })
}

/// `slipway trigger-secret REPO TRIGGER`: the key a trigger's receiver checks
/// `X-Slipway-Signature` with.
pub(crate) fn trigger_secret(args: TriggerSecretArgs) -> ExitCode {
    runtime().block_on(async move {
        let server = match Server::open(&args.state.config()).await {
            Ok(server) => server,
            Err(err) => return fail(err),
        };
        match server.trigger_secret(&args.repository, &args.trigger).await {
            Ok(Some(secret)) => {
                println!("{secret}");
                ExitCode::SUCCESS
            }
            Ok(None) => {
                invalid(format!("no trigger {} on repository {}", args.trigger, args.repository))
            }
            Err(err) => fail(err),
        }
    })
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum MirrorCommand {
    /// Pull-mirror an external git URL into REPO (on a schedule), or push-mirror REPO to one
    /// after every change. The branches and tags are copied exactly (force, prune).
    #[command(group(clap::ArgGroup::new("direction").required(true).args(["pull", "push"])))]
    Add {
        /// The repository.
        repository: String,
        /// Fetch this URL's branches and tags into the repository (replaces any pull mirror).
        #[arg(long, value_name = "URL")]
        pull: Option<String>,
        /// Push the repository's branches and tags to this URL after every change.
        #[arg(long, value_name = "URL")]
        push: Option<String>,
        /// Seconds between scheduled pulls.
        #[arg(long, default_value_t = 300, value_name = "SECONDS", requires = "pull")]
        interval: u64,
        /// A secret in Slipway's store (`aws secretsmanager create-secret`) holding
        /// `user:password` or `{"username": …, "password": …}` for the URL.
        #[arg(long, value_name = "SECRET_NAME")]
        credentials: Option<String>,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Remove the pull mirror (--pull) or the push mirror to a URL (--push URL).
    #[command(group(clap::ArgGroup::new("direction").required(true).args(["pull", "push"])))]
    Remove {
        /// The repository.
        repository: String,
        /// Remove the pull mirror.
        #[arg(long)]
        pull: bool,
        /// Remove the push mirror to this URL.
        #[arg(long, value_name = "URL")]
        push: Option<String>,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Pull now and print how it went (exits 1 when the pull failed).
    Sync {
        /// The repository.
        repository: String,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Print a repository's mirrors and the outcome of their last pull and pushes as JSON.
    List {
        /// The repository.
        repository: String,
        #[command(flatten)]
        state: StateArgs,
    },
}

/// `slipway mirror add|remove|sync|list`.
pub(crate) fn mirror(command: MirrorCommand) -> ExitCode {
    fn print_json(value: &serde_json::Value) {
        println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
    }
    runtime().block_on(async move {
        let state = match &command {
            MirrorCommand::Add { state, .. }
            | MirrorCommand::Remove { state, .. }
            | MirrorCommand::Sync { state, .. }
            | MirrorCommand::List { state, .. } => state.config(),
        };
        let server = match Server::open(&state).await {
            Ok(server) => server,
            Err(err) => return fail(err),
        };
        let result = match command {
            MirrorCommand::Add { repository, pull, push, interval, credentials, .. } => {
                let credentials = credentials.as_deref();
                let added = match (pull, push) {
                    (Some(url), _) => {
                        server.add_pull_mirror(&repository, &url, interval, credentials).await
                    }
                    (None, Some(url)) => {
                        server.add_push_mirror(&repository, &url, credentials).await
                    }
                    (None, None) => return invalid("give --pull URL or --push URL"),
                };
                added.map(|mirrors| print_json(&mirrors))
            }
            MirrorCommand::Remove { repository, pull, push, .. } => {
                let (removed, what) = match push {
                    Some(url) if !pull => {
                        let removed = server.remove_push_mirror(&repository, &url).await;
                        (removed, format!("the push mirror to {url}"))
                    }
                    _ => {
                        (server.remove_pull_mirror(&repository).await, "the pull mirror".to_owned())
                    }
                };
                match removed {
                    Ok(true) => {
                        println!("Removed {what} of {repository}");
                        Ok(())
                    }
                    Ok(false) => return invalid(format!("{repository} has no {what}")),
                    Err(err) => Err(err),
                }
            }
            MirrorCommand::Sync { repository, .. } => match server.sync_mirror(&repository).await {
                Ok(outcome) => {
                    print_json(&outcome);
                    if outcome["ok"] != true {
                        return ExitCode::from(EXIT_FAILED);
                    }
                    Ok(())
                }
                Err(err) => Err(err),
            },
            MirrorCommand::List { repository, .. } => {
                server.mirrors(&repository).await.map(|mirrors| print_json(&mirrors))
            }
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(server::MirrorError::Store(err)) => fail(err),
            Err(err) => invalid(err),
        }
    })
}
