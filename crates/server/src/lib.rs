//! The Slipway server: the HTTP surfaces over the engine's state.
//!
//! Today: `/healthz`; the AWS JSON 1.1 API (SigV4-signed `POST /`) with CodeBuild projects,
//! builds and reports, and the SSM and Secrets Manager calls that hold build secrets; the
//! agent API (`/agent/v1/…`) agents pull builds from; build logs (`/v1/builds/<id>/log`); git
//! hosting (`/v1/repos/<name>`); the web console (`/console/`); and the audit trail of all of
//! them, which CloudTrail's `LookupEvents` and the console's audit page read ([`audit`]).
//!
//! [`Server::open`] prepares everything a server needs from its configuration (the store and
//! its migrations, the blob store, the installation's key, the first user); [`Server::serve`]
//! answers requests on a listener until the shutdown future completes. [`app`] is the router,
//! for tests that want no socket.
//!
//! **Invariant:** the server never runs user code; agents do.

mod agent_api;
mod audit;
mod auth;
mod aws;
mod base64_codec;
mod codebuild_buckets;
mod codebuild_repositories;
mod console;
mod error;
mod git;
mod logs;
mod loop_lease;
mod loops;
mod request_limits;
mod ssh;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{get, post, put};
use axum::serve::ListenerExt as _;
use engine::blob::BlobStore;
use engine::store::Store;
use iam::{crypto, identity, secrets_store};

pub use codecommit::mirrors::MirrorError;
use codecommit::{mirrors, protection};
pub use identity::{Credentials, IdentityError, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH};
pub use ssh::SshServer;

use crate::crypto::SecretBox;
use crate::identity::Identity;
use crate::secrets_store::SecretsStore;
use engine::kinds::INSTALLATION;

/// The account id in every ARN: one installation is one account.
pub const ACCOUNT_ID: &str = "000000000000";

/// How many days the audit trail keeps its events unless told otherwise: 90, as CloudTrail's
/// event history.
pub const AUDIT_RETENTION_DAYS: u32 = cloudtrail::retention::DEFAULT_RETENTION_DAYS;

