//! featgen-attribution: what each feature costs, from profiles and the cloud bill.
//!
//! The rows of [`row`] are the contract between `featgen shares`, `featgen cost`,
//! `featgen report`, the warehouse tables and anyone's own pipeline (the design's
//! "Attribution contracts"): a [`ShareRow`] per (step, deployment, feature, endpoint) with its
//! fraction of the deployment's CPU, and a [`CostRow`] that prices it so that the rows of every
//! (step, deployment, currency) sum exactly to the bill.

#![forbid(unsafe_code)]

pub mod apportion;
pub mod billing;
mod columnar;
pub mod cost;
pub mod format;
pub mod period;
pub mod postgres;
pub mod pprof;
pub mod profiles;
pub mod pyroscope;
pub mod resolve;
pub mod row;
pub mod shares;
pub mod statsd;
pub mod time;

pub use row::{Bucket, CostRow, LabeledCpu, Name, ShareRow, UNATTRIBUTED_ID};
pub use time::UtcTime;
