//! # homeseason-client
//!
//! The client of the homeseason upload service, and the wire types it shares with the server
//! ([`wire`]): `homeseason upload` (to the server) and `homeseason pull` (an institution's feed from
//! its HTTPS endpoint).
//!
//! **Upload** is safe to retry: the client hashes the file first and asks
//! `/api/uploads/by-sha256/{sha256}` whether that content is already ingested (then it uploads nothing);
//! otherwise it posts the file with `X-Content-SHA256`, retrying connection failures, timeouts, `408`,
//! `429` and `5xx` with exponential backoff and jitter — asking again by hash before each retry, since
//! an attempt whose answer was lost may have gone through — and polls the status URL when the server
//! answers `202`. The server recognises content by its hash too, so a retry is never ingested twice.
//!
//! **Pull** fetches a file and its published checksum (`<url>.sha256` by default, in `sha256sum`
//! format, or a digest given in the configuration) with retries and backoff, checks the digest, and
//! writes the file atomically. Only `https://` URLs are allowed, except on loopback (for tests).

#![deny(missing_docs)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use rand::Rng;
use reqwest::StatusCode;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

pub mod names;
pub mod wire;

use crate::wire::UploadRecord;

/// Errors of the client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The server refused the request (a 4xx other than 408/429); not retried.
    #[error("server answered {status}: {message_zh} / {message_en}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Error code.
        code: String,
        /// Chinese message.
        message_zh: String,
        /// English message.
        message_en: String,
    },
    /// Every attempt failed.
    #[error("gave up after {attempts} attempts: {last}")]
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// A downloaded file does not match its published checksum.
    #[error("{url}: checksum mismatch: published {expected}, received {actual}")]
    Checksum {
        /// URL.
        url: String,
        /// Published digest.
        expected: String,
        /// Digest of what arrived.
        actual: String,
    },
    /// Bad configuration (URL, scheme, checksum file).
    #[error("{0}")]
    Config(String),
    /// The HTTP client could not be built.
    #[error("http client: {0}")]
    Http(#[from] reqwest::Error),
}

/// Result alias.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// Retry policy: attempts and exponential backoff with jitter.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts in all (at least 1).
    pub attempts: u32,
    /// First backoff.
    pub base: Duration,
    /// Longest backoff.
    pub max: Duration,
}

impl Default for Retry {
    fn default() -> Retry {
        Retry {
            attempts: 5,
            base: Duration::from_millis(500),
            max: Duration::from_secs(30),
        }
    }
}

impl Retry {
    /// The wait before attempt `n + 1` (n ≥ 1): base × 2ⁿ⁻¹, capped, with ±25 % jitter.
    #[must_use]
    pub fn backoff(&self, n: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(2u32.saturating_pow(n.saturating_sub(1)))
            .min(self.max);
        let jitter = rand::rng().random_range(0.75..1.25);
        exp.mul_f64(jitter)
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ClientError + '_ {
    move |source| ClientError::Io {
        path: path.to_owned(),
        source,
    }
}

/// SHA-256 of a file, streamed.
///
/// # Errors
/// When the file cannot be read.
pub async fn sha256_file(path: &Path) -> Result<(String, u64)> {
    let mut file = tokio::fs::File::open(path).await.map_err(io(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf).await.map_err(io(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), total))
}

/// An upload's result.
#[derive(Debug, Clone)]
pub struct UploadOutcome {
    /// The server's record (report, rejects, refusal).
    pub record: UploadRecord,
    /// The content was already ingested: nothing was sent.
    pub skipped: bool,
    /// Attempts made.
    pub attempts: u32,
}

/// The answer of [`Client::lookup`]: the latest upload of some content, and whether sending that
/// content again would ingest nothing.
#[derive(Debug, Clone, Deserialize)]
pub struct Lookup {
    /// The upload (the one that ingested the content, when it is current).
    #[serde(flatten)]
    pub record: UploadRecord,
    /// Already ingested and still current for this token (absent from older servers).
    #[serde(default)]
    pub already_ingested: Option<bool>,
}

impl Lookup {
    /// Whether sending the content again would ingest nothing.
    #[must_use]
    pub fn already_ingested(&self) -> bool {
        self.record.status == crate::wire::Status::Accepted && self.already_ingested.unwrap_or(true)
    }
}

/// A client of one server.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    server: String,
    token: String,
    retry: Retry,
    poll: Duration,
    /// The conflict policy sent with every upload (the form field `on_conflict`), when set.
    on_conflict: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    message_zh: String,
    message_en: String,
}

