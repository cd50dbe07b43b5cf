//! The feature registry of this repository (`registry/`) as Rust enums: `Feature`,
//! `FeatureGroup`, `Team` and `Tier`, with their const metadata API.
//!
//! `features.rs` is written by `featgen build` and verified by `featgen check`; this file is
//! not generated. Enable the `serde` feature for `Serialize`/`Deserialize` as the YAML names.

#![forbid(unsafe_code)]

// Generated text is compared byte for byte by `featgen check`; rustfmt must not rewrite it.
#[rustfmt::skip]
mod features;

pub use features::*;