/// What a server is started with (`slipway server`'s options).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// State and blobs live here unless `database_url` and `blob_url` say otherwise.
    pub data_dir: PathBuf,
    /// `sqlite:…` or `postgres://…`; default: SQLite in the data directory.
    pub database_url: Option<String>,
    /// `s3://bucket/prefix?endpoint=…` or a directory; default: `blobs/` in the data directory.
    pub blob_url: Option<String>,
    /// The region in ARNs and the one clients should sign for.
    pub region: String,
    /// The installation's key; default: `master.key` in the data directory. Every replica of
    /// one installation is given the same key.
    pub master_key_file: Option<PathBuf>,
    /// Create the installation when there is none (`slipway server`); administration commands
    /// refuse instead, naming the data directory they looked in.
    pub create: bool,
    /// How many days the audit trail keeps its events (`--audit-retention-days`).
    pub audit_retention_days: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("database: {0}")]
    Store(#[from] engine::store::StoreError),
    #[error("blob store: {0}")]
    Blob(#[from] engine::blob::BlobError),
    #[error("{0}")]
    Crypto(String),
    #[error("{0}")]
    NoInstallation(String),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Protection(#[from] protection::ProtectionError),
    /// An IAM operation refused (`slipway user attach-policy`): its code and message.
    #[error("{code}: {message}")]
    Iam { code: String, message: String },
    /// The audit trail's upgrade failed (`cloudtrail::retention::chunk_single_events`).
    #[error("audit trail: {0}")]
    AuditTrail(String),
    #[error("serving HTTP: {0}")]
    Serve(std::io::Error),
}

/// Everything the request handlers share: one allocation, so that handing it to a request
/// (axum's `State` clones it for each) is one reference count, not a copy of every handle.
#[derive(Clone)]
pub(crate) struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] holds.
pub(crate) struct Shared {
    pub(crate) store: Store,
    pub(crate) blobs: BlobStore,
    pub(crate) identity: Identity,
    pub(crate) secrets_store: SecretsStore,
    pub(crate) region: String,
    pub(crate) account: String,
    pub(crate) data_dir: PathBuf,
    /// Woken when a job is enqueued, so that waiting lease requests look at once.
    pub(crate) jobs: Arc<tokio::sync::Notify>,
    /// Woken when a build's log or state changes, for live tails.
    pub(crate) logs: Arc<tokio::sync::Notify>,
    /// Woken when a push records reference events, for whatever reacts to pushes.
    pub(crate) ref_events: Arc<tokio::sync::Notify>,
    /// Set when the server shuts down, so that long polls answer at once.
    pub(crate) stopping: Arc<std::sync::atomic::AtomicBool>,
    /// Failed console sign-ins per user name, to slow down guessing.
    pub(crate) sign_ins: Arc<console::Throttle>,
    /// This process among the installation's replicas, for the background loops' leases.
    pub(crate) replica: String,
    /// Which background loops run, for `/healthz`.
    pub(crate) loops: loops::LoopHealth,
    /// The audit trail's recorder: requests hand it their CloudTrail events.
    pub(crate) audit: cloudtrail::recorder::Recorder,
    /// The loop that writes the recorder's events to the store (the `audit-flush` loop).
    audit_flusher: cloudtrail::recorder::Flusher,
    /// How many days the audit trail keeps its events.
    audit_retention_days: u32,
    /// The services' contexts over this state, made once (`AppState::codebuild`,
    /// `AppState::codecommit`).
    codecommit_context: codecommit::Context,
    codebuild_context: codebuild::Context,
}

impl AppState {
    /// The CodeBuild service's context over this state (its hosted repositories are this
    /// server's).
    pub(crate) fn codebuild(&self) -> &codebuild::Context {
        &self.codebuild_context
    }

    /// What the S3 API's functions work over: the store, the blob store and the region.
    pub(crate) fn s3(&self) -> s3::Context {
        s3::Context {
            store: self.store.clone(),
            blobs: self.blobs.clone(),
            region: self.region.clone(),
        }
    }

    /// What CodeCommit's functions work over, from this state.
    pub(crate) fn codecommit(&self) -> &codecommit::Context {
        &self.codecommit_context
    }

    /// Whether this replica runs the background loop `name` now (see [`loop_lease`]); a store
    /// error counts as no.
    pub(crate) async fn runs_loop(&self, name: &str) -> bool {
        match loop_lease::hold(&self.store, name, &self.replica, engine::clock::now_ms()).await {
            Ok(held) => held,
            Err(err) => {
                tracing::error!(%err, loop = name, "claiming a background loop");
                false
            }
        }
    }
}

/// A server ready to serve.
pub struct Server {
    state: AppState,
    /// The admin's credentials when this start created them (the first start).
    pub created_admin: Option<Credentials>,
    /// Where the admin's credentials file is.
    pub admin_credentials_file: PathBuf,
}

impl Server {
    /// Opens (or creates) the server's state as `config` says.
    pub async fn open(config: &ServerConfig) -> Result<Server, ServerError> {
        let data_dir = &config.data_dir;
        if !config.create {
            no_installation_here(config)?;
        }
        std::fs::create_dir_all(data_dir).map_err(|source| ServerError::DataDir {
            path: data_dir.display().to_string(),
            source,
        })?;
        let data_dir_error =
            |source| ServerError::DataDir { path: data_dir.display().to_string(), source };
        // Only the server's user may look inside: it holds the key, the admin's credentials
        // and the database.
        make_private(data_dir, 0o700).map_err(data_dir_error)?;
        let database_url = match &config.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite:{}", data_dir.join("slipway.db").display()),
        };
        let store = Store::connect(&database_url).await?;
        for file in PRIVATE_FILES {
            let path = data_dir.join(file);
            if path.exists() {
                make_private(&path, 0o600).map_err(data_dir_error)?;
            }
        }
        let blobs = match &config.blob_url {
            Some(url) => BlobStore::from_url(url)?,
            None => BlobStore::local(&data_dir.join("blobs"))?,
        };
        let secrets = open_installation_key(&store, config).await?;
        let identity = Identity::new(store.clone(), secrets.clone(), ACCOUNT_ID);
        let secrets_store = SecretsStore::new(store.clone(), secrets.clone());
        let created_admin = identity.bootstrap(engine::clock::now_ms()).await?;
        // Users made before policies were enforced keep what they could do, once.
        let granted = identity
            .grant_existing_users_administrator_access(KEY_FINGERPRINT, engine::clock::now_ms())
            .await?;
        if let Some(users) = granted.filter(|it| !it.is_empty()) {
            tracing::warn!(
                users = %users.join(", "),
                "IAM policies are now enforced: the users that existed were given \
                 AdministratorAccess (once), so they keep what they could do; detach it \
                 (aws iam detach-user-policy) from those who should have less"
            );
        }
        let admin_credentials_file = data_dir.join("admin-credentials");
        if let Some(credentials) = &created_admin {
            let console_password = generate_password();
            identity.set_password(&credentials.user, &console_password).await?;
            let file = identity::credentials_file(credentials, &console_password);
            write_private(&admin_credentials_file, &file).map_err(|source| {
                ServerError::DataDir { path: admin_credentials_file.display().to_string(), source }
            })?;
        }
        let region = config.region.clone();
        let account = ACCOUNT_ID.to_owned();
        let ref_events = Arc::new(tokio::sync::Notify::new());
        let jobs = Arc::new(tokio::sync::Notify::new());
        let logs = Arc::new(tokio::sync::Notify::new());
        let (audit, audit_flusher) =
            cloudtrail::recorder::Recorder::new(store.clone(), cloudtrail::recorder::BUFFER);
        let codecommit_context = codecommit::Context {
            store: store.clone(),
            repos_dir: data_dir.join("repos"),
            region: region.clone(),
            account: account.clone(),
            sealer: secrets,
            secrets_store: secrets_store.clone(),
            ref_events: ref_events.clone(),
            ssh_port: Arc::default(),
        };
        // Branch protection rules stored before they were policy become the policy, once.
        let converted = protection::convert_rules_to_policy(&codecommit_context, KEY_FINGERPRINT)
            .await
            .map_err(|err| ServerError::Iam { code: err.code, message: err.message })?;
        if converted {
            tracing::info!(
                "branch protection is now the account-level policy {}",
                iam::policies::branch_protection_policy_arn(&account)
            );
        }
        // Audit events stored one a document, before chunks, become chunks, once.
        let moved = cloudtrail::retention::chunk_single_events(&store)
            .await
            .map_err(|err| ServerError::AuditTrail(err.message))?;
        if moved > 0 {
            tracing::info!(events = moved, "the audit trail's events are now kept in chunks");
        }
        let codebuild_context = codebuild::Context {
            store: store.clone(),
            blobs: blobs.clone(),
            secrets: secrets_store.clone(),
            identity: identity.clone(),
            region: region.clone(),
            account: account.clone(),
            temp_dir: data_dir.join("tmp"),
            repositories: Arc::new(codebuild_repositories::HostedRepositories {
                codecommit: codecommit_context.clone(),
            }),
            buckets: Arc::new(codebuild_buckets::ServedBuckets {
                s3: s3::Context {
                    store: store.clone(),
                    blobs: blobs.clone(),
                    region: region.clone(),
                },
            }),
            jobs: jobs.clone(),
            logs: logs.clone(),
        };
        let state = AppState(Arc::new(Shared {
            store,
            blobs,
            identity,
            secrets_store,
            region,
            account,
            data_dir: data_dir.clone(),
            jobs,
            logs,
            ref_events,
            stopping: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            sign_ins: Arc::new(console::Throttle::default()),
            replica: crate::crypto::random_string(16, b"abcdefghijklmnopqrstuvwxyz0123456789"),
            loops: loops::LoopHealth::default(),
            audit,
            audit_flusher,
            audit_retention_days: config.audit_retention_days,
            codecommit_context,
            codebuild_context,
        }));
        Ok(Server { state, created_admin, admin_credentials_file })
    }

    /// Serves requests on `listener` until `shutdown` completes, then finishes the requests
    /// in flight.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        // The background components, each restarted if it panics: builds whose agent is gone
        // or that waited in the queue too long end; triggers, webhooks and mirrors react to
        // pushes.
        let mut loops = loops::Loops::new(self.state.loops.clone(), loops::RESTART_AFTER);
        let state = self.state.clone();
        loops.start("expiry", move || expire_forever(state.clone()));
        let state = self.state.clone();
        loops.start("triggers", move || {
            let lease = state.clone();
            with_loop_lease(lease, "triggers", codecommit::triggers::deliver_forever)
        });
        let state = self.state.clone();
        loops.start("webhooks", move || start_builds_forever(state.clone()));
        let state = self.state.clone();
        loops.start("mirrors", move || {
            let lease = state.clone();
            with_loop_lease(lease, "mirrors", codecommit::mirrors::run_forever)
        });
        // Every replica writes the audit events it recorded; one deletes the old ones.
        let flusher = self.state.audit_flusher.clone();
        loops.start("audit-flush", move || flusher.clone().run());
        let state = self.state.clone();
        loops.start("audit-retention", move || expire_audit_events_forever(state.clone()));
        let state = self.state.clone();
        loops.start("sts-sessions", move || expire_sessions_forever(state.clone()));
        // Long polls (agents waiting for work) end as soon as the shutdown starts, so that the
        // graceful shutdown does not wait for them.
        let (stopping, jobs) = (self.state.stopping.clone(), self.state.jobs.clone());
        let shutdown = async move {
            shutdown.await;
            stopping.store(true, std::sync::atomic::Ordering::SeqCst);
            jobs.notify_waiters();
        };
        // Without TCP_NODELAY a streamed response's last small write (the end of a chunked
        // body, as every git RPC answer has) waits for the client's delayed ACK: 40 ms a request.
        let listener = listener.tap_io(|stream| {
            if let Err(err) = stream.set_nodelay(true) {
                tracing::debug!(%err, "setting TCP_NODELAY on a connection");
            }
        });
        let served = axum::serve(listener, make_service(self.state))
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(ServerError::Serve);
        loops.stop();
        served
    }

    /// Git over SSH on `listener` (`slipway server --ssh-listen`), with the host key in the
    /// data directory (made on the first start); run it with [`SshServer::run`].
    pub fn ssh(&self, listener: tokio::net::TcpListener) -> Result<SshServer, ServerError> {
        SshServer::new(self.state.clone(), listener)
    }

    /// The HMAC secret a repository trigger signs its deliveries with (`X-Slipway-Signature`),
    /// for its receiver to verify them; `None` when no such trigger was ever put.
    pub async fn trigger_secret(
        &self,
        repository: &str,
        trigger: &str,
    ) -> Result<Option<String>, ServerError> {
        use codecommit::triggers::SecretError;
        codecommit::triggers::secret(self.state.codecommit(), repository, trigger).await.map_err(
            |err| match err {
                SecretError::Store(err) => ServerError::Store(err),
                SecretError::Crypto(message) => ServerError::Crypto(message),
            },
        )
    }

    /// Creates an agent token (`slipway agent-token create`, and the embedded agent's).
    pub async fn create_agent_token(&self, name: &str) -> Result<String, ServerError> {
        Ok(agent_api::create_token(&self.state, name).await?)
    }

    /// Creates HTTPS git credentials for a user (`slipway git-credentials create`): the git user
    /// name and password, shown this once.
    pub async fn create_git_credentials(
        &self,
        user: &str,
    ) -> Result<(String, String), ServerError> {
        let now = engine::clock::now_ms();
        self.state.identity.create_git_credentials(user, now).await.map_err(git_credentials_error)
    }

    /// Revokes HTTPS git credentials by their git user name (`slipway git-credentials revoke`).
    pub async fn revoke_git_credentials(&self, git_user: &str) -> Result<(), ServerError> {
        self.state.identity.revoke_git_credentials(git_user).await.map_err(git_credentials_error)
    }

    /// Sets a parameter for `env.parameter-store` (`slipway parameter put`).
    pub async fn put_parameter(&self, name: &str, value: &str) -> Result<(), ServerError> {
        self.state.secrets_store.put_parameter(name, value, true).await?;
        Ok(())
    }

    /// Sets a secret for `env.secrets-manager` (`slipway secret put`).
    pub async fn put_secret(&self, name: &str, value: &str) -> Result<(), ServerError> {
        self.state.secrets_store.put_secret(name, value, true).await?;
        Ok(())
    }

    /// Creates a user (`slipway user create`).
    pub async fn create_user(&self, name: &str) -> Result<(), IdentityError> {
        self.state.identity.create_user(name, engine::clock::now_ms()).await
    }

    /// Attaches a managed policy (an ARN, or a name: AWS's or this account's) to a user
    /// (`slipway user attach-policy`); the policy's ARN.
    pub async fn attach_user_policy(
        &self,
        user: &str,
        policy: &str,
    ) -> Result<String, ServerError> {
        self.state
            .identity
            .attach_policy_to_user(user, policy)
            .await
            .map_err(|err| ServerError::Iam { code: err.code, message: err.message })
    }

    /// Sets a user's console password (`slipway user set-password`).
    pub async fn set_console_password(
        &self,
        user: &str,
        password: &str,
    ) -> Result<(), IdentityError> {
        self.state.identity.set_password(user, password).await
    }

    /// Creates an access key for a user (`slipway access-key create`).
    pub async fn create_access_key(&self, user: &str) -> Result<Credentials, IdentityError> {
        self.state.identity.create_access_key(user, engine::clock::now_ms()).await
    }

    /// Deactivates an access key for good (`slipway access-key revoke`).
    pub async fn revoke_access_key(&self, access_key_id: &str) -> Result<(), IdentityError> {
        self.state.identity.revoke_access_key(access_key_id).await
    }

    /// Protects the branches `branch` (a name or a glob such as `release/*`) matches in the
    /// repository `repo` (`slipway branch-protection set`): each list names the only users
    /// who may push, force-push or delete, `None` lets anyone. Replaces the rule for the
    /// same `branch`, and rewrites the account-level branch protection policy in the same
    /// transaction; returns the repository's rules as JSON.
    pub async fn set_branch_protection(
        &self,
        repo: &str,
        branch: &str,
        push: Option<Vec<String>>,
        force_push: Option<Vec<String>>,
        delete: Option<Vec<String>>,
    ) -> Result<serde_json::Value, ServerError> {
        let rule = protection::BranchRule { branch: branch.to_owned(), push, force_push, delete };
        let rules = protection::set_rule(self.state.codecommit(), repo, rule).await?;
        Ok(serde_json::json!({ "rules": rules }))
    }

    /// Removes the rule for `branch` from the repository `repo` (`slipway branch-protection
    /// remove`); `false` when there was none.
    pub async fn remove_branch_protection(
        &self,
        repo: &str,
        branch: &str,
    ) -> Result<bool, ServerError> {
        Ok(protection::remove_rule(self.state.codecommit(), repo, branch).await?)
    }

    /// The statements of the account-level branch protection policy that protect the
    /// repository `repo` (`slipway branch-protection show`), as JSON (`{"policyArn": …,
    /// "statements": […]}`).
    pub async fn branch_protection_statements(
        &self,
        repo: &str,
    ) -> Result<serde_json::Value, ServerError> {
        let statements = protection::shown_statements(self.state.codecommit(), repo)
            .await
            .map_err(|err| ServerError::Iam { code: err.code, message: err.message })?;
        let arn = iam::policies::branch_protection_policy_arn(&self.state.account);
        Ok(serde_json::json!({ "policyArn": arn, "statements": statements }))
    }

    /// The branch protection rules of the repository `repo` as JSON (`{"rules": […]}`).
    pub async fn branch_protection(&self, repo: &str) -> Result<serde_json::Value, ServerError> {
        let rules = protection::list_rules(self.state.codecommit(), repo).await?;
        Ok(serde_json::json!({ "rules": rules }))
    }

    /// Makes the repository `repo` pull-mirror `url` every `interval_seconds` (`slipway mirror
    /// add --pull`), with the credentials in the secret `credentials_secret`; replaces any
    /// pull mirror. Returns the repository's mirrors as JSON.
    pub async fn add_pull_mirror(
        &self,
        repo: &str,
        url: &str,
        interval_seconds: u64,
        credentials_secret: Option<&str>,
    ) -> Result<serde_json::Value, MirrorError> {
        mirrors::add_pull(self.state.codecommit(), repo, url, interval_seconds, credentials_secret)
            .await
    }

    /// Makes the repository `repo` push-mirror itself to `url` after every change (`slipway
    /// mirror add --push`). Returns the repository's mirrors as JSON.
    pub async fn add_push_mirror(
        &self,
        repo: &str,
        url: &str,
        credentials_secret: Option<&str>,
    ) -> Result<serde_json::Value, MirrorError> {
        mirrors::add_push(self.state.codecommit(), repo, url, credentials_secret).await
    }

    /// Removes the pull mirror of `repo`; `false` when there was none.
    pub async fn remove_pull_mirror(&self, repo: &str) -> Result<bool, MirrorError> {
        mirrors::remove_pull(self.state.codecommit(), repo).await
    }

    /// Removes the push mirror of `repo` to `url`; `false` when there was none.
    pub async fn remove_push_mirror(&self, repo: &str, url: &str) -> Result<bool, MirrorError> {
        mirrors::remove_push(self.state.codecommit(), repo, url).await
    }

    /// Runs the pull mirror of `repo` now (`slipway mirror sync`); returns its outcome as JSON
    /// (`{"timeMs", "ok", "message"}`).
    pub async fn sync_mirror(&self, repo: &str) -> Result<serde_json::Value, MirrorError> {
        mirrors::sync(self.state.codecommit(), repo).await
    }

    /// The mirrors of `repo` and their status as JSON (`slipway mirror list`).
    pub async fn mirrors(&self, repo: &str) -> Result<serde_json::Value, MirrorError> {
        mirrors::list(self.state.codecommit(), repo).await
    }
}

