//! The multipart fuzz target body, shared by the cargo-fuzz project (`fuzz/`) and the stable smoke test
//! (`tests/server/fuzz_smoke.rs`): the fuzz input is the body of `POST /api/uploads` (fixed boundary,
//! a Zhejiang liaison's token), driven through the whole router without a socket. What must hold on any
//! body: no panic (in the handler or in the validation behind it, which would answer 500), never a
//! 5xx, a JSON answer, and an accepted upload's report balancing (`read = accepted + rejected +
//! duplicates`).
//!
//! Not part of the API: hidden from the docs, may change with the fuzz targets.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

use crate::tokens::NewToken;
use crate::{AppState, Config, app};

/// The multipart boundary of every fuzzed request (the `Content-Type` header is fixed).
pub const BOUNDARY: &str = "----homeseasonfuzzboundary";

/// A server state in a data folder, a liaison token and a single-threaded runtime.
#[derive(Debug)]
pub struct MultipartHarness {
    state: AppState,
    token: String,
    runtime: tokio::runtime::Runtime,
}

/// A multipart body with a `file` part named `file_name` (and a `feed` field when given), as a browser
/// sends it with [`BOUNDARY`]: seeds for the corpus.
#[must_use]
pub fn body(file_name: &str, feed: Option<&str>, bytes: &[u8]) -> Vec<u8> {
    multipart_body(BOUNDARY, file_name, feed, "application/octet-stream", bytes)
}

/// A multipart body delimited by `boundary`: a `feed` field when given, then a `file` part named
/// `file_name` of type `content_type` holding `bytes` (the fuzz seeds and the server tests' uploads).
#[must_use]
pub fn multipart_body(
    boundary: &str,
    file_name: &str,
    feed: Option<&str>,
    content_type: &str,
    bytes: &[u8],
) -> Vec<u8> {
    let mut body = Vec::new();
    if let Some(f) = feed {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"feed\"\r\n\r\n{f}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

impl MultipartHarness {
    /// A fresh server state under `dir` (created) with a Zhejiang liaison's token.
    ///
    /// # Panics
    /// When the data folder or the runtime cannot be set up.
    #[must_use]
    pub fn new(dir: &Path) -> MultipartHarness {
        let mut c = Config::new(dir.join("data"));
        c.max_upload_bytes = 4_000_000;
        c.max_inflated_bytes = 16_000_000;
        c.idle_timeout = Duration::from_secs(10);
        c.upload_timeout = Duration::from_mins(1);
        c.sync_wait = Duration::from_mins(2);
        c.ingest_parallelism = 1;
        let state = AppState::with_clock(c, Arc::new(chrono::Utc::now)).expect("fuzz server state");
        let token = state
            .tokens()
            .issue(
                &NewToken {
                    name: "浙江 fuzz".into(),
                    regions: vec!["330000".into()],
                    feeds: Vec::new(),
                    admin: false,
                },
                "2023-09-01T00:00:00Z",
            )
            .expect("issue a token")
            .1;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        MultipartHarness {
            state,
            token,
            runtime,
        }
    }

    /// Send `data` as the body of an upload and check the answer; returns its status and `error` code (or
    /// the upload's status) for coverage summaries.
    ///
    /// # Panics
    /// When an invariant breaks (that is the finding).
    pub fn run(&self, data: &[u8]) -> (StatusCode, String) {
        let req = Request::post("/api/uploads")
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .header("authorization", format!("Bearer {}", self.token))
            .body(Body::from(data.to_vec()))
            .expect("request");
        let router = app(self.state.clone());
        let (status, bytes) = self.runtime.block_on(async move {
            let res = router.oneshot(req).await.expect("infallible router");
            let status = res.status();
            let bytes = axum::body::to_bytes(res.into_body(), 64 << 20)
                .await
                .expect("response body");
            (status, bytes)
        });
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !status.is_server_error(),
            "upload answered {status}: {text}"
        );
        let json: serde_json::Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("upload answered {status} with no JSON ({e}): {text}"));
        if status == StatusCode::OK
            && let Some(r) = json.get("report").filter(|r| !r.is_null())
        {
            let n = |k: &str| r.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
            assert_eq!(
                n("read"),
                n("accepted") + n("rejected") + n("duplicates"),
                "unbalanced report: {text}"
            );
        }
        let code = json
            .get("error")
            .or_else(|| json.get("status"))
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned();
        (status, code)
    }
}
