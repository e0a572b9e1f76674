//! Being written: see the crate docs.