/// The router: `/healthz` without credentials; the AWS API signed with SigV4; the agent API
/// with agent tokens; logs with an access key as HTTP Basic credentials.
fn app(state: AppState) -> Router {
    // The agent API's JSON calls have a limit of their own; its uploads stream to disk and
    // have none. The git routes stream their bodies to git.
    let agent_calls = Router::new()
        .route("/agent/v1/register", post(agent_api::register))
        .route("/agent/v1/lease", post(agent_api::lease))
        .route("/agent/v1/jobs/{job}/events", post(agent_api::events))
        .route("/agent/v1/jobs/{job}/heartbeat", post(agent_api::heartbeat))
        .route("/agent/v1/jobs/{job}/finish", post(agent_api::finish))
        .route("/agent/v1/jobs/{job}/source", get(agent_api::download_source))
        .route("/agent/v1/jobs/{job}/cache", get(agent_api::list_cache))
        .route("/agent/v1/jobs/{job}/cache/{file}", get(agent_api::download_cache))
        .layer(DefaultBodyLimit::max(agent_api::BODY_LIMIT));
    let agent_uploads = Router::new()
        .route("/agent/v1/jobs/{job}/artifacts/{file}", put(agent_api::upload_artifact))
        .route(
            "/agent/v1/jobs/{job}/artifacts/{file}/{name}",
            put(agent_api::upload_named_artifact),
        )
        .route("/agent/v1/jobs/{job}/reports/{index}", put(agent_api::upload_report))
        .route("/agent/v1/jobs/{job}/cache/{file}", put(agent_api::upload_cache))
        .layer(DefaultBodyLimit::disable());
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route(
            "/",
            get(console::home).post(
                post(aws::handle)
                    .layer(axum::extract::DefaultBodyLimit::max(request_limits::MAX_BODY))
                    .layer(axum::middleware::from_fn(request_limits::aws_request)),
            ),
        )
        .merge(agent_calls)
        .merge(agent_uploads)
        .route("/v1/builds/{id}/log", get(logs::download))
        .route("/v1/builds/{id}/log/live", get(logs::live))
        .merge(git::routes())
        .merge(
            console::routes()
                .layer(axum::middleware::from_fn_with_state(state.clone(), audit::console_actions)),
        )
        .with_state(state.clone());
    edge_layers(router.layer(axum::middleware::from_fn_with_state(state, aws::s3::edge)))
}

