//! `POST /api/uploads`: receive, store, validate, check scope, commit, report.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use homeseason_ingest::{Feed, IngestError};
use homeseason_lake::ConflictPolicy;
use homeseason_schema::campaign::Campaign;
use homeseason_schema::region::Regions;
use polars::prelude::*;
use rand::RngCore;
use serde::Deserialize;

use crate::audit::AuditEvent;
use crate::error::AppError;
use crate::raw::{Stored, is_sha256};
use crate::registry::{CommitView, Refusal, RejectRow, Replaced, Status, UploadRecord};
use crate::routes::authenticate;
use crate::sniff::{self, HEAD_BYTES, Kind};
use crate::tokens::Principal;
use crate::{AppState, names};
use homeseason_pipeline::{self as pipeline, Prepared, Source, intake};

/// Rejected rows kept in the upload record and shown at once.
pub(crate) const REJECTS_PREVIEW: usize = 200;

/// Query parameters of an upload.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct UploadQuery {
    /// Feed id (or the form field `feed`); recognised from the header when absent.
    feed: Option<String>,
    /// Seconds to wait for the report before answering 202 (default: the server's `sync_wait`).
    wait: Option<u64>,
    /// Conflict policy (or the form field `on_conflict`): `keep-first` or `keep-last`; the
    /// server's configured policy when absent.
    on_conflict: Option<String>,
}

struct Received {
    name: String,
    feed: Option<Feed>,
    /// The conflict policy the upload asked for (`None`: the server's).
    on_conflict: Option<ConflictPolicy>,
    stored: Stored,
}

/// A conflict policy named by an upload, spelled exactly `keep-first` or `keep-last` (the page's
/// choice, the CLI's `--on-conflict`); anything else is refused with a 400, never guessed.
pub(crate) fn parse_on_conflict(raw: &str) -> Result<ConflictPolicy, AppError> {
    ConflictPolicy::ALL
        .into_iter()
        .find(|p| p.id() == raw)
        .ok_or_else(|| {
            let shown: String = raw.chars().take(40).collect();
            AppError::bad_request(
                "bad_conflict_policy",
                format!("冲突策略“{shown}”无效：只能是 keep-first（保留先收到的行）或 keep-last（以本文件的行替换）"),
                format!("conflict policy {shown:?} is not valid: it must be keep-first (keep the row received first) or keep-last (replace it with this file's row)"),
            )
        })
}

fn new_id() -> String {
    let mut b = [0u8; 8];
    rand::rng().fill_bytes(&mut b);
    format!("u{}", hex::encode(b))
}

pub(crate) fn parse_feed(raw: &str, who: &Principal) -> Result<Option<Feed>, AppError> {
    let raw = raw.trim();
    if raw.is_empty() || raw == "auto" {
        return Ok(None);
    }
    let feed = Feed::from_id(raw).ok_or_else(|| {
        AppError::bad_request(
            "unknown_feed",
            format!("未知数据类型：{raw}"),
            format!(
                "unknown feed {raw:?} (one of {})",
                Feed::ALL.map(Feed::id).join(", ")
            ),
        )
    })?;
    if !who.may_feed(feed.id()) {
        return Err(feed_forbidden(feed.id()));
    }
    Ok(Some(feed))
}

fn feed_forbidden(feed: &str) -> AppError {
    AppError::forbidden(
        format!("您的令牌无权上传该类数据：{feed}"),
        format!("your token may not upload the feed {feed}"),
    )
}

fn too_large(max: u64) -> AppError {
    AppError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("文件超过 {} MB 上限", max / 1_000_000),
        format!("the file is larger than the {} MB limit", max / 1_000_000),
    )
}

fn timed_out() -> AppError {
    AppError::new(
        StatusCode::REQUEST_TIMEOUT,
        "timeout",
        "上传超时，请重试",
        "the upload timed out: try again",
    )
}

fn wrong_type(e: &sniff::TypeError) -> AppError {
    AppError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "wrong_type",
        e.zh.clone(),
        e.en.clone(),
    )
}

fn multipart_error(e: &axum::extract::multipart::MultipartError, max: u64) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large(max);
    }
    AppError::bad_request(
        "bad_multipart",
        format!("上传数据不完整或格式错误：{e}"),
        format!("the upload is incomplete or malformed: {}", e.body_text()),
    )
}

