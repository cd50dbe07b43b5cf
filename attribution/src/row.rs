//! The share and cost rows: the public contract of the attribution commands.
//!
//! Field order is the contract's (the source article's fields first, exactly as it wrote them),
//! and serde serializes in declaration order, so JSON, NDJSON and CSV all follow it. Unattributed
//! CPU (no route was current) is a row with `feature_id` [`UNATTRIBUTED_ID`] and `feature`,
//! `endpoint`, `feature_group`, `team`, `tier` all null: it joins the dimension tables' id -1
//! "unknown" member. A feature name that neither the registry nor its lock knows keeps its name,
//! also with id -1.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::time::UtcTime;

/// A name that repeats from row to row: a deployment, feature, endpoint, group, team, tier or
/// currency. A month of shares is 21.6 million rows of a few hundred distinct names; shared,
/// a name is allocated once when read (by the readers' name table) and a row's copy of it (a
/// share row's into its cost row) is a reference count, not a string. It reads, compares,
/// hashes, orders and serializes as its text.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(Arc<str>);

impl Name {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for Name {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl From<&str> for Name {
    fn from(text: &str) -> Name {
        Name(text.into())
    }
}

impl From<String> for Name {
    fn from(text: String) -> Name {
        Name(text.into())
    }
}

impl From<&String> for Name {
    fn from(text: &String) -> Name {
        Name(text.as_str().into())
    }
}

impl From<Name> for String {
    fn from(name: Name) -> String {
        name.0.as_ref().to_owned()
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<Name> for str {
    fn eq(&self, other: &Name) -> bool {
        self == &*other.0
    }
}

impl PartialEq<Name> for &str {
    fn eq(&self, other: &Name) -> bool {
        *self == &*other.0
    }
}

impl PartialEq<Name> for String {
    fn eq(&self, other: &Name) -> bool {
        **self == *other.0
    }
}

impl Serialize for Name {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Name, D::Error> {
        String::deserialize(deserializer).map(Name::from)
    }
}

/// The most distinct names a [`Names`] holds before it starts over: a few hundred is usual,
/// and a file of ever-new names (request paths by mistake) must not grow memory without end.
const MAX_NAMES: usize = 1 << 14;

/// The names read so far, by their bytes: each distinct name is checked as UTF-8 and
/// allocated once, and every later cell of the same text is a clone of it.
#[derive(Default)]
pub(crate) struct Names {
    held: foldhash::HashMap<Box<[u8]>, Name>,
}

impl Names {
    /// The name of `bytes`; an error when they are not UTF-8.
    pub(crate) fn get(&mut self, bytes: &[u8]) -> Result<Name, std::str::Utf8Error> {
        if let Some(name) = self.held.get(bytes) {
            return Ok(name.clone());
        }
        let name = Name::from(std::str::from_utf8(bytes)?);
        if self.held.len() == MAX_NAMES {
            self.held.clear();
        }
        self.held.insert(bytes.into(), name.clone());
        Ok(name)
    }
}

/// The id of the dimension tables' "unknown" member: unattributed CPU and unknown features.
pub const UNATTRIBUTED_ID: i64 = -1;

/// CPU share of one (step, deployment, feature, endpoint): a row of `fact_cpu_share`.
///
/// Key: (`start_time`, `deployment`, `feature_id`, `endpoint`). Per (step, deployment), `cpu_ns`
/// sums to the CPU of every profile of that deployment and step, and `percentage_of_cpu` sums
/// to 1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShareRow {
    /// Start of the step, inclusive.
    pub start_time: UtcTime,
    /// End of the step, exclusive.
    pub end_time: UtcTime,
    /// The deployment whose CPU this is (its `deployment` label, else its `service_name`).
    pub deployment: Name,
    /// The feature's registry name; null for unattributed CPU.
    pub feature: Option<Name>,
    /// The endpoint label; null for unattributed CPU.
    pub endpoint: Option<Name>,
    /// This row's CPU as a fraction of 1 of the deployment's CPU in the step.
    pub percentage_of_cpu: f64,
    /// Stable id from `featgen.lock`; [`UNATTRIBUTED_ID`] when unattributed or unknown.
    pub feature_id: i64,
    /// The feature's group; null when unattributed or unknown.
    pub feature_group: Option<Name>,
    /// The owning team; null when unattributed or unknown.
    pub team: Option<Name>,
    /// The feature's tier; null when unattributed or unknown.
    pub tier: Option<Name>,
    /// CPU time in nanoseconds.
    pub cpu_ns: u64,
    /// Profiler samples behind `cpu_ns` (the sampling error is about `1/sqrt(samples)`).
    pub samples: u64,
    /// Completed calls of the route in the step; null when the profiles carry no counts.
    pub requests: Option<u64>,
}

/// CPU measured under one label set in one step, before shares are computed: what the profile
/// reader and the Pyroscope query both yield, and what `shares` turns into [`ShareRow`]s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabeledCpu {
    /// Start of the step the CPU falls in.
    pub step_start: UtcTime,
    /// The deployment (its `deployment` label, else its `service_name`).
    pub deployment: String,
    /// The `feature` label; `None` for CPU that ran under no route.
    pub feature: Option<String>,
    /// The `feature_id` label, when the profile carries it (it survives renames).
    pub feature_id: Option<i64>,
    /// The `endpoint` label; `None` for CPU that ran under no route.
    pub endpoint: Option<String>,
    /// CPU time in nanoseconds.
    pub cpu_ns: u64,
    /// Profiler samples behind `cpu_ns` (0 when the source gives totals only).
    pub samples: u64,
    /// Completed calls, when the source counts them.
    pub requests: Option<u64>,
}

/// Which bucket a dollar landed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    /// A (feature, endpoint)'s share of its deployment's bill.
    Feature,
    /// CPU that ran under no route, priced like the rest.
    Unattributed,
    /// A billed deployment-hour with no profile at all.
    Unprofiled,
    /// Billing rows that name no deployment (and GKE's `kube:*` buckets, by name).
    Unallocated,
}

impl Bucket {
    /// The name written in rows (`feature`, `unattributed`, `unprofiled`, `unallocated`).
    pub const fn name(self) -> &'static str {
        match self {
            Bucket::Feature => "feature",
            Bucket::Unattributed => "unattributed",
            Bucket::Unprofiled => "unprofiled",
            Bucket::Unallocated => "unallocated",
        }
    }
}

