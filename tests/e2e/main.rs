//! End-to-end tests: drive the real `homeseason` binary on data the project generates.

mod util;

mod corpus;
mod crash;
mod demo;
mod feeds;
mod full_disk;
mod geolift;
mod impact;
mod ingest;
mod payments;
mod readers;
mod report_browser;
mod serve;
mod spark;
