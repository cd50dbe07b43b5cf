//! CPU per label set to share rows: per (step, deployment), each (feature, endpoint)'s
//! fraction of the deployment's CPU.
//!
//! Label sets are resolved through the registry first ([`Resolver`]), so that an old name, the
//! current name and the `feature_id` of one feature land in one row. CPU with no feature label
//! is the unattributed row (feature id -1, no names): never dropped, never spread. A name the
//! registry does not know keeps its name with id -1 and is reported in [`Shares::unknown`].
//!
//! Rows are ordered by (start_time, deployment, feature, endpoint), with the unattributed row
//! first in its slice; `cpu_ns` of a slice sums exactly to the CPU read for it, and
//! `percentage_of_cpu` is each row's CPU over that sum, so the shares sum to 1 up to float
//! rounding.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::period::Step;
use crate::profiles::{ReadOptions, read_dir};
use crate::pyroscope::{PyroscopeClient, PyroscopeQuery};
use crate::resolve::{Resolved, Resolver};
use crate::row::{LabeledCpu, ShareRow, UNATTRIBUTED_ID};
use crate::time::UtcTime;

/// Share rows and what could not be resolved.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Shares {
    /// The rows, in contract order.
    pub rows: Vec<ShareRow>,
    /// Feature names unknown to the registry and its lock, with their CPU (ns).
    pub unknown: BTreeMap<String, u64>,
}

impl Shares {
    /// One line per unknown feature name, for stderr.
    pub fn warnings(&self) -> Vec<String> {
        self.unknown
            .iter()
            .map(|(name, cpu_ns)| {
                format!(
                    "feature `{name}` is not in the registry or its lock: its {cpu_ns} ns of CPU keep the name with feature_id -1 (add it to the registry, or `renamed_from` if it was renamed)"
                )
            })
            .collect()
    }
}

/// Where CPU per label set comes from.
pub enum CpuSource {
    /// A directory of pprof files ([`read_dir`]).
    Profiles {
        /// The directory, read recursively.
        dir: PathBuf,
        /// How to read it (the period among them).
        options: ReadOptions,
    },
    /// Grafana Pyroscope's `SelectSeries`.
    Pyroscope {
        /// The client (URL, credentials, TLS).
        client: Box<PyroscopeClient>,
        /// The query (the period among it).
        query: PyroscopeQuery,
    },
}

/// Share rows read from a source, with what the user should be told.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SourceShares {
    /// The rows and the unknown feature names.
    pub shares: Shares,
    /// What was not counted or not resolved, one line each, for stderr.
    pub warnings: Vec<String>,
    /// What was read, for stderr (`12 CPU profile(s) read of 14 file(s) under DIR, ...`).
    pub description: String,
}

/// Reads the CPU of `source` and reduces it to share rows ([`shares`]): the one path of
/// `featgen shares` and of `featgen cost --profiles`/`--pyroscope`. The error is a message
/// naming the file or URL.
pub fn share_rows(
    source: &CpuSource,
    step: Step,
    resolver: &Resolver,
) -> Result<SourceShares, String> {
    let (cpu, mut warnings, description) = match source {
        CpuSource::Profiles { dir, options } => {
            let read = read_dir(dir, options).map_err(|err| err.to_string())?;
            let summary = &read.summary;
            let description = format!(
                "{} CPU profile(s) read of {} file(s) under {}, {} outside the period",
                summary.profiles,
                summary.files,
                dir.display(),
                summary.outside_period
            );
            (read.cpu, summary.warnings(), description)
        }
        CpuSource::Pyroscope { client, query } => {
            let cpu = client.cpu(query).map_err(|err| err.to_string())?;
            (cpu, Vec::new(), format!("queried {}", client.base_url()))
        }
    };
    let shares = shares(cpu, step, resolver);
    warnings.extend(shares.warnings());
    Ok(SourceShares {
        shares,
        warnings,
        description,
    })
}

