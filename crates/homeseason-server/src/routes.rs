//! The router and the read endpoints.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use homeseason_ingest::Feed;
use homeseason_schema::contract::{self, TableKind, tables};
use homeseason_schema::region::Regions;
use polars::prelude::*;
use serde::Deserialize;
use serde_json::json;
use tower_http::timeout::TimeoutLayer;

use crate::error::AppError;
use crate::raw::is_sha256;
use crate::registry::UploadRecord;
use crate::tokens::{Principal, Verified};
use crate::upload::{record_response, upload};
use homeseason_pipeline::{completeness, template};

use crate::registry::RecordAccess as _;
use crate::{AppState, INDEX_HTML, OPENAPI_JSON};

/// Every route as `METHOD path` (axum syntax); the OpenAPI test checks each is documented.
pub const ROUTES: &[&str] = &[
    "GET /",
    "GET /api/health",
    "GET /api/openapi.json",
    "GET /api/feeds",
    "GET /api/templates/{file}",
    "GET /api/me",
    "POST /api/uploads",
    "GET /api/uploads",
    "GET /api/uploads/latest",
    "GET /api/uploads/by-sha256/{sha256}",
    "GET /api/uploads/{id}",
    "GET /api/uploads/{id}/rejects.csv",
    "GET /api/completeness",
    "GET /api/outputs",
    "GET /api/outputs/{table}",
    "GET /api/report",
    "GET /api/report/headline.json",
    "GET /api/audit",
];

/// Build the router.
pub fn app(state: AppState) -> Router {
    let max = state.config().max_upload_bytes;
    let upload_routes = Router::new()
        .route("/api/uploads", post(upload).get(list_uploads))
        .layer(DefaultBodyLimit::max(
            usize::try_from(max)
                .unwrap_or(usize::MAX)
                .saturating_add(1 << 20),
        ));
    let read_routes = Router::new()
        .route("/", get(index))
        .route("/api/health", get(health))
        .route("/api/openapi.json", get(openapi))
        .route("/api/feeds", get(feeds))
        .route("/api/templates/{file}", get(template_csv))
        .route("/api/me", get(me))
        .route("/api/uploads/latest", get(latest_upload))
        .route("/api/uploads/by-sha256/{sha256}", get(upload_by_sha))
        .route("/api/uploads/{id}", get(get_upload))
        .route("/api/uploads/{id}/rejects.csv", get(upload_rejects))
        .route("/api/completeness", get(get_completeness))
        .route("/api/outputs", get(list_outputs))
        .route("/api/outputs/{table}", get(get_output))
        .route("/api/report", get(report_html))
        .route("/api/report/headline.json", get(report_headline))
        .route("/api/audit", get(audit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_mins(2),
        ))
        .layer(DefaultBodyLimit::max(64 * 1024));
    upload_routes
        .merge(read_routes)
        .fallback(|| async { AppError::not_found("route 路径") })
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
        ),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    res
}

/// Check the bearer token. On failure, the error and who to blame in the audit log.
pub(crate) fn authenticate(
    st: &AppState,
    headers: &HeaderMap,
) -> Result<Principal, (AppError, String)> {
    let anonymous = || (AppError::unauthorized(), "anonymous".to_owned());
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(anonymous)?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or_else(anonymous)?;
    match st.tokens().verify(token) {
        Ok(Verified::Valid(p)) => Ok(p),
        Ok(Verified::Revoked(id)) => Err((AppError::revoked(), id)),
        Ok(Verified::Unknown) => Err(anonymous()),
        Err(e) => Err((AppError::from(e), "anonymous".to_owned())),
    }
}

/// The authenticated principal of a read request.
pub(crate) struct Auth(pub(crate) Principal);

impl axum::extract::FromRequestParts<AppState> for Auth {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        st: &AppState,
    ) -> Result<Auth, AppError> {
        authenticate(st, &parts.headers)
            .map(Auth)
            .map_err(|(e, _)| e)
    }
}

async fn index() -> impl IntoResponse {
    Html(INDEX_HTML)
}

async fn health() -> impl IntoResponse {
    Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}))
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON)
}

fn feed_json(feed: Feed) -> serde_json::Value {
    let c = feed.contract();
    json!({
        "id": feed.id(),
        "title": c.title,
        "title_zh": c.title_zh,
        "template_url": format!("/api/templates/{}.csv", feed.id()),
    })
}

async fn feeds() -> impl IntoResponse {
    Json(Feed::ALL.map(feed_json).to_vec())
}

