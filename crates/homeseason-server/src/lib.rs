//! # homeseason-server
//!
//! The upload service for the statistics liaisons of the 37 regions: a JSON API and a small web page,
//! served by the `homeseason` binary (`homeseason serve`). It is only HTTP: files become lake rows in
//! `homeseason-pipeline` (the same path as `homeseason ingest`), and the client that talks to it
//! (`homeseason upload`, `homeseason pull`) with the wire types both share lives in
//! `homeseason-client`.
//!
//! ## How an upload goes
//! 1. **Who**: the `Authorization: Bearer hs_…` token is checked against [`tokens::TokenStore`]
//!    (hashes only; revocation is immediate). Each token is scoped to regions and feeds, or is an
//!    administrator's.
//! 2. **Store first**: the file is streamed to [`raw::RawStore`] as `raw/<sha256>`, immutable, with a
//!    size ceiling and read timeouts; its name is checked ([`names`]) but never used as a path; its
//!    type is checked by extension *and* content ([`sniff`]).
//! 3. **Same path as the CLI**: [`homeseason_pipeline::prepare`] validates the bytes (transaction files against the
//!    lake's txn-id index, as on the command line); for a
//!    liaison, any accepted row of another region refuses the whole file, as does a commit that would
//!    replace a partition holding another region's rows; then [`homeseason_pipeline::commit_prepared`] commits to the
//!    lake. Content already ingested is recognised by its hash and not ingested again.
//! 4. **Answer**: the validation report (accepted, rejected with line/column/reason in Chinese and
//!    English, duplicates, what was replaced) is returned, or `202` with a status URL when it takes
//!    longer than [`Config::sync_wait`]. Every attempt lands in the [`audit::AuditLog`].
//!
//! The router is built by [`app`] and can be tested without a socket (`tower::ServiceExt::oneshot`);
//! [`serve`] runs it on a listener. The API is described by the embedded OpenAPI document
//! ([`OPENAPI_JSON`], served at `/api/openapi.json`); the page ([`INDEX_HTML`], at `/`) needs no build
//! step.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use homeseason_server::{AppState, Config, app};
//! let state = AppState::open(Config::new("homeseason-data"))?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8023").await?;
//! axum::serve(listener, app(state)).await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod audit;
mod error;
mod fsutil;
#[doc(hidden)]
pub mod fuzzing;
mod head_timeout;
pub mod raw;
pub mod registry;
mod routes;
pub mod sniff;
pub mod tokens;
mod upload;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use homeseason_lake::Lake;
use homeseason_schema::campaign::Campaign;

pub use error::{AppError, Result, ServerError};
pub use homeseason_client::names;
pub use routes::{ROUTES, app};

/// The web page, embedded.
pub const INDEX_HTML: &str = include_str!("../assets/index.html");
/// The OpenAPI 3.1 description of the API, embedded.
pub const OPENAPI_JSON: &str = include_str!("../assets/openapi.json");

/// Settings of a server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Data folder: `lake/`, `raw/`, `tokens.json`, `audit.jsonl`, `uploads.jsonl`, `report/`.
    pub data_dir: PathBuf,
    /// Largest upload accepted, in bytes.
    pub max_upload_bytes: u64,
    /// Largest size a gzip upload may inflate to, in bytes.
    pub max_inflated_bytes: u64,
    /// Longest time to receive a whole upload.
    pub upload_timeout: Duration,
    /// Longest wait for the next chunk of an upload.
    pub idle_timeout: Duration,
    /// Longest time a connection may take to send a request's line and headers, counted from its
    /// opening and from the server's last response (so an idle keep-alive connection is closed too).
    pub header_read_timeout: Duration,
    /// How long an upload request waits for validation before answering `202` with a status URL.
    pub sync_wait: Duration,
    /// Files validated at the same time (each holds its bytes and frames in memory).
    pub ingest_parallelism: usize,
    /// The campaign the feeds are validated against.
    pub campaign: Campaign,
    /// The institution profiles payment files are read under (as `homeseason ingest --profiles`).
    pub profiles: homeseason_pipeline::Profiles,
    /// How uploads settle a row whose key the lake already holds with different values (as
    /// `homeseason ingest --on-conflict`); both rows go to rejects either way.
    pub on_conflict: homeseason_lake::ConflictPolicy,
}