/// A row's identity within a (step, deployment) slice.
type RowKey = (Option<String>, Option<String>);

/// Sums of one row.
#[derive(Default)]
struct RowSums {
    resolved: Option<Resolved>,
    cpu_ns: u64,
    samples: u64,
    requests: Option<u64>,
}

/// Turns CPU per label set into share rows (see the module documentation).
pub fn shares(
    cpu: impl IntoIterator<Item = LabeledCpu>,
    step: Step,
    resolver: &Resolver,
) -> Shares {
    let mut slices: BTreeMap<(UtcTime, String), BTreeMap<RowKey, RowSums>> = BTreeMap::new();
    let mut unknown = BTreeMap::new();
    for labeled in cpu {
        let resolved = labeled
            .feature
            .as_deref()
            .map(|name| resolver.resolve(name, labeled.feature_id));
        if let Some(resolved) = resolved.as_ref().filter(|resolved| !resolved.known) {
            *unknown.entry(resolved.feature.clone()).or_default() += labeled.cpu_ns;
        }
        let key = (
            resolved.as_ref().map(|resolved| resolved.feature.clone()),
            resolved.as_ref().and(labeled.endpoint),
        );
        let sums = slices
            .entry((labeled.step_start, labeled.deployment))
            .or_default()
            .entry(key)
            .or_default();
        sums.resolved = resolved;
        sums.cpu_ns += labeled.cpu_ns;
        sums.samples += labeled.samples;
        sums.requests = match (sums.requests, labeled.requests) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        };
    }
    let mut rows = Vec::new();
    for ((start_time, deployment), slice) in slices {
        let total: u64 = slice.values().map(|sums| sums.cpu_ns).sum();
        if total == 0 {
            // No CPU, nothing to share: a slice of requests only has no meaningful shares.
            continue;
        }
        let end_time = UtcTime(start_time.0 + step.seconds());
        for ((feature, endpoint), sums) in slice {
            let resolved = sums.resolved;
            rows.push(ShareRow {
                start_time,
                end_time,
                deployment: deployment.as_str().into(),
                feature: feature.map(Into::into),
                endpoint: endpoint.map(Into::into),
                percentage_of_cpu: sums.cpu_ns as f64 / total as f64,
                feature_id: resolved.as_ref().map_or(UNATTRIBUTED_ID, |r| r.feature_id),
                feature_group: resolved
                    .as_ref()
                    .and_then(|r| r.feature_group.as_deref().map(Into::into)),
                team: resolved
                    .as_ref()
                    .and_then(|r| r.team.as_deref().map(Into::into)),
                tier: resolved.and_then(|r| r.tier).map(Into::into),
                cpu_ns: sums.cpu_ns,
                samples: sums.samples,
                requests: sums.requests,
            });
        }
    }
    Shares { rows, unknown }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cpu(
        step: i64,
        deployment: &str,
        feature: Option<&str>,
        endpoint: Option<&str>,
        ns: u64,
    ) -> LabeledCpu {
        LabeledCpu {
            step_start: UtcTime(step),
            deployment: deployment.into(),
            feature: feature.map(Into::into),
            feature_id: None,
            endpoint: endpoint.map(Into::into),
            cpu_ns: ns,
            samples: ns / 10,
            requests: None,
        }
    }

    #[test]
    fn one_slice_per_step_and_deployment_with_unattributed_first() {
        let input = vec![
            cpu(3_600, "api", Some("messaging"), Some("send"), 30),
            cpu(3_600, "api", None, None, 10),
            cpu(3_600, "api", Some("messaging"), Some("send"), 20),
            cpu(3_600, "api", Some("mystery"), Some("x"), 40),
            cpu(0, "api", Some("messaging"), Some("send"), 5),
            cpu(3_600, "worker", Some("messaging"), Some("send"), 7),
        ];
        let shares = shares(input, Step::Hour, &Resolver::empty());
        let rows: Vec<_> = shares
            .rows
            .iter()
            .map(|r| {
                (
                    r.start_time.0,
                    r.deployment.as_str(),
                    r.feature.as_deref(),
                    r.cpu_ns,
                    r.percentage_of_cpu,
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                (0, "api", Some("messaging"), 5, 1.0),
                (3_600, "api", None, 10, 0.1),
                (3_600, "api", Some("messaging"), 50, 0.5),
                (3_600, "api", Some("mystery"), 40, 0.4),
                (3_600, "worker", Some("messaging"), 7, 1.0),
            ]
        );
        let unattributed = &shares.rows[1];
        assert_eq!(unattributed.feature_id, UNATTRIBUTED_ID);
        assert_eq!(
            (unattributed.endpoint.as_ref(), unattributed.team.as_ref()),
            (None, None)
        );
        assert_eq!(shares.rows[1].end_time, UtcTime(7_200));
        // With no registry every name is unknown, and counted.
        assert_eq!(shares.unknown.get("messaging"), Some(&62));
        assert_eq!(shares.unknown.get("mystery"), Some(&40));
    }

    #[test]
    fn requests_are_null_only_when_no_input_counts_them() {
        let mut a = cpu(0, "api", Some("m"), Some("e"), 10);
        let b = cpu(0, "api", Some("m"), Some("e"), 10);
        assert_eq!(
            shares(vec![a.clone(), b.clone()], Step::Hour, &Resolver::empty()).rows[0].requests,
            None
        );
        a.requests = Some(3);
        assert_eq!(
            shares(vec![a, b], Step::Hour, &Resolver::empty()).rows[0].requests,
            Some(3)
        );
    }

    proptest! {
        #[test]
        fn cpu_sums_exactly_and_shares_sum_to_one(
            input in prop::collection::vec(
                (0..3i64, 0..3usize, prop::option::of(0..6usize), 0..4usize, 0..1_000_000_000_000u64),
                1..80,
            )
        ) {
            let deployments = ["api", "worker", "cron"];
            let features = ["a", "b", "c", "d", "e", "f"];
            let labeled: Vec<_> = input
                .iter()
                .map(|&(step, deployment, feature, endpoint, ns)| LabeledCpu {
                    step_start: UtcTime(step * 3_600),
                    deployment: deployments[deployment].into(),
                    feature: feature.map(|f| features[f].to_owned()),
                    feature_id: None,
                    endpoint: feature.map(|_| format!("e{endpoint}")),
                    cpu_ns: ns,
                    samples: ns / 10_000_000,
                    requests: None,
                })
                .collect();
            let result = shares(labeled.clone(), Step::Hour, &Resolver::empty());
            let mut expected: BTreeMap<(UtcTime, String), u64> = BTreeMap::new();
            for l in &labeled {
                *expected.entry((l.step_start, l.deployment.clone())).or_default() += l.cpu_ns;
            }
            let mut got: BTreeMap<(UtcTime, String), (u64, f64)> = BTreeMap::new();
            for row in &result.rows {
                let entry = got.entry((row.start_time, row.deployment.to_string())).or_default();
                entry.0 += row.cpu_ns;
                entry.1 += row.percentage_of_cpu;
            }
            expected.retain(|_, total| *total > 0);
            prop_assert_eq!(expected.len(), got.len());
            for (key, total) in expected {
                let (cpu, share) = got[&key];
                prop_assert_eq!(cpu, total);
                prop_assert!((share - 1.0).abs() < 1e-9, "{share}");
            }
            let mut sorted = result.rows.clone();
            sorted.sort_by(|a, b| (a.start_time, &a.deployment, &a.feature, &a.endpoint).cmp(&(b.start_time, &b.deployment, &b.feature, &b.endpoint)));
            prop_assert_eq!(sorted, result.rows);
        }
    }
}
