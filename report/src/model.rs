//! The data embedded in the page: per (period, deployment) tables and changes, per deployment
//! time series, all computed here so the page only draws and sorts.
//!
//! The shape is compact on purpose (arrays, names once in dictionaries): a month of 300
//! deployments must stay a few megabytes. Money is a decimal string rounded to 4 places
//! (sub-cent, so the CSV keeps precision); the page formats it to cents without floats. Chart
//! values are numbers rounded to 4 significant digits: only their drawing depends on them.

use std::collections::BTreeMap;

use featgen_attribution::{Bucket, UtcTime};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;

use crate::aggregate::{Aggregates, Span, Sums, decimal_to_f64};
use crate::change::{self, Change};

/// Rows shown per level in "What changed" (the largest cost impacts); the rest are counted.
const CHANGES_SHOWN: usize = 10;
/// Name of the deployment entry that sums every deployment.
pub(crate) const ALL_DEPLOYMENTS: &str = "All deployments";

/// Everything the page reads (`<script type="application/json">`).
#[derive(Serialize)]
pub(crate) struct Data {
    /// ISO 4217 code of every amount.
    currency: String,
    /// Window start and end, as the contract writes times.
    window: [String; 2],
    /// Seconds per point of the time series.
    resolution: i64,
    /// [`ALL_DEPLOYMENTS`], then every deployment, sorted.
    deployments: Vec<String>,
    /// Feature dictionary: `[bucket, feature, group, team, tier]` labels.
    features: Vec<[String; 5]>,
    /// Endpoint dictionary: `[feature index, endpoint label]`.
    leaves: Vec<(u32, String)>,
    /// The periods the page offers, the whole window first.
    periods: Vec<PeriodOut>,
    /// `slices[period][deployment]`: tables and changes; null when nothing was billed or
    /// profiled there.
    slices: Vec<Vec<Option<Slice>>>,
    /// Unix seconds of the time-series points (the window's time buckets).
    times: Vec<i64>,
    /// `series[deployment]`: per feature, `[feature index, cost per point, CPU s per point]`.
    series: Vec<Vec<Series>>,
}

#[derive(Serialize)]
struct PeriodOut {
    label: String,
    /// `[start, end)` in Unix seconds.
    span: [i64; 2],
    /// The previous period's label, when the rows cover it.
    previous: Option<String>,
}

/// Key of a table row: an index into the feature or endpoint dictionary, or a label.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(untagged)]
enum Key {
    Index(u32),
    Label(String),
}

/// `[key, cost, CPU s, samples, requests]` (requests null when unknown; the page divides
/// cost by requests for display, a ratio shown to 4 significant digits).
type Row = (Key, String, f64, u64, Option<u64>);

/// `[feature index, naive charge, cost − naive]`, for features whose rows all count requests.
type NaiveRow = (Key, String, String);

/// One deployment's time series of one feature: `[feature index, cost per point, CPU s per
/// point]`.
type Series = (u32, Vec<f64>, Vec<f64>);

/// `[key, cost before, cost now, Δcost, ±cost, share before, share now, ±share, CPU/request
/// before, CPU/request now, ±CPU/request, flags]`.
type ChangeRow = (
    Key,
    String,
    String,
    String,
    Option<f64>,
    f64,
    f64,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    u8,
);

#[derive(Serialize)]
struct Slice {
    /// `[cost, CPU s, samples]` of everything in the slice: the bill.
    total: (String, f64, u64),
    team: Vec<Row>,
    tier: Vec<Row>,
    group: Vec<Row>,
    feature: Vec<Row>,
    endpoint: Vec<Row>,
    /// "Equal cost per request" per feature.
    naive: Vec<NaiveRow>,
    /// Against the previous period, when the rows cover it.
    changes: Option<Changes>,
}

#[derive(Serialize)]
struct Changes {
    endpoint: ChangeLevel,
    feature: ChangeLevel,
    team: ChangeLevel,
}

#[derive(Serialize)]
struct ChangeLevel {
    /// The largest cost impacts first.
    rows: Vec<ChangeRow>,
    /// Keys compared in all.
    compared: usize,
    /// Of those, flagged beyond noise on any figure.
    flagged: usize,
}

/// The levels of the tables.
#[derive(Clone, Copy)]
enum Level {
    Team,
    Tier,
    Group,
    Feature,
    Endpoint,
}

/// Per leaf: its feature index and its group, team and tier labels.
struct LeafKeys {
    feature: Vec<u32>,
    labels: Vec<[String; 3]>,
}

impl LeafKeys {
    fn key(&self, level: Level, leaf: u32) -> Key {
        let labels = &self.labels[leaf as usize];
        match level {
            Level::Team => Key::Label(labels[1].clone()),
            Level::Tier => Key::Label(labels[2].clone()),
            Level::Group => Key::Label(labels[0].clone()),
            Level::Feature => Key::Index(self.feature[leaf as usize]),
            Level::Endpoint => Key::Index(leaf),
        }
    }
}