enum Attempt {
    Done(UploadRecord),
    Retry(String),
}

impl Client {
    /// A client of `server` (e.g. `http://127.0.0.1:8023`) with a token.
    ///
    /// # Errors
    /// When the HTTP client cannot be built or the URL is not http(s).
    pub fn new(server: &str, token: &str, retry: Retry) -> Result<Client> {
        let server = server.trim_end_matches('/').to_owned();
        if !(server.starts_with("http://") || server.starts_with("https://")) {
            return Err(ClientError::Config(format!(
                "server URL must start with http:// or https://: {server}"
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_mins(15))
            .build()?;
        Ok(Client {
            http,
            server,
            token: token.trim().to_owned(),
            retry,
            poll: Duration::from_millis(500),
            on_conflict: None,
        })
    }

    /// The same client, sending `policy` (`keep-first` or `keep-last`) as the form field
    /// `on_conflict` with every upload, as the upload page does: how the lake settles a row whose
    /// key it already holds with other values. The server refuses any other spelling (400,
    /// `bad_conflict_policy`); without it the server's configured policy applies.
    #[must_use]
    pub fn with_on_conflict(mut self, policy: &str) -> Client {
        self.on_conflict = Some(policy.to_owned());
        self
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server)
    }

    async fn refused(status: StatusCode, resp: reqwest::Response) -> ClientError {
        let text = resp.text().await.unwrap_or_default();
        match serde_json::from_str::<ErrorBody>(&text) {
            Ok(b) => ClientError::Refused {
                status: status.as_u16(),
                code: b.error,
                message_zh: b.message_zh,
                message_en: b.message_en,
            },
            Err(_) => ClientError::Refused {
                status: status.as_u16(),
                code: "http".into(),
                message_zh: text.clone(),
                message_en: text,
            },
        }
    }

    fn retryable(status: StatusCode) -> bool {
        status.is_server_error()
            || status == StatusCode::REQUEST_TIMEOUT
            || status == StatusCode::TOO_MANY_REQUESTS
    }

    /// The latest upload of this content visible to the token, if any.
    ///
    /// # Errors
    /// When the server refuses (other than 404) or cannot be reached.
    pub async fn by_sha256(&self, sha256: &str) -> Result<Option<UploadRecord>> {
        Ok(self.lookup(sha256, None, None).await?.map(|l| l.record))
    }

    /// Ask the server about this content before sending it. With `file`, the lookup declares an upload
    /// attempt: when the content is already ingested and current, the server audits that attempt as a
    /// `duplicate` and the client sends nothing. `feed` is the feed the upload would name.
    ///
    /// # Errors
    /// When the server refuses (other than 404) or cannot be reached.
    pub async fn lookup(
        &self,
        sha256: &str,
        file: Option<&str>,
        feed: Option<&str>,
    ) -> Result<Option<Lookup>> {
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let Some(f) = file {
            query.push(("file", f));
        }
        if let Some(f) = feed {
            query.push(("feed", f));
        }
        let resp = self
            .http
            .get(self.url(&format!("/api/uploads/by-sha256/{sha256}")))
            .query(&query)
            .bearer_auth(&self.token)
            .send()
            .await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => Ok(Some(resp.json().await?)),
            s => Err(Self::refused(s, resp).await),
        }
    }

    /// An upload's record by id.
    ///
    /// # Errors
    /// When the server refuses or cannot be reached.
    pub async fn status(&self, id: &str) -> Result<UploadRecord> {
        let resp = self
            .http
            .get(self.url(&format!("/api/uploads/{id}")))
            .bearer_auth(&self.token)
            .send()
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(resp.json().await?),
            s => Err(Self::refused(s, resp).await),
        }
    }