async fn receive(
    st: &AppState,
    who: &Principal,
    mut multipart: Multipart,
    mut feed: Option<Feed>,
    mut on_conflict: Option<ConflictPolicy>,
) -> Result<Received, AppError> {
    let cfg = st.config();
    let max = cfg.max_upload_bytes;
    let idle = cfg.idle_timeout;
    let mut received: Option<(String, Stored)> = None;
    loop {
        let next = tokio::time::timeout(idle, multipart.next_field())
            .await
            .map_err(|_| timed_out())?;
        let Some(mut field) = next.map_err(|e| multipart_error(&e, max))? else {
            break;
        };
        match field.name().unwrap_or_default() {
            "feed" => {
                let text = tokio::time::timeout(idle, field.text())
                    .await
                    .map_err(|_| timed_out())?
                    .map_err(|e| multipart_error(&e, max))?;
                if text.len() > 100 {
                    return Err(AppError::bad_request(
                        "unknown_feed",
                        "数据类型无效",
                        "invalid feed",
                    ));
                }
                if let Some(f) = parse_feed(&text, who)? {
                    feed = Some(f);
                }
            }
            "on_conflict" => {
                let text = tokio::time::timeout(idle, field.text())
                    .await
                    .map_err(|_| timed_out())?
                    .map_err(|e| multipart_error(&e, max))?;
                on_conflict = Some(parse_on_conflict(&text)?);
            }
            "file" => {
                if received.is_some() {
                    return Err(AppError::bad_request(
                        "one_file",
                        "每次只能上传一个文件",
                        "one file per upload",
                    ));
                }
                let raw_name = field.file_name().unwrap_or_default().to_owned();
                let name = names::safe_file_name(&raw_name)
                    .map_err(|e| AppError::bad_request("bad_name", e.zh, e.en))?;
                sniff::check_extension(&name).map_err(|e| wrong_type(&e))?;
                let mut writer = st.raw().begin().await?;
                let mut sniffed = false;
                loop {
                    let chunk = tokio::time::timeout(idle, field.chunk())
                        .await
                        .map_err(|_| timed_out())?
                        .map_err(|e| multipart_error(&e, max))?;
                    let Some(chunk) = chunk else { break };
                    if writer.bytes() + chunk.len() as u64 > max {
                        return Err(too_large(max));
                    }
                    writer.write(&chunk).await?;
                    if !sniffed && writer.head().len() >= HEAD_BYTES {
                        sniff::sniff(&name, writer.head(), false).map_err(|e| wrong_type(&e))?;
                        sniffed = true;
                    }
                }
                if !sniffed {
                    sniff::sniff(&name, writer.head(), true).map_err(|e| wrong_type(&e))?;
                }
                received = Some((name, writer.finish(st.raw()).await?));
            }
            _ => {
                // Unknown fields are drained and ignored, within the same limits.
                let mut seen: u64 = 0;
                while let Some(chunk) = tokio::time::timeout(idle, field.chunk())
                    .await
                    .map_err(|_| timed_out())?
                    .map_err(|e| multipart_error(&e, max))?
                {
                    seen += chunk.len() as u64;
                    if seen > 64 * 1024 {
                        return Err(AppError::bad_request(
                            "bad_multipart",
                            "上传数据中含有多余的大字段",
                            "an unexpected large form field",
                        ));
                    }
                }
            }
        }
    }
    let (name, stored) = received.ok_or_else(|| {
        AppError::bad_request(
            "no_file",
            "请求中没有文件（表单字段 file）",
            "no file in the request (form field `file`)",
        )
    })?;
    Ok(Received {
        name,
        feed,
        on_conflict,
        stored,
    })
}

/// The HTTP status an upload record is answered with.
pub(crate) fn record_status(record: &UploadRecord) -> StatusCode {
    match record.status {
        Status::Processing => StatusCode::ACCEPTED,
        Status::Accepted => StatusCode::OK,
        Status::Failed => StatusCode::INTERNAL_SERVER_ERROR,
        Status::Refused => match record.refusal.as_ref().map(|r| r.code.as_str()) {
            Some("feed_not_allowed") => StatusCode::FORBIDDEN,
            Some("wrong_type") => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        },
    }
}