/// The router as a service that gives each request its peer's address (the sign-in throttle
/// counts by it).
fn make_service(
    state: AppState,
) -> axum::extract::connect_info::IntoMakeServiceWithConnectInfo<Router, std::net::SocketAddr> {
    app(state).into_make_service_with_connect_info::<std::net::SocketAddr>()
}

/// What every request passes through first: a handler panic answers 500 (see
/// [`handler_panicked`]).
fn edge_layers(router: Router) -> Router {
    router.layer(tower_http::catch_panic::CatchPanicLayer::custom(handler_panicked))
}

/// A panic's message, for the log.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a panic without a message")
}

/// A handler that panicked answers 500 (its connection is not dropped), and the panic is
/// logged.
fn handler_panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    let detail = panic_message(&*panic);
    tracing::error!(%detail, "a request handler panicked");
    axum::response::IntoResponse::into_response((
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "Internal server error\n",
    ))
}

/// `ok` while every background loop runs; 503 naming the loops that are down otherwise.
async fn healthz(State(state): State<AppState>) -> axum::response::Response {
    let down = state.loops.down();
    if down.is_empty() {
        axum::response::IntoResponse::into_response("ok\n")
    } else {
        let body = format!("down: {}\n", down.join("; "));
        axum::response::IntoResponse::into_response((
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            body,
        ))
    }
}