/// Cost of one (step, deployment, currency, bucket, feature, endpoint): a row of
/// `fact_feature_cost`.
///
/// The share row's fields, then the money. Key: (`start_time`, `deployment`, `currency`,
/// `bucket`, `feature_id`, `endpoint`). For every (step, deployment, currency) the rows' `cost`
/// sums exactly to the billed amount read for it. Unprofiled and unallocated rows have no CPU:
/// `percentage_of_cpu` is 1 for their whole slice, `cpu_ns` and `samples` 0. An unallocated
/// row's `deployment` is the bucket the bill names (GKE's `kube:unallocated`) or empty.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CostRow {
    /// Start of the step, inclusive.
    pub start_time: UtcTime,
    /// End of the step, exclusive.
    pub end_time: UtcTime,
    /// The billed deployment.
    pub deployment: Name,
    /// The feature's registry name; null outside the `feature` bucket.
    pub feature: Option<Name>,
    /// The endpoint label; null outside the `feature` bucket.
    pub endpoint: Option<Name>,
    /// The share of the deployment's CPU this cost was apportioned by.
    pub percentage_of_cpu: f64,
    /// Stable id from `featgen.lock`; [`UNATTRIBUTED_ID`] outside the `feature` bucket or when
    /// the feature is unknown.
    pub feature_id: i64,
    /// The feature's group, when known.
    pub feature_group: Option<Name>,
    /// The owning team, when known.
    pub team: Option<Name>,
    /// The feature's tier, when known.
    pub tier: Option<Name>,
    /// CPU time in nanoseconds.
    pub cpu_ns: u64,
    /// Profiler samples behind `cpu_ns`.
    pub samples: u64,
    /// Completed calls in the step, when the profiles carry counts.
    pub requests: Option<u64>,
    /// The apportioned amount: a decimal string in JSON, DECIMAL/NUMERIC in SQL; never a float.
    pub cost: Decimal,
    /// ISO 4217 code of `cost` (`USD`). Currencies are never mixed in a sum.
    pub currency: Name,
    /// Which bucket the amount landed in.
    pub bucket: Bucket,
    /// `cost / requests`, when requests are known and non-zero.
    pub cost_per_request: Option<Decimal>,
    /// What the article's naive "equal cost per request" method would have charged this row.
    pub cost_if_equal_per_request: Option<Decimal>,
}