/// The JSON body of an upload record: the record plus its status URL.
pub(crate) fn record_response(record: &UploadRecord) -> Response {
    let mut body = serde_json::to_value(record).unwrap_or_default();
    if let Some(map) = body.as_object_mut() {
        map.insert(
            "status_url".into(),
            format!("/api/uploads/{}", record.id).into(),
        );
    }
    (record_status(record), Json(body)).into_response()
}

fn audit_failure(st: &AppState, who: Option<&Principal>, actor: &str, e: &AppError) {
    let _ = st.audit().append(&AuditEvent {
        at: st.now(),
        action: "upload".into(),
        actor: who.map_or_else(|| actor.to_owned(), |p| p.token_id.clone()),
        actor_name: who.map(|p| p.name.clone()),
        outcome: e.code.into(),
        detail: e.message_en.clone(),
        ..AuditEvent::default()
    });
}

/// `POST /api/uploads` (multipart: `file`, optional `feed`).
pub(crate) async fn upload(
    State(st): State<AppState>,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let who = match authenticate(&st, &headers) {
        Ok(p) => p,
        Err((e, actor)) => {
            audit_failure(&st, None, &actor, &e);
            return e.into_response();
        }
    };
    match accept(&st, &who, query, &headers, multipart).await {
        Ok(r) => r,
        Err(e) => {
            audit_failure(&st, Some(&who), "", &e);
            e.into_response()
        }
    }
}

async fn accept(
    st: &AppState,
    who: &Principal,
    query: UploadQuery,
    headers: &HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, AppError> {
    let multipart = multipart.map_err(|e| {
        AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "not_multipart",
            "请以 multipart/form-data 表单上传文件",
            format!("send the file as multipart/form-data ({e})"),
        )
    })?;
    let claimed = headers
        .get("x-content-sha256")
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    if let Some(c) = &claimed
        && !is_sha256(c)
    {
        return Err(AppError::bad_request(
            "bad_checksum",
            "X-Content-SHA256 不是有效的 SHA-256",
            "X-Content-SHA256 is not a SHA-256 hex digest",
        ));
    }
    let feed = match &query.feed {
        Some(f) => parse_feed(f, who)?,
        None => None,
    };
    let on_conflict = query
        .on_conflict
        .as_deref()
        .map(parse_on_conflict)
        .transpose()?;
    let received = tokio::time::timeout(
        st.config().upload_timeout,
        receive(st, who, multipart, feed, on_conflict),
    )
    .await
    .map_err(|_| timed_out())??;
    if let Some(c) = &claimed
        && *c != received.stored.sha256
    {
        return Err(AppError::bad_request(
            "checksum_mismatch",
            "文件校验值不符，传输中可能损坏，请重新上传",
            format!(
                "the file's SHA-256 is {} but the client announced {c}: damaged in transit, upload again",
                received.stored.sha256
            ),
        ));
    }
    let record = UploadRecord {
        id: new_id(),
        status: Status::Processing,
        file: received.name.clone(),
        sha256: received.stored.sha256.clone(),
        bytes: received.stored.bytes,
        feed: received.feed.map(|f| f.id().to_owned()),
        token_id: who.token_id.clone(),
        uploaded_by: who.name.clone(),
        scope_regions: who.regions.clone(),
        regions: Vec::new(),
        received_at: st.now(),
        finished_at: None,
        duplicate_of: None,
        report: None,
        rejects: Vec::new(),
        rejects_total: 0,
        rejects_withheld: false,
        commit: None,
        refusal: None,
    };
    st.registry().put(&record)?;
    let task = tokio::spawn(process(st.clone(), who.clone(), record.clone(), received));
    let wait = query
        .wait
        .map_or(st.config().sync_wait, Duration::from_secs);
    match tokio::time::timeout(wait, task).await {
        Ok(Ok(done)) => Ok(record_response(&done)),
        Ok(Err(join)) => Err(AppError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "处理上传时出错",
            format!("processing failed: {join}"),
        )),
        Err(_) => Ok(record_response(&record)),
    }
}

fn refusal(code: &str, zh: impl Into<String>, en: impl Into<String>) -> Refusal {
    Refusal {
        code: code.to_owned(),
        message_zh: zh.into(),
        message_en: en.into(),
    }
}