    async fn attempt(
        &self,
        path: &Path,
        name: &str,
        size: u64,
        sha256: &str,
        feed: Option<&str>,
    ) -> Result<Attempt> {
        let file = tokio::fs::File::open(path).await.map_err(io(path))?;
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(
            file,
            256 * 1024,
        ));
        let part = reqwest::multipart::Part::stream_with_length(body, size)
            .file_name(name.to_owned())
            .mime_str("text/csv")?;
        let mut form = reqwest::multipart::Form::new();
        if let Some(f) = feed {
            form = form.text("feed", f.to_owned());
        }
        if let Some(p) = &self.on_conflict {
            form = form.text("on_conflict", p.clone());
        }
        form = form.part("file", part);
        let sent = self
            .http
            .post(self.url("/api/uploads"))
            .bearer_auth(&self.token)
            .header("X-Content-SHA256", sha256)
            .multipart(form)
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => return Ok(Attempt::Retry(format!("{e}"))),
        };
        let status = resp.status();
        let is_record = matches!(
            status,
            StatusCode::OK | StatusCode::ACCEPTED | StatusCode::UNPROCESSABLE_ENTITY
        ) || (status == StatusCode::FORBIDDEN
            || status == StatusCode::UNSUPPORTED_MEDIA_TYPE)
            && resp
                .headers()
                .get("content-type")
                .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
        if is_record {
            let text = match resp.text().await {
                Ok(t) => t,
                Err(e) => return Ok(Attempt::Retry(format!("reading the answer: {e}"))),
            };
            if let Ok(record) = serde_json::from_str::<UploadRecord>(&text) {
                return Ok(Attempt::Done(record));
            }
            return match serde_json::from_str::<ErrorBody>(&text) {
                Ok(b) => Err(ClientError::Refused {
                    status: status.as_u16(),
                    code: b.error,
                    message_zh: b.message_zh,
                    message_en: b.message_en,
                }),
                Err(_) => Ok(Attempt::Retry(format!("unreadable answer ({status})"))),
            };
        }
        if Self::retryable(status) {
            return Ok(Attempt::Retry(format!("server answered {status}")));
        }
        Err(Self::refused(status, resp).await)
    }

    /// Upload a file (see the module docs for retries and deduplication).
    ///
    /// # Errors
    /// [`ClientError::Refused`] when the server refuses the request itself (token, size, type …),
    /// [`ClientError::GaveUp`] when every attempt failed. A file refused for its content is not an
    /// error: its record has status `refused` and says why.
    pub async fn upload(&self, path: &Path, feed: Option<&str>) -> Result<UploadOutcome> {
        let (sha256, size) = sha256_file(path).await?;
        let name = path
            .file_name()
            .map_or_else(|| "upload.csv".into(), |n| n.to_string_lossy().into_owned());
        let already = |l: &Lookup| {
            l.already_ingested() && feed.is_none_or(|f| l.record.feed.as_deref() == Some(f))
        };
        let mut last = String::new();
        let attempts = self.retry.attempts.max(1);
        for n in 1..=attempts {
            if n > 1 {
                tokio::time::sleep(self.retry.backoff(n - 1)).await;
            }
            // Before each attempt: is this content already there (perhaps from a lost answer)?
            match self.lookup(&sha256, Some(&name), feed).await {
                Ok(Some(l)) if already(&l) => {
                    return Ok(UploadOutcome {
                        record: l.record,
                        skipped: true,
                        attempts: n,
                    });
                }
                Ok(Some(l)) if l.record.status == crate::wire::Status::Processing => {
                    let record = self.wait(&l.record.id).await?;
                    return Ok(UploadOutcome {
                        record,
                        skipped: true,
                        attempts: n,
                    });
                }
                Ok(_) => {}
                Err(e @ ClientError::Refused { status, .. })
                    if !Self::retryable(StatusCode::from_u16(status).unwrap_or_default()) =>
                {
                    return Err(e);
                }
                Err(e) => {
                    last = e.to_string();
                    continue;
                }
            }
            match self.attempt(path, &name, size, &sha256, feed).await? {
                Attempt::Done(record) if record.status == crate::wire::Status::Processing => {
                    let record = self.wait(&record.id).await?;
                    return Ok(UploadOutcome {
                        record,
                        skipped: false,
                        attempts: n,
                    });
                }
                Attempt::Done(record) if record.status == crate::wire::Status::Failed => {
                    last = record
                        .refusal
                        .map_or_else(|| "failed".into(), |r| r.message_en);
                }
                Attempt::Done(record) => {
                    return Ok(UploadOutcome {
                        record,
                        skipped: false,
                        attempts: n,
                    });
                }
                Attempt::Retry(why) => last = why,
            }
        }
        Err(ClientError::GaveUp { attempts, last })
    }

    /// Poll an upload until it is no longer processing.
    ///
    /// # Errors
    /// When the server cannot be reached after the retry policy's attempts.
    pub async fn wait(&self, id: &str) -> Result<UploadRecord> {
        let mut failures = 0;
        let mut delay = self.poll;
        loop {
            match self.status(id).await {
                Ok(r) if r.status != crate::wire::Status::Processing => return Ok(r),
                Ok(_) => failures = 0,
                Err(e @ ClientError::Refused { .. }) => return Err(e),
                Err(e) => {
                    failures += 1;
                    if failures >= self.retry.attempts.max(1) {
                        return Err(ClientError::GaveUp {
                            attempts: failures,
                            last: e.to_string(),
                        });
                    }
                }
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }
}

/// One institution feed to pull.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullSource {
    /// Name (e.g. `acq_a`), used in messages.
    pub name: String,
    /// File URL (`https://`).
    pub url: String,
    /// URL of the published checksum (`sha256sum` format); default `<url>.sha256`.
    #[serde(default)]
    pub sha256_url: Option<String>,
    /// The digest itself, when published elsewhere (takes precedence over `sha256_url`).
    #[serde(default)]
    pub sha256: Option<String>,
    /// Feed id of the file, for ingest (recognised from the header when absent).
    #[serde(default)]
    pub feed: Option<String>,
}

