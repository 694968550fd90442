//! What every CodeCommit function works over: the server's state this service reads.

use std::path::PathBuf;
use std::sync::Arc;

use engine::store::Store;
use iam::crypto::SecretBox;
use iam::secrets_store::SecretsStore;

/// The store, the repositories' directory and the installation's identity, as the server
/// hands them to CodeCommit; cheap to clone (a loop or a spawned delivery takes its own).
#[derive(Clone)]
pub struct Context {
    pub store: Store,
    /// Where the bare repositories are: `<repos_dir>/<name>.git`.
    pub repos_dir: PathBuf,
    /// The region in ARNs.
    pub region: String,
    /// The account id in ARNs.
    pub account: String,
    /// Seals values kept at rest (repository triggers' HMAC secrets).
    pub sealer: SecretBox,
    /// Where mirrors' credentials secrets are resolved.
    pub secrets_store: SecretsStore,
    /// Woken when reference events are recorded, for whatever reacts to pushes.
    pub ref_events: Arc<tokio::sync::Notify>,
    /// The port git over SSH listens on, once it does (`cloneUrlSsh` names it).
    pub ssh_port: Arc<std::sync::OnceLock<u16>>,
}

impl Context {
    /// The bare git directory of the repository `name`.
    pub fn repo_path(&self, name: &str) -> PathBuf {
        self.repos_dir.join(format!("{name}.git"))
    }
}

/// A context on a fresh temporary directory (SQLite, a new key), for unit tests; the
/// directory lives as long as the returned guard.
#[cfg(test)]
pub(crate) async fn test_context(region: &str) -> (Context, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let store =
        Store::connect(&format!("sqlite:{}", data.join("slipway.db").display())).await.unwrap();
    let sealer = SecretBox::load_or_create(&data.join("master.key"), true).unwrap();
    let context = Context {
        secrets_store: SecretsStore::new(store.clone(), sealer.clone()),
        store,
        repos_dir: data.join("repos"),
        region: region.to_owned(),
        account: "000000000000".to_owned(),
        sealer,
        ref_events: Arc::new(tokio::sync::Notify::new()),
        ssh_port: Arc::default(),
    };
    (context, dir)
}