/// Ends builds whose agent is gone or that waited in the queue too long, every 2 s, on the
/// replica that holds the loop's lease.
async fn expire_forever(state: AppState) {
    let ctx = state.codebuild();
    let mut interval = tokio::time::interval(Duration::from_secs(2));
    loop {
        interval.tick().await;
        if !state.runs_loop("expiry").await {
            continue;
        }
        let now = engine::clock::now_ms();
        if let Err(err) = codebuild::queue::expire_leases(ctx, now).await {
            tracing::error!(%err, "expiring leases");
        }
        if let Err(err) = codebuild::builds::expire_queued(ctx, now).await {
            tracing::error!(%err, "ending builds that waited too long in the queue");
        }
    }
}

/// Deletes the audit events older than the retention time, every 10 minutes, on the replica
/// that holds the loop's lease.
async fn expire_audit_events_forever(state: AppState) {
    let mut interval = tokio::time::interval(cloudtrail::retention::INTERVAL);
    loop {
        interval.tick().await;
        if !state.runs_loop("audit-retention").await {
            continue;
        }
        let now = engine::clock::now_ms();
        match cloudtrail::retention::expire(&state.store, now, state.audit_retention_days).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "audit trail: old events deleted"),
            Err(err) => {
                tracing::error!(code = %err.code, message = %err.message, "audit trail: deleting old events");
            }
        }
    }
}

