//! End-to-end tests: drive the real `homeseason` binary on data the project generates.
#![expect(
    clippy::print_stderr,
    reason = "long tests say what they measured (seen with --nocapture)"
)]

mod util;

mod campaign2024;
mod city;
mod cli_outputs;
mod completeness;
mod corpus;
mod crash;
mod delivery;
mod demo;
mod dimensions;
mod feeds;
mod full_disk;
mod geolift;
mod impact;
mod ingest;
mod liaison;
mod payments;
mod readers;
mod report_browser;
mod serve;
mod snapshots;
mod spark;
mod subsidies;
mod urban_rural;
mod visibility;
