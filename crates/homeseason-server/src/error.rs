//! Errors: [`ServerError`] for the library's own failures, [`AppError`] for what a request is told.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Failures of the server's stores (tokens, audit log, raw store, registry) and of the lake.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A filesystem operation failed.
    #[error(transparent)]
    Io(#[from] homeseason_lake::IoError),
    /// A JSON store could not be read or written.
    #[error("{path}: {reason}")]
    Store {
        /// Path.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// A request to add or change a token was invalid (unknown region or feed, no scope …).
    #[error("{0}")]
    Invalid(String),
    /// The lake failed.
    #[error(transparent)]
    Lake(#[from] homeseason_lake::LakeError),
    /// A dataframe operation failed.
    #[error("table: {0}")]
    Polars(#[from] polars::prelude::PolarsError),
    /// The pipeline (validation, lake commit, completeness) failed.
    #[error(transparent)]
    Pipeline(#[from] homeseason_pipeline::PipelineError),
}

/// Result alias for this crate.
pub type Result<T, E = ServerError> = std::result::Result<T, E>;

pub(crate) fn io_err<'a>(
    action: &'static str,
    path: &'a std::path::Path,
) -> impl FnOnce(std::io::Error) -> ServerError + 'a {
    homeseason_lake::IoError::on(action, path)
}

/// An error answered to a client: an HTTP status, a stable code and a message in Chinese and English.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code, e.g. `unauthorized`, `too_large`.
    pub code: &'static str,
    /// Message in Chinese.
    pub message_zh: String,
    /// Message in English.
    pub message_en: String,
}

/// The JSON body of every error response.
#[derive(Debug, Serialize)]
pub(crate) struct ErrorBody<'a> {
    error: &'a str,
    message_zh: &'a str,
    message_en: &'a str,
}

impl AppError {
    /// A new error.
    #[must_use]
    pub fn new(
        status: StatusCode,
        code: &'static str,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) -> AppError {
        AppError {
            status,
            code,
            message_zh: zh.into(),
            message_en: en.into(),
        }
    }

    pub(crate) fn unauthorized() -> AppError {
        AppError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "缺少或无效的访问令牌，请重新登录",
            "missing or invalid token: log in again",
        )
    }

    pub(crate) fn revoked() -> AppError {
        AppError::new(
            StatusCode::UNAUTHORIZED,
            "token_revoked",
            "该访问令牌已被吊销，请联系管理员",
            "this token has been revoked: ask the administrator for a new one",
        )
    }

    pub(crate) fn forbidden(zh: impl Into<String>, en: impl Into<String>) -> AppError {
        AppError::new(StatusCode::FORBIDDEN, "forbidden", zh, en)
    }

    pub(crate) fn bad_request(
        code: &'static str,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) -> AppError {
        AppError::new(StatusCode::BAD_REQUEST, code, zh, en)
    }

    pub(crate) fn not_found(what: &str) -> AppError {
        AppError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("未找到：{what}"),
            format!("not found: {what}"),
        )
    }

    /// One line for logs and the audit trail: `code: English message`.
    #[must_use]
    pub fn summary(&self) -> String {
        format!("{}: {}", self.code, self.message_en)
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} / {}",
            self.status.as_u16(),
            self.message_zh,
            self.message_en
        )
    }
}

impl std::error::Error for AppError {}

impl From<ServerError> for AppError {
    fn from(e: ServerError) -> AppError {
        AppError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "服务器内部错误，请稍后重试",
            format!("internal error: {e}"),
        )
    }
}

impl From<homeseason_pipeline::PipelineError> for AppError {
    fn from(e: homeseason_pipeline::PipelineError) -> AppError {
        ServerError::from(e).into()
    }
}

impl From<homeseason_lake::LakeError> for AppError {
    fn from(e: homeseason_lake::LakeError) -> AppError {
        ServerError::from(e).into()
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.code,
            message_zh: &self.message_zh,
            message_en: &self.message_en,
        };
        (self.status, Json(body)).into_response()
    }
}