/// A pull configuration file (TOML): `[[source]]` tables.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullConfig {
    /// The sources.
    #[serde(default)]
    pub source: Vec<PullSource>,
}

/// A file pulled.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// Where it was written.
    pub path: PathBuf,
    /// Its SHA-256 (checked against the published one).
    pub sha256: String,
    /// Size.
    pub bytes: u64,
    /// It was already there with the same content: not downloaded again.
    pub unchanged: bool,
    /// Attempts made.
    pub attempts: u32,
}

fn is_loopback(url: &reqwest::Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn check_url(raw: &str) -> Result<reqwest::Url> {
    let url = reqwest::Url::parse(raw).map_err(|e| ClientError::Config(format!("{raw}: {e}")))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        _ => Err(ClientError::Config(format!(
            "{raw}: only https:// URLs may be pulled (http:// only on loopback) / 只允许 https 地址"
        ))),
    }
}

/// Parse a `sha256sum` line (or a bare digest).
///
/// # Errors
/// [`ClientError::Config`] when no digest is found.
pub fn parse_checksum(text: &str) -> Result<String> {
    let digest = text
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if crate::wire::is_sha256(&digest) {
        Ok(digest)
    } else {
        Err(ClientError::Config(format!(
            "not a SHA-256 checksum: {:?}",
            text.chars().take(80).collect::<String>()
        )))
    }
}

/// One GET: the body, or the failure and whether it is worth retrying.
async fn get_once(
    http: &reqwest::Client,
    url: &reqwest::Url,
) -> std::result::Result<bytes::Bytes, (ClientError, bool)> {
    let transient = |e: String| {
        (
            ClientError::GaveUp {
                attempts: 1,
                last: e,
            },
            true,
        )
    };
    match http.get(url.clone()).send().await {
        Ok(resp) if resp.status().is_success() => resp
            .bytes()
            .await
            .map_err(|e| transient(format!("{url}: {e}"))),
        Ok(resp) if Client::retryable(resp.status()) => {
            Err(transient(format!("{url}: {}", resp.status())))
        }
        Ok(resp) => Err((
            ClientError::Refused {
                status: resp.status().as_u16(),
                code: "http".into(),
                message_zh: format!("{url}: {}", resp.status()),
                message_en: format!("{url}: {}", resp.status()),
            },
            false,
        )),
        Err(e) => Err(transient(format!("{url}: {e}"))),
    }
}

