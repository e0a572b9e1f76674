//! The pipeline's error: what a step could not do, with the path or table it concerns.

use std::path::Path;

use homeseason_lake::IoError;

/// What went wrong in a pipeline step. A file refused whole is not an error: it is a
/// [`crate::Fate::Refused`], recorded in the lake's manifest.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// A file or folder could not be read or written.
    #[error(transparent)]
    Io(#[from] IoError),
    /// The lake refused or failed a read or a commit.
    #[error(transparent)]
    Lake(#[from] homeseason_lake::LakeError),
    /// An institution profile could not be read.
    #[error(transparent)]
    Profile(#[from] homeseason_ingest::ProfileError),
    /// A file could not be ingested (outside the refusals recorded as a [`crate::Fate`]).
    #[error(transparent)]
    Ingest(#[from] homeseason_ingest::IngestError),
    /// An estimate could not be made.
    #[error(transparent)]
    Metrics(#[from] homeseason_metrics::MetricsError),
    /// The report could not be built.
    #[error(transparent)]
    Report(#[from] homeseason_report::ReportError),
    /// The workbook could not be built.
    #[error(transparent)]
    Workbook(#[from] homeseason_report::workbook::WorkbookError),
    /// A template could not be built.
    #[error("building the template: {0}")]
    Template(#[from] rust_xlsxwriter::XlsxError),
    /// A frame operation failed.
    #[error(transparent)]
    Polars(#[from] polars::error::PolarsError),
    /// A report could not be serialised.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// The input does not allow the step (no rows to estimate from, a date outside the window …);
    /// the message says what to do, in English and Chinese.
    #[error("{0}")]
    Invalid(String),
}

/// The pipeline's result type.
pub type Result<T, E = PipelineError> = std::result::Result<T, E>;

/// Map an IO error on `path` to [`PipelineError::Io`].
pub(crate) fn io_err<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> PipelineError + 'a {
    IoError::on(action, path)
}
