//! # homeseason-pipeline
//!
//! The one place where files become lake rows and where the lake becomes outputs. The `homeseason`
//! command and the upload server are siblings on top of it; neither reaches into the other.
//!
//! **Files into the lake** ([`intake`]): every feed, every entry point — `homeseason ingest` (files on
//! disk, [`ingest_paths`]), an upload to the server and `homeseason pull` (bytes in memory,
//! [`ingest_file`], or [`prepare`] then [`commit_prepared`] with the server's scope checks in
//! between). Transaction files always go through the streaming ingest with the lake's txn-id index
//! ([`payments`]), whichever way they arrived; institution profiles are loaded once
//! ([`Profiles::load`]) and passed in.
//!
//! **The lake into outputs** ([`outputs`]): uplift with its baselines, weekly tracking, data
//! completeness ([`completeness`]), triangulation, local events, the activity summary and the
//! report with its workbook. At prefecture-city level ([`city`]): `uplift --level city` from
//! `payment_area_daily` into the lake's `levels/city/` folder, and a province's city report.
//!
//! **Templates** ([`template`]): the blank files liaisons fill in, one generator for the command
//! and the server.
//!
//! All lake reads go through `homeseason-lake`; the statistics live in `homeseason-metrics` and
//! `homeseason-stats`, the report's layout in `homeseason-report`.
#![deny(missing_docs)]

pub mod city;
pub mod completeness;
pub mod dimensions;
mod error;
pub mod fit_cache;
pub mod intake;
pub mod outputs;
pub mod payments;
pub mod publish;
pub mod template;

pub use error::{PipelineError, Result};
pub use intake::{
    Committed, Fate, FileRejects, FileResult, KeepRejects, Prepared, RejectedRow, Source,
    commit_fresh, commit_prepared, expand, ingest_file, ingest_nbs, ingest_paths,
    ingest_paths_keeping, input_is_uri, prepare, record_refusal, uri_needs_spark,
};
pub use payments::{Profiles, settle_transactions, write_dashboard};