/// GET with retries and backoff; a downloaded body failing `check` is retried too.
async fn get_checked(
    http: &reqwest::Client,
    url: &reqwest::Url,
    retry: &Retry,
    check: impl Fn(&[u8]) -> Result<()>,
) -> Result<(bytes::Bytes, u32)> {
    let attempts = retry.attempts.max(1);
    let mut last = None;
    for n in 1..=attempts {
        if n > 1 {
            tokio::time::sleep(retry.backoff(n - 1)).await;
        }
        match get_once(http, url).await {
            Ok(body) => match check(&body) {
                Ok(()) => return Ok((body, n)),
                Err(e) => last = Some(e),
            },
            Err((e, false)) => return Err(e),
            Err((e, true)) => last = Some(e),
        }
    }
    Err(match last {
        Some(ClientError::GaveUp { last, .. }) => ClientError::GaveUp { attempts, last },
        Some(e) => e,
        None => ClientError::GaveUp {
            attempts,
            last: String::new(),
        },
    })
}

/// Pull one source into `out_dir` (file name from the URL's last segment, cleaned).
///
/// # Errors
/// Bad URL or scheme, download failures after retries, checksum mismatch, IO.
pub async fn pull(
    http: &reqwest::Client,
    source: &PullSource,
    out_dir: &Path,
    retry: &Retry,
) -> Result<Pulled> {
    let url = check_url(&source.url)?;
    let expected = if let Some(d) = &source.sha256 {
        parse_checksum(d)?
    } else {
        let sum_url = check_url(
            source
                .sha256_url
                .as_deref()
                .unwrap_or(&format!("{}.sha256", source.url)),
        )?;
        let (text, _) = get_checked(http, &sum_url, retry, |b| {
            parse_checksum(&String::from_utf8_lossy(b)).map(|_| ())
        })
        .await?;
        parse_checksum(&String::from_utf8_lossy(&text))?
    };
    let last_segment = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or_default()
        .to_owned();
    let name = crate::names::safe_file_name(&last_segment)
        .unwrap_or_else(|_| format!("{}.csv", source.name));
    let name =
        crate::names::safe_file_name(&name).map_err(|e| ClientError::Config(e.to_string()))?;
    let target = out_dir.join(&name);
    if tokio::fs::try_exists(&target).await.unwrap_or(false) {
        let (have, bytes) = sha256_file(&target).await?;
        if have == expected {
            return Ok(Pulled {
                path: target,
                sha256: have,
                bytes,
                unchanged: true,
                attempts: 0,
            });
        }
    }
    let (bytes, attempts) = get_checked(http, &url, retry, |body| {
        let actual = hex::encode(Sha256::digest(body));
        if actual == expected {
            Ok(())
        } else {
            Err(ClientError::Checksum {
                url: url.to_string(),
                expected: expected.clone(),
                actual,
            })
        }
    })
    .await?;
    tokio::fs::create_dir_all(out_dir)
        .await
        .map_err(io(out_dir))?;
    let tmp = temp_beside(&target);
    tokio::fs::write(&tmp, &bytes).await.map_err(io(&tmp))?;
    tokio::fs::rename(&tmp, &target)
        .await
        .map_err(io(&target))?;
    Ok(Pulled {
        path: target,
        sha256: expected,
        bytes: bytes.len() as u64,
        unchanged: false,
        attempts,
    })
}

/// A temporary name next to `target` (same directory, so the rename is atomic).
fn temp_beside(target: &Path) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}.{}-{n}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_and_urls() {
        let d = "a".repeat(64);
        assert_eq!(parse_checksum(&format!("{d}  file.csv\n")).unwrap(), d);
        assert!(parse_checksum("nope").is_err());
        // Whether each URL may be fetched: https anywhere, plain http only on the loopback.
        for (url, allowed) in [
            ("https://example.invalid/a.csv", true),
            ("http://127.0.0.1:9/a.csv", true),
            ("http://example.invalid/a.csv", false),
            ("ftp://127.0.0.1/a.csv", false),
        ] {
            assert_eq!(check_url(url).is_ok(), allowed, "{url}");
        }
    }

    #[test]
    fn backoff_grows_and_caps() {
        let r = Retry {
            attempts: 5,
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        assert!(r.backoff(1) <= Duration::from_millis(125));
        assert!(r.backoff(3) >= Duration::from_millis(300));
        assert!(r.backoff(20) <= Duration::from_millis(1250));
    }
}