impl CostRow {
    /// `share`'s fields priced at `cost` in `currency`, in `bucket`; the per-request figures
    /// unset (set them with struct update syntax).
    pub fn priced(share: ShareRow, cost: Decimal, currency: Name, bucket: Bucket) -> CostRow {
        CostRow {
            start_time: share.start_time,
            end_time: share.end_time,
            deployment: share.deployment,
            feature: share.feature,
            endpoint: share.endpoint,
            percentage_of_cpu: share.percentage_of_cpu,
            feature_id: share.feature_id,
            feature_group: share.feature_group,
            team: share.team,
            tier: share.tier,
            cpu_ns: share.cpu_ns,
            samples: share.samples,
            requests: share.requests,
            cost,
            currency,
            bucket,
            cost_per_request: None,
            cost_if_equal_per_request: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_row_serializes_in_contract_order() {
        let row = ShareRow {
            start_time: "2025-06-12 15:00:00 UTC".parse().unwrap(),
            end_time: "2025-06-12 16:00:00 UTC".parse().unwrap(),
            deployment: "messages-production".into(),
            feature: Some("messaging".into()),
            endpoint: Some("create_message".into()),
            percentage_of_cpu: 0.28578202239694406,
            feature_id: 1,
            feature_group: Some("chat".into()),
            team: Some("msgs-team".into()),
            tier: Some("S".into()),
            cpu_ns: 1_028_815_280_630,
            samples: 102_881,
            requests: Some(3_400_101),
        };
        let json = serde_json::to_string(&row).unwrap();
        assert_eq!(
            json,
            r#"{"start_time":"2025-06-12 15:00:00 UTC","end_time":"2025-06-12 16:00:00 UTC","deployment":"messages-production","feature":"messaging","endpoint":"create_message","percentage_of_cpu":0.28578202239694406,"feature_id":1,"feature_group":"chat","team":"msgs-team","tier":"S","cpu_ns":1028815280630,"samples":102881,"requests":3400101}"#
        );
        assert_eq!(serde_json::from_str::<ShareRow>(&json).unwrap(), row);
    }

    #[test]
    fn cost_is_a_decimal_string() {
        let row = CostRow {
            start_time: UtcTime(0),
            end_time: UtcTime(3_600),
            deployment: "api".into(),
            feature: None,
            endpoint: None,
            percentage_of_cpu: 1.0,
            feature_id: UNATTRIBUTED_ID,
            feature_group: None,
            team: None,
            tier: None,
            cpu_ns: 0,
            samples: 0,
            requests: None,
            cost: "12.340".parse().unwrap(),
            currency: "USD".into(),
            bucket: Bucket::Unprofiled,
            cost_per_request: None,
            cost_if_equal_per_request: None,
        };
        let json = serde_json::to_value(&row).unwrap();
        assert_eq!(json["cost"], "12.340");
        assert_eq!(json["bucket"], "unprofiled");
        assert_eq!(serde_json::from_value::<CostRow>(json).unwrap(), row);
    }
}