/// Money as embedded: rounded half away from zero to 4 places.
fn money(value: Decimal) -> String {
    value
        .round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero)
        .normalize()
        .to_string()
}

/// CPU seconds to the millisecond.
fn cpu_seconds(cpu_ns: u128) -> f64 {
    (cpu_ns / 1_000_000) as f64 / 1e3
}

/// A chart value or a statistic: 4 significant digits are all a drawing or a margin needs.
fn four_digits(value: f64) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return 0.0;
    }
    let scale = 10f64.powi(3 - value.abs().log10().floor() as i32);
    (value * scale).round() / scale
}

fn period_label(span: Span, whole: bool) -> String {
    let (start, end) = (UtcTime(span.start), UtcTime(span.end));
    let trim = |t: UtcTime| {
        let text = t.to_string();
        // `2025-06-12 15:00:00 UTC` → `2025-06-12 15:00`.
        text[..16].to_string()
    };
    let text = format!("{} – {} UTC", trim(start), trim(end));
    if whole {
        format!("Whole window, {text}")
    } else {
        text
    }
}

/// Sums per leaf for [`ALL_DEPLOYMENTS`] (index 0) and each deployment (index d + 1).
fn by_deployment(sums: BTreeMap<(u32, u32), Sums>, deployments: usize) -> Vec<BTreeMap<u32, Sums>> {
    let mut out = vec![BTreeMap::new(); deployments + 1];
    for ((deployment, leaf), sums) in sums {
        out[0].entry(leaf).or_insert_with(Sums::default).add(&sums);
        out[deployment as usize + 1].insert(leaf, sums);
    }
    out
}

fn total(leaves: &BTreeMap<u32, Sums>) -> Sums {
    let mut total = Sums::default();
    leaves.values().for_each(|sums| total.add(sums));
    total
}

fn per_key(keys: &LeafKeys, level: Level, leaves: &BTreeMap<u32, Sums>) -> BTreeMap<Key, Sums> {
    let mut out: BTreeMap<Key, Sums> = BTreeMap::new();
    for (&leaf, sums) in leaves {
        out.entry(keys.key(level, leaf)).or_default().add(sums);
    }
    out
}

/// Sums per key of `level`, largest cost first (the key breaks ties, so the order never
/// depends on anything else).
fn sorted(keys: &LeafKeys, level: Level, leaves: &BTreeMap<u32, Sums>) -> Vec<(Key, Sums)> {
    let mut rows: Vec<(Key, Sums)> = per_key(keys, level, leaves).into_iter().collect();
    rows.sort_by(|(ka, a), (kb, b)| b.cost.cmp(&a.cost).then_with(|| ka.cmp(kb)));
    rows
}

fn table(keys: &LeafKeys, level: Level, leaves: &BTreeMap<u32, Sums>) -> Vec<Row> {
    sorted(keys, level, leaves)
        .into_iter()
        .map(|(key, sums)| {
            (
                key,
                money(sums.cost),
                cpu_seconds(sums.cpu_ns),
                sums.samples,
                (!sums.requests_unknown).then_some(sums.requests),
            )
        })
        .collect()
}

fn naive(keys: &LeafKeys, leaves: &BTreeMap<u32, Sums>) -> Vec<NaiveRow> {
    sorted(keys, Level::Feature, leaves)
        .into_iter()
        .filter_map(|(key, sums)| {
            let naive = sums.naive()?;
            Some((key, money(naive), money(sums.cost - naive)))
        })
        .collect()
}

fn change_level(
    keys: &LeafKeys,
    level: Level,
    before: &BTreeMap<u32, Sums>,
    now: &BTreeMap<u32, Sums>,
) -> ChangeLevel {
    let (samples_before, samples_now) = (total(before).samples, total(now).samples);
    let mut before = per_key(keys, level, before);
    let mut now = per_key(keys, level, now);
    let all_keys: Vec<Key> = before
        .keys()
        .chain(now.keys())
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut changes: Vec<(Key, Change)> = all_keys
        .into_iter()
        .map(|key| {
            let a = before.remove(&key).unwrap_or_default();
            let b = now.remove(&key).unwrap_or_default();
            let change = change::compare(&a, samples_before, &b, samples_now);
            (key, change)
        })
        .collect();
    let compared = changes.len();
    let flagged = changes.iter().filter(|(_, c)| c.flags != 0).count();
    changes.sort_by(|(ka, a), (kb, b)| {
        let impact = |c: &Change| (c.cost_now - c.cost_before).abs();
        impact(b).cmp(&impact(a)).then_with(|| ka.cmp(kb))
    });
    changes.truncate(CHANGES_SHOWN);
    let rows = changes
        .into_iter()
        .map(|(key, c)| {
            (
                key,
                money(c.cost_before),
                money(c.cost_now),
                money(c.cost_now - c.cost_before),
                c.cost_margin.map(four_digits),
                four_digits(c.share_before),
                four_digits(c.share_now),
                c.share_margin.map(four_digits),
                c.cpu_per_request_before.map(four_digits),
                c.cpu_per_request_now.map(four_digits),
                c.cpu_per_request_margin.map(four_digits),
                c.flags,
            )
        })
        .collect();
    ChangeLevel {
        rows,
        compared,
        flagged,
    }
}