async fn template_csv(Path(file): Path<String>) -> Result<Response, AppError> {
    let feed = file
        .strip_suffix(".csv")
        .and_then(Feed::from_id)
        .ok_or_else(|| AppError::not_found(&file))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"template_{}.csv\"", feed.id()),
            ),
        ],
        template::csv_template(feed),
    )
        .into_response())
}

fn region_json(code: &str) -> serde_json::Value {
    let r = Regions::embedded().by_code(code);
    json!({
        "code": code,
        "name_zh": r.map(|r| r.name_zh.as_str()),
        "name_en": r.map(|r| r.name_en.as_str()),
    })
}

async fn me(State(st): State<AppState>, Auth(who): Auth) -> impl IntoResponse {
    let regions: Vec<serde_json::Value> = if who.admin {
        Regions::embedded()
            .all()
            .iter()
            .map(|r| region_json(&r.code))
            .collect()
    } else {
        who.regions.iter().map(|r| region_json(r)).collect()
    };
    let feeds: Vec<serde_json::Value> = Feed::ALL
        .iter()
        .filter(|f| who.may_feed(f.id()))
        .map(|f| feed_json(*f))
        .collect();
    Json(json!({
        "token_id": who.token_id,
        "name": who.name,
        "admin": who.admin,
        "regions": regions,
        "feeds": feeds,
        "max_upload_bytes": st.config().max_upload_bytes,
    }))
}

/// Filters of the upload history.
#[derive(Debug, Default, Deserialize)]
struct HistoryQuery {
    region: Option<String>,
    feed: Option<String>,
    limit: Option<usize>,
}

impl HistoryQuery {
    /// Whether `who` sees the upload `r` and it passes the region and feed filters.
    fn admits(&self, r: &UploadRecord, who: &Principal) -> bool {
        r.visible_to(who)
            && self
                .region
                .as_deref()
                .is_none_or(|reg| r.concerns_region(reg))
            && self
                .feed
                .as_deref()
                .is_none_or(|f| r.feed.as_deref() == Some(f))
    }
}

fn check_region(who: &Principal, region: Option<&str>) -> Result<(), AppError> {
    match region {
        Some(r) if !who.may_region(r) => Err(AppError::forbidden(
            format!("您的令牌无权查看地区 {r} 的数据"),
            format!("your token may not read region {r}"),
        )),
        _ => Ok(()),
    }
}

async fn list_uploads(
    State(st): State<AppState>,
    Auth(who): Auth,
    Query(q): Query<HistoryQuery>,
) -> Result<Response, AppError> {
    check_region(&who, q.region.as_deref())?;
    let limit = q.limit.unwrap_or(100).min(1000);
    let mut list: Vec<UploadRecord> = st.registry().list(|r| q.admits(r, &who));
    list.truncate(limit);
    let list: Vec<UploadRecord> = list.iter().map(|r| as_seen_by(r.summary(), &who)).collect();
    Ok(Json(json!({ "uploads": list })).into_response())
}

async fn latest_upload(
    State(st): State<AppState>,
    Auth(who): Auth,
    Query(q): Query<HistoryQuery>,
) -> Result<Response, AppError> {
    check_region(&who, q.region.as_deref())?;
    st.registry()
        .list(|r| r.finished_at.is_some() && q.admits(r, &who))
        .first()
        .map(|r| Json(as_seen_by(r.clone(), &who)).into_response())
        .ok_or_else(|| AppError::not_found("upload 上传记录"))
}

/// The upload record `id`, if `who` may see it (else 404: another region's upload is not revealed).
fn visible_upload(
    st: &AppState,
    who: &Principal,
    id: &str,
) -> Result<crate::registry::UploadRecord, AppError> {
    st.registry()
        .get(id)
        .filter(|r| r.visible_to(who))
        .ok_or_else(|| AppError::not_found("upload 上传记录"))
}

/// Whether `who` may read an upload's rejected rows: its uploader or an administrator. A liaison
/// who sees an upload because it committed rows of one of its regions (an administrator's
/// multi-region file) must not read other regions' raw rows, and a rejected row's region is not
/// known (it may be the value that was rejected), so the rows are withheld from it.
fn may_read_rejects(record: &crate::registry::UploadRecord, who: &Principal) -> bool {
    who.admin || who.token_id == record.token_id
}

/// The record as `who` may read it: without the rejected rows and other regions' counts when
/// [`may_read_rejects`] says no.
fn as_seen_by(
    mut record: crate::registry::UploadRecord,
    who: &Principal,
) -> crate::registry::UploadRecord {
    if !may_read_rejects(&record, who) {
        record.rejects.clear();
        record.rejects_withheld = true;
        record.regions.retain(|(r, _)| who.may_region(r));
    }
    record
}