/// An ingest error's message split into its English and Chinese parts (`english / 中文`).
fn ingest_refusal(e: &IngestError) -> Refusal {
    let text = e.to_string();
    match text.rsplit_once(" / ") {
        Some((en, zh)) => refusal("invalid_file", format!("{zh}（{en}）"), en),
        None => refusal("invalid_file", text.clone(), text),
    }
}

fn region_label(code: &str) -> String {
    Regions::embedded()
        .by_code(code)
        .map_or_else(|| code.to_owned(), |r| format!("{code} {}", r.name_zh))
}

fn rejects_preview(rejects: &homeseason_ingest::Rejects) -> (Vec<RejectRow>, usize) {
    let total = rejects.len();
    let head = rejects
        .slice(0, REJECTS_PREVIEW)
        .unwrap_or_else(|_| DataFrame::empty());
    let text = |name: &str, i: usize| -> Option<String> {
        head.column(name)
            .ok()?
            .cast(&DataType::String)
            .ok()?
            .str()
            .ok()?
            .get(i)
            .map(str::to_owned)
    };
    let rows = (0..head.height())
        .map(|i| RejectRow {
            line: text("line", i).and_then(|l| l.parse().ok()).unwrap_or(0),
            column: text("column", i),
            reason: text("reason", i).unwrap_or_default(),
            message_zh: text("message_zh", i).unwrap_or_default(),
            message_en: text("message_en", i).unwrap_or_default(),
            raw: text("raw", i).unwrap_or_default(),
        })
        .collect();
    (rows, total)
}

fn finish(st: &AppState, mut record: UploadRecord) -> UploadRecord {
    record.finished_at = Some(st.now());
    if let Err(e) = st.registry().put(&record) {
        record.status = Status::Failed;
        record.refusal = Some(refusal(
            "internal",
            "无法保存上传记录",
            format!("could not store the upload record: {e}"),
        ));
    }
    let (outcome, detail) = match (&record.status, &record.refusal, &record.report) {
        (Status::Accepted, _, Some(r)) => (
            if record.duplicate_of.is_some() {
                "duplicate"
            } else {
                "accepted"
            },
            format!(
                "read={} accepted={} rejected={} duplicates={}{}",
                r["read"],
                r["accepted"],
                r["rejected"],
                r["duplicates"],
                // The conflict policy the commit ran under, as the manifest records it.
                record
                    .commit
                    .as_ref()
                    .and_then(|c| c.conflict_policy.as_deref())
                    .map(|p| format!(" on_conflict={p}"))
                    .unwrap_or_default()
            ),
        ),
        (_, Some(why), _) => (
            match record.status {
                Status::Failed => "failed",
                _ => "refused",
            },
            format!("{}: {}", why.code, why.message_en),
        ),
        _ => ("accepted", String::new()),
    };
    let _ = st.audit().append(&AuditEvent {
        at: st.now(),
        action: "upload".into(),
        actor: record.token_id.clone(),
        actor_name: Some(record.uploaded_by.clone()),
        upload_id: Some(record.id.clone()),
        file: Some(record.file.clone()),
        sha256: Some(record.sha256.clone()),
        bytes: Some(record.bytes),
        feed: record.feed.clone(),
        outcome: outcome.into(),
        detail,
    });
    record
}

/// Runs `f` on a blocking worker thread; a worker that panicked is an error.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, crate::ServerError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| crate::ServerError::Invalid(format!("worker failed: {e}")))
}

/// Validate, check scope and commit one stored upload. Always finishes the record.
async fn process(
    st: AppState,
    who: Principal,
    mut record: UploadRecord,
    received: Received,
) -> UploadRecord {
    match process_inner(&st, &who, &mut record, received).await {
        Ok(()) => {}
        Err(e) => {
            record.status = Status::Failed;
            record.refusal = Some(refusal(
                "internal",
                "服务器内部错误，文件已保存，请稍后重新上传",
                format!("internal error (the file is kept; upload again later): {e}"),
            ));
        }
    }
    finish(&st, record)
}