/// Deletes the STS sessions that have ended, every minute, on the replica that holds the
/// loop's lease (they authorize nothing once ended; this keeps them from piling up).
async fn expire_sessions_forever(state: AppState) {
    let mut interval = tokio::time::interval(Duration::from_secs(60));
    loop {
        interval.tick().await;
        if !state.runs_loop("sts-sessions").await {
            continue;
        }
        let now = engine::clock::now_ms();
        match iam::sessions::expire_sessions(&state.store, now).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "STS: ended sessions deleted"),
            Err(err) => {
                tracing::error!(code = %err.code, message = %err.message, "STS: deleting ended sessions");
            }
        }
    }
}

/// Follows the reference events of every repository and starts the builds their webhooks ask
/// for (`codebuild::webhooks::start_builds`), on the replica that holds the loop's lease, when
/// a push wakes it and every 2 s. Runs until the server stops.
async fn start_builds_forever(state: AppState) {
    let ctx = state.codebuild();
    loop {
        let woken = state.ref_events.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        // One replica of the installation starts the builds of a push.
        if state.runs_loop("webhooks").await
            && let Err(err) = codebuild::webhooks::start_builds(ctx, engine::clock::now_ms()).await
        {
            tracing::error!(code = %err.code, message = %err.message, "webhooks: handling pushes");
        }
        tokio::select! {
            () = &mut woken => {}
            () = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}

/// A CodeCommit loop body (`codecommit::triggers::deliver_forever`,
/// `codecommit::mirrors::run_forever`) over `state`'s context, running its rounds while this
/// replica holds the loop's lease `name`.
fn with_loop_lease<Body, Loop>(state: AppState, name: &'static str, body: Body) -> Loop
where
    Body: FnOnce(codecommit::Context, Box<dyn Fn() -> LeaseCheck + Send + Sync>) -> Loop,
{
    let ctx = state.codecommit().clone();
    body(
        ctx,
        Box::new(move || {
            let state = state.clone();
            Box::pin(async move { state.runs_loop(name).await })
        }),
    )
}

/// Whether this replica holds a loop's lease, as a loop body awaits it.
type LeaseCheck = std::pin::Pin<Box<dyn Future<Output = bool> + Send>>;

/// A console password for people to copy: 20 letters and digits, without the ones that
/// look alike (about 117 bits).
pub fn generate_password() -> String {
    crate::crypto::random_string(20, b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789")
}

/// The configuration of a unit test's server: its data in `dir`'s `data`, SQLite and local
/// blobs, created on first open, the default audit retention.
#[cfg(test)]
pub(crate) fn test_config(dir: &std::path::Path, region: &str) -> ServerConfig {
    ServerConfig {
        data_dir: dir.join("data"),
        database_url: None,
        blob_url: None,
        region: region.to_owned(),
        master_key_file: None,
        create: true,
        audit_retention_days: cloudtrail::retention::DEFAULT_RETENTION_DAYS,
    }
}

/// A server's state on a fresh temporary directory (SQLite, local blobs), for unit tests; the
/// directory lives as long as the returned guard.
#[cfg(test)]
pub(crate) async fn test_state(region: &str) -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::open(&test_config(dir.path(), region)).await.unwrap();
    // The audit trail's events are written as a served server writes them.
    tokio::spawn(server.state.audit_flusher.clone().run());
    (server.state, dir)
}

/// Serves [`app`] for `state` on a loopback port as [`Server::serve`] does (with the peer's
/// address), for router-level unit tests; the endpoint is `http://127.0.0.1:<port>`.
#[cfg(test)]
pub(crate) async fn serve_for_test(state: AppState) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let serving = tokio::spawn(async move {
        axum::serve(listener, make_service(state)).await.unwrap();
    });
    (endpoint, serving)
}

/// An error of the git-credentials admin commands, with the messages they printed when the
/// server kept the credentials itself: the store's own (`database: git-credential "…" does not
/// exist`), and `no user …` for an unknown user.
fn git_credentials_error(err: IdentityError) -> ServerError {
    match err {
        IdentityError::Store(err) => ServerError::Store(err),
        IdentityError::NoSuchGitCredentials(key) => {
            ServerError::Store(engine::store::StoreError::NotFound {
                kind: engine::kinds::GIT_CREDENTIAL.to_owned(),
                key,
            })
        }
        other => ServerError::Identity(other),
    }
}

/// Refuses an administration command's configuration that names no existing installation,
/// rather than creating one nobody serves.
fn no_installation_here(config: &ServerConfig) -> Result<(), ServerError> {
    let data_dir =
        std::path::absolute(&config.data_dir).unwrap_or_else(|_| config.data_dir.clone());
    let mut looked_for = Vec::new();
    if config.database_url.is_none() {
        looked_for.push(data_dir.join("slipway.db"));
    }
    if config.master_key_file.is_none() {
        looked_for.push(data_dir.join("master.key"));
    }
    match looked_for.iter().find(|it| !it.exists()) {
        None => Ok(()),
        Some(missing) => Err(ServerError::NoInstallation(format!(
            "no Slipway installation in the data directory {} ({} does not exist). Run this \
             command where the server's slipway-data directory is, or point at it with \
             --data-dir DIR or SLIPWAY_DATA_DIR (and --database-url or SLIPWAY_DATABASE_URL \
             when the server keeps its state elsewhere). Only `slipway server` creates an \
             installation.",
            data_dir.display(),
            missing.display()
        ))),
    }
}

const KEY_FINGERPRINT: &str = "master-key";

/// Loads the installation's key and checks it against the fingerprint in the store; the
/// first start of an installation creates the key (unless it was given one) and records it.
async fn open_installation_key(
    store: &Store,
    config: &ServerConfig,
) -> Result<SecretBox, ServerError> {
    let (path, given) = match &config.master_key_file {
        Some(path) => (path.clone(), true),
        None => (config.data_dir.join("master.key"), false),
    };
    let crypto = |it: crypto::CryptoError| ServerError::Crypto(it.to_string());
    let recorded = store.get(INSTALLATION, KEY_FINGERPRINT).await?;
    let how = "Give every replica of an installation the key its first server created \
               (<data-dir>/master.key on that machine) with --master-key-file FILE or \
               SLIPWAY_MASTER_KEY_FILE.";
    if recorded.is_some() && !given && !path.exists() {
        return Err(ServerError::Crypto(format!(
            "this database belongs to an installation whose key is not here ({} does not \
             exist). {how}",
            path.display()
        )));
    }
    let secrets = SecretBox::load_or_create(&path, config.create && !given).map_err(crypto)?;
    let fingerprint = secrets.fingerprint().to_owned();
    let recorded = match recorded {
        Some(document) => document,
        None => {
            let document = engine::store::Document {
                kind: INSTALLATION.to_owned(),
                key: KEY_FINGERPRINT.to_owned(),
                parent: None,
                sort: 0,
                version: 0,
                body: serde_json::json!({ "fingerprint": fingerprint }),
            };
            match store.apply(vec![engine::store::Write::Insert(document)]).await {
                Ok(()) => return Ok(secrets),
                // Another replica recorded its key first: ours must be the same.
                Err(engine::store::StoreError::AlreadyExists { .. }) => {
                    store.get(INSTALLATION, KEY_FINGERPRINT).await?.ok_or_else(|| {
                        ServerError::Crypto("the installation record vanished".to_owned())
                    })?
                }
                Err(err) => return Err(err.into()),
            }
        }
    };
    if recorded.body["fingerprint"] != fingerprint.as_str() {
        return Err(ServerError::Crypto(format!(
            "the key {} is not this installation's: the database was set up with another key. {how}",
            path.display()
        )));
    }
    Ok(secrets)
}

/// The files of the data directory only the server's user may read (mode 0600).
const PRIVATE_FILES: &[&str] = &[
    "master.key",
    "admin-credentials",
    ssh::HOST_KEY_FILE,
    "slipway.db",
    "slipway.db-wal",
    "slipway.db-shm",
    "slipway.db-journal",
];

/// Sets `path`'s permission bits to `mode`.
fn make_private(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Writes a file only its owner can read, replacing any previous one.
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let temp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&temp);
    let mut file =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temp)?;
    file.write_all(content.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temp, path)
}

#[cfg(test)]
mod state_snapshot;
#[cfg(test)]
mod tests;