async fn get_upload(
    State(st): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let record = as_seen_by(visible_upload(&st, &who, &id)?, &who);
    let mut response = record_response(&record);
    // A status query succeeds; the record's own status says how the upload went.
    *response.status_mut() = StatusCode::OK;
    Ok(response)
}

/// Query of `GET /api/uploads/by-sha256/{sha256}`.
#[derive(Debug, Default, Deserialize)]
struct ByShaQuery {
    /// The file the client is about to send (a label only). With it the lookup is an upload attempt:
    /// when the content is already ingested and current, the attempt is audited as a `duplicate`.
    file: Option<String>,
    /// The feed the client would name: content ingested as another feed is not a duplicate.
    feed: Option<String>,
}

async fn upload_by_sha(
    State(st): State<AppState>,
    Auth(who): Auth,
    Path(sha256): Path<String>,
    Query(q): Query<ByShaQuery>,
) -> Result<Response, AppError> {
    let sha256 = sha256.to_ascii_lowercase();
    if !is_sha256(&sha256) {
        return Err(AppError::bad_request(
            "bad_checksum",
            "不是有效的 SHA-256",
            "not a SHA-256 hex digest",
        ));
    }
    let feed = match q.feed.as_deref() {
        Some(f) => crate::upload::parse_feed(f, &who)?,
        None => None,
    };
    // Would sending this content again ingest nothing (accepted, current, within the scope)?
    let duplicate = crate::upload::current_duplicate(&st, &who, &sha256, feed)
        .map_err(AppError::from)?
        .filter(|r| r.visible_to(&who));
    let record = match &duplicate {
        Some(r) => r.clone(),
        None => st
            .registry()
            .list(|r| r.sha256 == sha256 && r.visible_to(&who))
            .into_iter()
            .next()
            .ok_or_else(|| AppError::not_found("upload 上传记录"))?,
    };
    if let (Some(previous), Some(file)) = (&duplicate, q.file.as_deref()) {
        // The client will not send it: that attempt is recorded like a duplicate upload.
        let _ = st.audit().append(&crate::audit::AuditEvent {
            at: st.now(),
            action: "upload".into(),
            actor: who.token_id.clone(),
            actor_name: Some(who.name.clone()),
            upload_id: Some(previous.id.clone()),
            file: crate::names::safe_file_name(file).ok(),
            sha256: Some(sha256.clone()),
            bytes: Some(previous.bytes),
            feed: previous.feed.clone(),
            outcome: "duplicate".into(),
            detail: format!(
                "already ingested by upload {} and still current: not sent again",
                previous.id
            ),
        });
    }
    // The record, its status URL, and whether sending the content again would ingest nothing.
    let record = as_seen_by(record, &who);
    let mut body = serde_json::to_value(&record).unwrap_or_default();
    if let Some(map) = body.as_object_mut() {
        map.insert(
            "status_url".into(),
            format!("/api/uploads/{}", record.id).into(),
        );
        map.insert("already_ingested".into(), duplicate.is_some().into());
    }
    Ok((StatusCode::OK, Json(body)).into_response())
}

fn csv_bytes(frame: &mut DataFrame) -> Result<Vec<u8>, AppError> {
    neutralise_formulas(frame)?;
    let mut buf = b"\xEF\xBB\xBF".to_vec();
    CsvWriter::new(&mut buf)
        .include_header(true)
        .finish(frame)
        .map_err(|e| AppError::from(crate::ServerError::from(e)))?;
    Ok(buf)
}