/// The upload that already ingested this content, when sending it again would ingest nothing: the
/// latest accepted, non-duplicate upload of `sha256`, whose feed and regions are within `who`'s scope
/// (and match `feed` when one is named), and whose content is still current in the lake (not
/// superseded by a later file: sending superseded content again reinstates it).
///
/// # Errors
/// When the lake's manifest cannot be read.
pub(crate) fn current_duplicate(
    st: &AppState,
    who: &Principal,
    sha256: &str,
    feed: Option<Feed>,
) -> Result<Option<UploadRecord>, crate::ServerError> {
    let Some(previous) = st.registry().accepted_by_sha(sha256) else {
        return Ok(None);
    };
    let feed_ok = previous.feed.as_deref().is_none_or(|f| who.may_feed(f))
        && feed.is_none_or(|f| previous.feed.as_deref() == Some(f.id()));
    let regions_ok = previous.regions.iter().all(|(r, _)| who.may_region(r));
    if !(feed_ok && regions_ok) {
        return Ok(None);
    }
    let current = st
        .lake()
        .manifest()?
        .file(sha256)
        .is_some_and(|f| f.superseded.is_empty());
    Ok(current.then_some(previous))
}

fn campaign_and_profiles(st: &AppState) -> (Campaign, pipeline::Profiles) {
    (st.config().campaign.clone(), st.config().profiles.clone())
}