impl Config {
    /// Defaults under `data_dir`: 64 MB uploads, 1 GB inflated, 10-minute upload timeout, 60-second idle
    /// timeout, 30-second request-head timeout, 30-second synchronous wait, one validation per core, the 2023 campaign.
    #[must_use]
    pub fn new(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            data_dir: data_dir.into(),
            max_upload_bytes: 64 * 1_000_000,
            max_inflated_bytes: 1_000_000_000,
            upload_timeout: Duration::from_mins(10),
            idle_timeout: Duration::from_mins(1),
            header_read_timeout: Duration::from_secs(30),
            sync_wait: Duration::from_secs(30),
            ingest_parallelism: std::thread::available_parallelism().map_or(2, usize::from),
            campaign: Campaign::default_2023(),
            profiles: homeseason_pipeline::Profiles::default(),
            on_conflict: homeseason_lake::ConflictPolicy::default(),
        }
    }

    /// The lake folder.
    #[must_use]
    pub fn lake_dir(&self) -> PathBuf {
        self.data_dir.join("lake")
    }

    /// The token store file.
    #[must_use]
    pub fn tokens_path(&self) -> PathBuf {
        self.data_dir.join("tokens.json")
    }

    /// The audit log file.
    #[must_use]
    pub fn audit_path(&self) -> PathBuf {
        self.data_dir.join("audit.jsonl")
    }

    /// The folder of the latest report (`homeseason report --out <data>/report`).
    #[must_use]
    pub fn report_dir(&self) -> PathBuf {
        self.data_dir.join("report")
    }
}

/// A clock, injected so tests can fix "now".
pub type Clock = Arc<dyn Fn() -> chrono::DateTime<chrono::Utc> + Send + Sync>;

/// Everything the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    lake: Lake,
    tokens: tokens::TokenStore,
    audit: audit::AuditLog,
    raw: raw::RawStore,
    registry: registry::Registry,
    /// Serialises scope checks and commits.
    commit_lock: tokio::sync::Mutex<()>,
    /// Bounds validations running at once.
    ingest_permits: tokio::sync::Semaphore,
    /// One lock per content hash being processed, so the same file sent twice at once is ingested once.
    inflight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    clock: Clock,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Open (creating) the data folder with the system clock.
    ///
    /// # Errors
    /// When the folders cannot be created or the registry cannot be read.
    pub fn open(config: Config) -> Result<AppState> {
        Self::with_clock(config, Arc::new(chrono::Utc::now))
    }

    /// Open with a given clock.
    ///
    /// # Errors
    /// As [`AppState::open`].
    pub fn with_clock(config: Config, clock: Clock) -> Result<AppState> {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(error::io_err("create", &config.data_dir))?;
        // Tokens, raw uploads, the lake: readable by the server's user only.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&config.data_dir, std::fs::Permissions::from_mode(0o700))
                .map_err(error::io_err("restrict", &config.data_dir))?;
        }
        let lake = Lake::open(config.lake_dir())?.with_conflict_policy(config.on_conflict);
        let raw = raw::RawStore::new(config.data_dir.join("raw"));
        // Partial files of uploads cut short by a stop: never content, safe to drop at start.
        let _ = std::fs::remove_dir_all(config.data_dir.join("raw").join(".partial"));
        let registry = registry::Registry::open(config.data_dir.join("uploads.jsonl"))?;
        Ok(AppState {
            inner: Arc::new(Inner {
                tokens: tokens::TokenStore::new(config.tokens_path()),
                audit: audit::AuditLog::new(config.audit_path()),
                ingest_permits: tokio::sync::Semaphore::new(config.ingest_parallelism.max(1)),
                config,
                lake,
                raw,
                registry,
                commit_lock: tokio::sync::Mutex::new(()),
                inflight: Mutex::new(HashMap::new()),
                clock,
            }),
        })
    }

    /// Settings.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The lake.
    #[must_use]
    pub fn lake(&self) -> &Lake {
        &self.inner.lake
    }

    /// The token store.
    #[must_use]
    pub fn tokens(&self) -> &tokens::TokenStore {
        &self.inner.tokens
    }

    /// The audit log.
    #[must_use]
    pub fn audit(&self) -> &audit::AuditLog {
        &self.inner.audit
    }

    /// The raw store.
    #[must_use]
    pub fn raw(&self) -> &raw::RawStore {
        &self.inner.raw
    }

    /// The upload registry.
    #[must_use]
    pub fn registry(&self) -> &registry::Registry {
        &self.inner.registry
    }

    /// Now, RFC 3339 to the second.
    #[must_use]
    pub fn now(&self) -> String {
        (self.inner.clock)().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }

    /// The data folder.
    #[must_use]
    pub fn data_dir(&self) -> &Path {
        &self.inner.config.data_dir
    }

    fn inflight_lock(&self, sha256: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self
            .inner
            .inflight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.retain(|_, m| Arc::strong_count(m) > 1);
        map.entry(sha256.to_owned()).or_default().clone()
    }
}

/// Serve `app(state)` on a listener until `shutdown` resolves. Every connection must send each
/// request's line and headers within [`Config::header_read_timeout`] (see `head_timeout.rs`).
///
/// # Errors
/// When the server fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limit = state.config().header_read_timeout;
    let listener = head_timeout::HeadTimeoutListener::new(listener, limit);
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}
