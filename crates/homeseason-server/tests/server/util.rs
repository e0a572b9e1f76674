//! Helpers: a server state with three tokens, fixture files, multipart bodies, a loopback server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use homeseason_server::tokens::NewToken;
use homeseason_server::{AppState, Config, app};
use tower::ServiceExt;

/// A data folder with an administrator, a Zhejiang liaison and a Beijing liaison.
pub(crate) struct Fixture {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) state: AppState,
    pub(crate) admin: String,
    pub(crate) zhejiang: String,
    pub(crate) beijing: String,
}

pub(crate) fn config(dir: &std::path::Path) -> Config {
    let mut c = Config::new(dir.join("data"));
    c.max_upload_bytes = 1_000_000;
    c.max_inflated_bytes = 5_000_000;
    c.idle_timeout = Duration::from_secs(2);
    c.upload_timeout = Duration::from_secs(30);
    c.sync_wait = Duration::from_secs(30);
    c
}

impl Fixture {
    pub(crate) fn new() -> Fixture {
        Self::with(|_| {})
    }

    pub(crate) fn with(tune: impl FnOnce(&mut Config)) -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut c = config(dir.path());
        tune(&mut c);
        let clock: homeseason_server::Clock = Arc::new(chrono::Utc::now);
        let state = AppState::with_clock(c, clock).expect("state");
        let issue = |name: &str, regions: &[&str], admin: bool| {
            state
                .tokens()
                .issue(
                    &NewToken {
                        name: name.into(),
                        regions: regions.iter().map(|r| (*r).to_owned()).collect(),
                        feeds: Vec::new(),
                        admin,
                    },
                    "2023-09-01T00:00:00Z",
                )
                .expect("issue")
                .1
        };
        let admin = issue("管理员", &[], true);
        let zhejiang = issue("浙江 联络员", &["330000"], false);
        let beijing = issue("北京 联络员", &["110000"], false);
        Fixture {
            dir,
            state,
            admin,
            zhejiang,
            beijing,
        }
    }

    pub(crate) fn data(&self) -> std::path::PathBuf {
        self.state.data_dir().to_owned()
    }

    /// The lake's table `name`, whole.
    pub(crate) fn table(&self, name: &str) -> polars::prelude::DataFrame {
        self.state.lake().read_table(name).expect("read")
    }

    /// Upload `bytes` as `file_name` with `token` through the router (no feed named).
    pub(crate) async fn upload(
        &self,
        token: &str,
        file_name: &str,
        bytes: &[u8],
    ) -> (StatusCode, serde_json::Value) {
        call(
            &self.state,
            upload_request(Some(token), file_name, None, bytes),
        )
        .await
    }

    /// GET `path` with `token` through the router.
    pub(crate) async fn get(&self, path: &str, token: &str) -> (StatusCode, serde_json::Value) {
        call(&self.state, get(path, Some(token))).await
    }

    /// How many rows the lake's table `name` holds.
    pub(crate) fn rows(&self, name: &str) -> usize {
        self.table(name).height()
    }

    /// Write `bytes` to the file `name` in the fixture's temporary folder; its path.
    pub(crate) fn file(&self, name: &str, bytes: impl AsRef<[u8]>) -> std::path::PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        path
    }
}

pub(crate) use homeseason_test_support::{
    ACTIVITIES_HEADER, activities_csv as activities, files_under,
};

pub(crate) const BOUNDARY: &str = "----homeseasontestboundary7MA4YWxkTrZu0gW";

/// A multipart body with an optional `feed` field and a `file` field.
pub(crate) fn multipart(file_name: &str, feed: Option<&str>, bytes: &[u8]) -> Vec<u8> {
    homeseason_server::fuzzing::multipart_body(BOUNDARY, file_name, feed, "text/csv", bytes)
}

/// An upload request for the router.
pub(crate) fn upload_request(
    token: Option<&str>,
    file_name: &str,
    feed: Option<&str>,
    bytes: &[u8],
) -> Request<Body> {
    let mut req = Request::post("/api/uploads").header(
        "content-type",
        format!("multipart/form-data; boundary={BOUNDARY}"),
    );
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    req.body(Body::from(multipart(file_name, feed, bytes)))
        .expect("request")
}

/// A GET request with a token.
pub(crate) fn get(path: &str, token: Option<&str>) -> Request<Body> {
    let mut req = Request::get(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    req.body(Body::empty()).expect("request")
}

/// Send a request through the router (no socket); the status and the body as JSON (or text).
pub(crate) async fn call(state: &AppState, req: Request<Body>) -> (StatusCode, serde_json::Value) {
    let res = app(state.clone()).oneshot(req).await.expect("infallible");
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .expect("body");
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, value)
}

/// A server on 127.0.0.1 (a free port) running until the returned sender is dropped.
pub(crate) async fn spawn(state: AppState) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(homeseason_server::serve(listener, state, async move {
        let _ = rx.await;
    }));
    (addr, tx)
}

/// A fresh [`Fixture`] served on 127.0.0.1 by [`spawn`]: the fixture, the address and the sender whose
/// drop stops the server.
pub(crate) async fn served() -> (Fixture, SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let f = Fixture::new();
    let (addr, stop) = spawn(f.state.clone()).await;
    (f, addr, stop)
}

/// The lake's manifest.
pub(crate) fn manifest(f: &Fixture) -> homeseason_lake::Manifest {
    f.state.lake().manifest().expect("manifest")
}