/// A text cell a spreadsheet would run as a formula (OWASP "CSV injection"): it starts with `=`, `+`,
/// `-`, `@`, a tab or a carriage return.
fn is_formula(s: &str) -> bool {
    s.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// Every text cell that would run as a formula in Excel gets a leading apostrophe, so it is shown as
/// the text it is (a rejected row's raw text comes from the uploaded file).
fn neutralise_formulas(frame: &mut DataFrame) -> Result<(), AppError> {
    let fail = |e: PolarsError| AppError::from(crate::ServerError::from(e));
    for name in frame.get_column_names_owned() {
        let Ok(text) = frame.column(&name).map_err(fail)?.str().cloned() else {
            continue;
        };
        if !text.iter().flatten().any(is_formula) {
            continue;
        }
        let safe: Vec<Option<String>> = text
            .iter()
            .map(|v| {
                v.map(|s| {
                    if is_formula(s) {
                        format!("'{s}")
                    } else {
                        s.to_owned()
                    }
                })
            })
            .collect();
        frame.with_column(Column::new(name, safe)).map_err(fail)?;
    }
    Ok(())
}

fn csv_response(name: &str, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

async fn upload_rejects(
    State(st): State<AppState>,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let record = visible_upload(&st, &who, &id)?;
    if !may_read_rejects(&record, &who) {
        return Err(AppError::forbidden(
            "此上传的被拒行仅对上传者和管理员可见（被拒行可能属于其他地区）",
            "the rejected rows of this upload are shown to its uploader and administrators only (they may belong to other regions)",
        ));
    }
    let feed = record.feed.clone().unwrap_or_default();
    let lake = st.lake().clone();
    let bytes = crate::upload::blocking(move || -> Result<Vec<u8>, AppError> {
        let stored = if feed.is_empty() {
            None
        } else {
            lake.read_rejects(&feed, &record.sha256)
                .map_err(|e| AppError::from(crate::ServerError::from(e)))?
        };
        let mut frame = if let Some(frame) = stored {
            frame
        } else {
            let r = &record.rejects;
            df!(
                "line" => r.iter().map(|x| x.line).collect::<Vec<_>>(),
                "column" => r.iter().map(|x| x.column.clone()).collect::<Vec<_>>(),
                "reason" => r.iter().map(|x| x.reason.clone()).collect::<Vec<_>>(),
                "message_zh" => r.iter().map(|x| x.message_zh.clone()).collect::<Vec<_>>(),
                "message_en" => r.iter().map(|x| x.message_en.clone()).collect::<Vec<_>>(),
                "raw" => r.iter().map(|x| x.raw.clone()).collect::<Vec<_>>(),
            )
            .map_err(|e| AppError::from(crate::ServerError::from(e)))?
        };
        csv_bytes(&mut frame)
    })
    .await??;
    Ok(csv_response(&format!("rejects_{id}.csv"), bytes))
}

/// Filters of the completeness table.
#[derive(Debug, Default, Deserialize)]
struct CompletenessQuery {
    region: Option<String>,
    feed: Option<String>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    format: Option<String>,
}

async fn get_completeness(
    State(st): State<AppState>,
    Auth(who): Auth,
    Query(q): Query<CompletenessQuery>,
) -> Result<Response, AppError> {
    check_region(&who, q.region.as_deref())?;
    let window = &st.config().campaign.window;
    let from = q.from.unwrap_or(window.start);
    let to = q.to.unwrap_or(window.end);
    if to < from || (to - from).num_days() > 3 * 366 {
        return Err(AppError::bad_request(
            "bad_range",
            "日期范围无效（最长三年）",
            "invalid date range (at most three years)",
        ));
    }
    let feeds: Vec<&'static str> = completeness::FEEDS
        .iter()
        .filter(|f| q.feed.as_deref().is_none_or(|x| x == **f))
        .copied()
        .collect();
    let lake = st.lake().clone();
    let region = q.region.clone();
    let rows = crate::upload::blocking(move || {
        completeness::completeness(
            &lake,
            from,
            to,
            &|r| who.may_region(r) && region.as_deref().is_none_or(|x| x == r),
            &feeds,
        )
    })
    .await??;
    if q.format.as_deref() == Some("csv") {
        let mut frame = df!(
            "region_code" => rows.iter().map(|r| r.region_code.clone()).collect::<Vec<_>>(),
            "feed" => rows.iter().map(|r| r.feed.clone()).collect::<Vec<_>>(),
            "week_start" => rows.iter().map(|r| r.week_start.to_string()).collect::<Vec<_>>(),
            "status" => rows.iter().map(|r| r.status).collect::<Vec<_>>(),
            "rows" => rows.iter().map(|r| r.rows).collect::<Vec<_>>(),
            "files" => rows.iter().map(|r| r.files).collect::<Vec<_>>(),
        )
        .map_err(|e| AppError::from(crate::ServerError::from(e)))?;
        return Ok(csv_response(
            "data_completeness.csv",
            csv_bytes(&mut frame)?,
        ));
    }
    Ok(Json(json!({ "from": from, "to": to, "rows": rows })).into_response())
}

fn output_tables() -> Vec<&'static contract::TableContract> {
    contract::all()
        .iter()
        .filter(|t| t.kind == TableKind::Output && t.name != tables::SYNTH_TRUTH)
        .collect()
}

async fn list_outputs(State(st): State<AppState>, Auth(_who): Auth) -> impl IntoResponse {
    let list: Vec<serde_json::Value> = output_tables()
        .iter()
        .map(|t| {
            json!({
                "table": t.name,
                "title": t.title,
                "title_zh": t.title_zh,
                "available": st.lake().root().join(&t.name).exists(),
                "csv_url": format!("/api/outputs/{}?format=csv", t.name),
                "parquet_url": format!("/api/outputs/{}?format=parquet", t.name),
            })
        })
        .collect();
    Json(json!({ "outputs": list }))
}

/// Format of a download.
#[derive(Debug, Default, Deserialize)]
struct FormatQuery {
    format: Option<String>,
}

async fn get_output(
    State(st): State<AppState>,
    Auth(who): Auth,
    Path(table): Path<String>,
    Query(q): Query<FormatQuery>,
) -> Result<Response, AppError> {
    let contract = output_tables()
        .into_iter()
        .find(|t| t.name == table)
        .ok_or_else(|| AppError::not_found(&table))?;
    let name = contract.name.clone();
    let lake = st.lake().clone();
    let parquet = q.format.as_deref() == Some("parquet");
    let bytes = crate::upload::blocking(move || -> Result<Vec<u8>, AppError> {
        let mut frame = lake.read_table(&name)?;
        if frame.height() == 0 {
            return Err(AppError::not_found(&format!(
                "{name}（尚未生成 not produced yet）"
            )));
        }
        if !who.admin && frame.column("region_code").is_ok() {
            let to_app = |e: PolarsError| AppError::from(crate::ServerError::from(e));
            let mask: BooleanChunked = frame
                .column("region_code")
                .and_then(|c| c.cast(&DataType::String))
                .map_err(to_app)?
                .str()
                .map_err(to_app)?
                .iter()
                .map(|r| Some(r.is_some_and(|r| who.may_region(r))))
                .collect();
            frame = frame.filter(&mask).map_err(to_app)?;
        }
        if parquet {
            Ok(homeseason_lake::Lake::parquet_bytes(&name, &frame)?)
        } else {
            csv_bytes(&mut frame)
        }
    })
    .await??;
    if parquet {
        Ok((
            [
                (
                    header::CONTENT_TYPE,
                    "application/vnd.apache.parquet".to_owned(),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{table}.parquet\""),
                ),
            ],
            bytes,
        )
            .into_response())
    } else {
        Ok(csv_response(&format!("{table}.csv"), bytes))
    }
}

