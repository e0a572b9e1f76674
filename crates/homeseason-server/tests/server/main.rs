//! Tests of the upload service: the router without a socket, a real server on loopback driven by the
//! client, the abuse suite, and the round trip in headless Chromium.

mod util;

mod abuse;
mod browser;
mod fuzz_smoke;
mod loopback;
mod router;