fn slice(
    keys: &LeafKeys,
    now: &BTreeMap<u32, Sums>,
    before: Option<&BTreeMap<u32, Sums>>,
) -> Slice {
    let sum = total(now);
    Slice {
        total: (money(sum.cost), cpu_seconds(sum.cpu_ns), sum.samples),
        team: table(keys, Level::Team, now),
        tier: table(keys, Level::Tier, now),
        group: table(keys, Level::Group, now),
        feature: table(keys, Level::Feature, now),
        endpoint: table(keys, Level::Endpoint, now),
        naive: naive(keys, now),
        changes: before.map(|before| Changes {
            endpoint: change_level(keys, Level::Endpoint, before, now),
            feature: change_level(keys, Level::Feature, before, now),
            team: change_level(keys, Level::Team, before, now),
        }),
    }
}

/// The page's data from the sums.
pub(crate) fn build(aggregates: &Aggregates) -> Data {
    // Dictionaries: features (a leaf without its endpoint) and endpoints.
    let mut feature_ids: BTreeMap<[String; 5], u32> = BTreeMap::new();
    let mut leaf_keys = LeafKeys {
        feature: Vec::new(),
        labels: Vec::new(),
    };
    let mut leaves = Vec::new();
    for leaf in &aggregates.leaves {
        let bucket = leaf.bucket.name().to_string();
        let label = |name: &Option<String>, missing: &str| match leaf.bucket {
            Bucket::Feature => name.clone().unwrap_or_else(|| missing.to_string()),
            _ => bucket.clone(),
        };
        let feature = [
            bucket.clone(),
            label(&leaf.feature, "(no feature)"),
            label(&leaf.group, "(no group)"),
            label(&leaf.team, "(no team)"),
            label(&leaf.tier, "(no tier)"),
        ];
        let next = feature_ids.len() as u32;
        let feature_id = *feature_ids.entry(feature.clone()).or_insert(next);
        leaf_keys.feature.push(feature_id);
        leaf_keys
            .labels
            .push([feature[2].clone(), feature[3].clone(), feature[4].clone()]);
        leaves.push((feature_id, label(&leaf.endpoint, "(no endpoint)")));
    }
    let mut features = vec![Default::default(); feature_ids.len()];
    for (feature, id) in feature_ids {
        features[id as usize] = feature;
    }

    let deployment_count = aggregates.deployments.len();
    let mut periods = Vec::new();
    let mut slices = Vec::new();
    for (index, period) in aggregates.periods.iter().enumerate() {
        periods.push(PeriodOut {
            label: period_label(period.span, index == 0),
            span: [period.span.start, period.span.end],
            previous: period.previous.map(|span| period_label(span, false)),
        });
        let now = by_deployment(aggregates.over(period.span), deployment_count);
        let before = period
            .previous
            .map(|span| by_deployment(aggregates.over(span), deployment_count));
        slices.push(
            now.iter()
                .enumerate()
                .map(|(d, leaves)| {
                    (!leaves.is_empty())
                        .then(|| slice(&leaf_keys, leaves, before.as_ref().map(|b| &b[d])))
                })
                .collect(),
        );
    }

    let window = aggregates.window;
    let resolution = aggregates.resolution;
    let first = window.start.div_euclid(resolution) * resolution;
    let times: Vec<i64> = (first..window.end).step_by(resolution as usize).collect();
    let mut series_sums = vec![BTreeMap::<u32, (Vec<f64>, Vec<f64>)>::new(); deployment_count + 1];
    for (&(time, deployment, leaf), sums) in aggregates
        .sums
        .range((window.start, 0, 0)..(window.end, 0, 0))
    {
        let point = ((time - first) / resolution) as usize;
        let feature = leaf_keys.feature[leaf as usize];
        let cost = decimal_to_f64(sums.cost);
        let cpu = sums.cpu_ns as f64 / 1e9;
        for d in [0, deployment as usize + 1] {
            let (costs, cpus) = series_sums[d]
                .entry(feature)
                .or_insert_with(|| (vec![0.0; times.len()], vec![0.0; times.len()]));
            costs[point] += cost;
            cpus[point] += cpu;
        }
    }
    let series = series_sums
        .into_iter()
        .map(|per_feature| {
            per_feature
                .into_iter()
                .map(|(feature, (costs, cpus))| {
                    let round = |v: Vec<f64>| v.into_iter().map(four_digits).collect();
                    (feature, round(costs), round(cpus))
                })
                .collect()
        })
        .collect();

    let mut deployments = vec![ALL_DEPLOYMENTS.to_string()];
    deployments.extend(aggregates.deployments.iter().cloned());
    Data {
        currency: aggregates.currency.clone(),
        window: [
            UtcTime(window.start).to_string(),
            UtcTime(window.end).to_string(),
        ],
        resolution,
        deployments,
        features,
        leaves,
        periods,
        slices,
        times,
        series,
    }
}