async fn process_inner(
    st: &AppState,
    who: &Principal,
    record: &mut UploadRecord,
    received: Received,
) -> Result<(), crate::ServerError> {
    let Received {
        name,
        feed,
        on_conflict,
        stored,
    } = received;
    let sha = stored.sha256.clone();
    // The same content sent twice at once: the second waits here, then finds the first's result.
    let inflight = st.inflight_lock(&sha);
    let _same_content = inflight.lock().await;
    if let Some(previous) = current_duplicate(st, who, &sha, feed)? {
        record.status = Status::Accepted;
        record.duplicate_of = Some(previous.id.clone());
        record.feed.clone_from(&previous.feed);
        record.regions.clone_from(&previous.regions);
        record.report.clone_from(&previous.report);
        record.rejects.clone_from(&previous.rejects);
        record.rejects_total = previous.rejects_total;
        record.commit = Some(CommitView {
            unchanged: true,
            ..CommitView::default()
        });
        return Ok(());
    }
    let _permit = st
        .inner
        .ingest_permits
        .acquire()
        .await
        .map_err(|e| crate::ServerError::Invalid(e.to_string()))?;
    let bytes = std::sync::Arc::new(st.raw().read(&sha).await?);
    // Kept for the commit: a transaction file is read again when another writer committed
    // transactions of its institution meanwhile (`pipeline::commit_fresh`).
    let again = (std::sync::Arc::clone(&bytes), campaign_and_profiles(st));
    let max_inflated = st.config().max_inflated_bytes;
    let campaign = st.config().campaign.clone();
    let profiles = st.config().profiles.clone();
    let task_name = name.clone();
    let lake = st.lake().clone();
    let prepared = blocking(
        move || -> Result<Result<Prepared, Result<IngestError, sniff::TypeError>>, crate::ServerError> {
            if sniff::sniff(
                &task_name,
                &bytes[..bytes.len().min(HEAD_BYTES)],
                bytes.len() <= HEAD_BYTES,
            ) == Ok(Kind::Gzip)
                && let Err(e) = sniff::check_gzip(&bytes, max_inflated) {
                    return Ok(Err(Err(e)));
                }
            let source = Source::Bytes {
                name: &task_name,
                bytes: &bytes,
            };
            Ok(pipeline::prepare(&lake, &source, feed, &campaign, &profiles)?.map_err(Ok))
        },
    )
    .await??;
    let prepared: Prepared = match prepared {
        Ok(p) => p,
        Err(Err(type_error)) => {
            record.status = Status::Refused;
            record.refusal = Some(refusal("wrong_type", type_error.zh, type_error.en));
            return Ok(());
        }
        Err(Ok(ingest_error)) => {
            let why = ingest_refusal(&ingest_error);
            let lake = st.lake().clone();
            let (n, s, f, reason, now) = (
                name.clone(),
                sha.clone(),
                feed.map(|f| f.id().to_owned()),
                ingest_error.to_string(),
                st.now(),
            );
            blocking(move || pipeline::record_refusal(&lake, &n, &s, f.as_deref(), &reason, &now))
                .await??;
            record.status = Status::Refused;
            record.refusal = Some(why);
            return Ok(());
        }
    };
    let feed_id = prepared.feed.id();
    record.feed = Some(feed_id.to_owned());
    if let Ok(v) = serde_json::to_value(&prepared.outcome.report) {
        record.report = Some(v);
    }
    let (rejects, total) = rejects_preview(&prepared.outcome.rejects);
    record.rejects = rejects;
    record.rejects_total = total;
    if !who.may_feed(feed_id) {
        record.status = Status::Refused;
        let e = feed_forbidden(feed_id);
        record.refusal = Some(refusal("feed_not_allowed", e.message_zh, e.message_en));
        return Ok(());
    }
    let regions = intake::row_regions(&prepared.outcome.rows)?;
    let foreign: BTreeMap<&String, &usize> =
        regions.iter().filter(|(r, _)| !who.may_region(r)).collect();
    if !foreign.is_empty() {
        let rows: usize = foreign.values().copied().sum();
        let list_zh: Vec<String> = foreign
            .iter()
            .map(|(r, n)| format!("{}（{n} 行）", region_label(r)))
            .collect();
        let list_en: Vec<String> = foreign
            .iter()
            .map(|(r, n)| format!("{} ({n} rows)", region_label(r)))
            .collect();
        let mine = who.regions.join(", ");
        let why = refusal(
            "foreign_region",
            format!(
                "整份文件被拒收：{rows} 行属于其他地区 {}；您的令牌只能上传 {mine} 的数据，未写入任何数据",
                list_zh.join("、")
            ),
            format!(
                "the whole file is refused: {rows} accepted rows belong to other regions: {}; your token may only upload data of {mine}; nothing was stored in the lake",
                list_en.join(", ")
            ),
        );
        let lake = st.lake().clone();
        let (n, s, now, reason) = (
            name.clone(),
            sha.clone(),
            st.now(),
            format!("{} / {}", why.message_en, why.message_zh),
        );
        let feed_owned = feed_id.to_owned();
        blocking(move || pipeline::record_refusal(&lake, &n, &s, Some(&feed_owned), &reason, &now))
            .await??;
        record.status = Status::Refused;
        record.refusal = Some(why);
        return Ok(());
    }
    record.regions = regions.into_iter().collect();
    // A file is an increment: it adds the keys it carries and removes nothing, so a region-scoped
    // upload cannot disturb another region's rows (the scope check above covers every row it adds).
    let commit_guard = st.inner.commit_lock.lock().await;
    // The upload's own conflict policy when it named one (the page's choice), else the server's.
    let lake = match on_conflict {
        Some(p) => st.lake().clone().with_conflict_policy(p),
        None => st.lake().clone(),
    };
    let now = st.now();
    let commit_name = name.clone();
    let view = blocking(move || -> Result<_, crate::ServerError> {
        let (bytes, (campaign, profiles)) = again;
        let source = Source::Bytes {
            name: &commit_name,
            bytes: &bytes,
        };
        let committed =
            pipeline::commit_fresh(&lake, &source, feed, &campaign, &profiles, prepared, &now)?
                .map_err(|e| crate::ServerError::Invalid(e.to_string()))?;
        // The counts and rejects after the lake settled the file's conflicts (both rows of each
        // in the rejects; under keep-first a conflicting row counts as rejected).
        let report = serde_json::to_value(&committed.outcome.report).ok();
        let rejects = rejects_preview(&committed.outcome.rejects);
        let summary = committed.commit;
        let manifest = lake.manifest()?;
        let replaced = summary
            .replaced
            .iter()
            .map(|(partition, previous)| Replaced {
                partition: partition.clone(),
                previous_sha256: previous.clone(),
                previous_file: manifest.file(previous).map(|f| f.file.clone()),
            })
            .collect();
        let view = CommitView {
            unchanged: summary.unchanged,
            written: summary.written,
            replaced,
            duplicate_rows: summary.duplicate_rows,
            conflicts: summary.conflicts,
            conflict_keys: summary.conflict_keys,
            conflict_policy: Some(summary.policy.id().to_owned()),
        };
        Ok((view, report, rejects))
    })
    .await??;
    drop(commit_guard);
    let (view, report, (rejects, total)) = view;
    if view.conflicts > 0 {
        if report.is_some() {
            record.report = report;
        }
        record.rejects = rejects;
        record.rejects_total = total;
    }
    record.status = Status::Accepted;
    record.commit = Some(view);
    Ok(())
}