async fn report_file(st: &AppState, name: &str, content_type: &str) -> Result<Response, AppError> {
    let path = st.config().report_dir().join(name);
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|_| AppError::not_found("report 报告（homeseason report --out <data>/report）"))?;
    Ok((
        [(header::CONTENT_TYPE, content_type.to_owned())],
        Body::from(bytes),
    )
        .into_response())
}

async fn report_html(State(st): State<AppState>, Auth(_who): Auth) -> Result<Response, AppError> {
    report_file(&st, "report.html", "text/html; charset=utf-8").await
}

async fn report_headline(
    State(st): State<AppState>,
    Auth(_who): Auth,
) -> Result<Response, AppError> {
    report_file(&st, "headline.json", "application/json").await
}

/// How many audit entries.
#[derive(Debug, Default, Deserialize)]
struct LimitQuery {
    limit: Option<usize>,
}

async fn audit(
    State(st): State<AppState>,
    Auth(who): Auth,
    Query(q): Query<LimitQuery>,
) -> Result<Response, AppError> {
    if !who.admin {
        return Err(AppError::forbidden(
            "只有管理员可以查看审计日志",
            "only an administrator may read the audit log",
        ));
    }
    let mut events = st.audit().read_all()?;
    let limit = q.limit.unwrap_or(200).min(10_000);
    let skip = events.len().saturating_sub(limit);
    let events = events.split_off(skip);
    Ok(Json(json!({ "events": events })).into_response())
}

#[cfg(test)]
mod csv_tests {
    use super::*;

    #[test]
    fn formula_cells_are_shown_as_text() {
        let mut frame = df!(
            "raw" => ["=HYPERLINK(\"http://x\")", "+1+2", "-3", "@SUM(A1)", "普通文本", "1,2"],
            "line" => [1i64, 2, 3, 4, 5, 6],
        )
        .expect("frame");
        let bytes = csv_bytes(&mut frame).expect("csv");
        let text = String::from_utf8(bytes).expect("utf-8");
        for cell in ["'=HYPERLINK", "'+1+2", "'-3", "'@SUM(A1)"] {
            assert!(text.contains(cell), "{cell} in {text}");
        }
        assert!(text.contains("\n普通文本,5"), "{text}");
        assert!(!text.contains("'普通"), "{text}");
    }
}
