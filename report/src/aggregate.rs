//! The two passes over the rows: find the window, then sum per (time bucket, deployment, leaf).
//!
//! A leaf is what a cost row names below the deployment: a (feature, endpoint) in the
//! `feature` bucket, or one of the `unattributed`, `unprofiled` and `unallocated` buckets. The
//! time bucket is an hour when the window is a week or less, else a day, so a month of a large
//! fleet keeps about 30 × (deployment, endpoint) sums in memory, never the rows.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use featgen_attribution::time::{DAY, HOUR};
use featgen_attribution::{Bucket, CostRow, Name, ShareRow};
use rust_decimal::Decimal;

use crate::{Error, Options, Rows};

/// A week, the longest period the page offers.
pub(crate) const WEEK: i64 = 7 * DAY;

/// What a row names below its deployment. Ordered by bucket (features first), then names.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Leaf {
    /// Which bucket the money is in.
    pub bucket: Bucket,
    /// The feature group (features only).
    pub group: Option<String>,
    /// The feature's name (features only).
    pub feature: Option<String>,
    /// The endpoint (features only).
    pub endpoint: Option<String>,
    /// The owning team (features only).
    pub team: Option<String>,
    /// The feature's tier (features only).
    pub tier: Option<String>,
}

impl Leaf {
    fn of(
        bucket: Bucket,
        feature: &Option<Name>,
        endpoint: &Option<Name>,
        group: &Option<Name>,
        team: &Option<Name>,
        tier: &Option<Name>,
    ) -> Leaf {
        // Outside the `feature` bucket the names are null by contract; dropping whatever a row
        // carries there keeps one leaf per bucket.
        let named = |name: &Option<Name>| match bucket {
            Bucket::Feature => name.as_deref().map(str::to_owned),
            _ => None,
        };
        Leaf {
            bucket,
            group: named(group),
            feature: named(feature),
            endpoint: named(endpoint),
            team: named(team),
            tier: named(tier),
        }
    }
}

/// Sums of the rows of one (time bucket, deployment, leaf), or of any set of them.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Sums {
    /// Money, exact.
    pub cost: Decimal,
    /// Variance of `cost` from sampling: the sum over rows of cost² (1 − p) / samples, where p
    /// is the row's share of its deployment-step (the bill is exact; the share is a binomial
    /// estimate from `samples`).
    pub cost_variance: f64,
    /// CPU time.
    pub cpu_ns: u128,
    /// Profiler samples.
    pub samples: u64,
    /// Completed calls of the rows that count them.
    pub requests: u64,
    /// Some row has no request count (or is not a feature row): no per-request figures.
    pub requests_unknown: bool,
    /// What "equal cost per request" would have charged, over the rows that have it.
    pub naive: Decimal,
    /// Some row has no naive charge.
    pub naive_unknown: bool,
    /// Some row with CPU has no samples: the sampling noise is unknown.
    pub noise_unknown: bool,
}

impl Sums {
    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &Sums) {
        self.cost += other.cost;
        self.cost_variance += other.cost_variance;
        self.cpu_ns += other.cpu_ns;
        self.samples += other.samples;
        self.requests += other.requests;
        self.requests_unknown |= other.requests_unknown;
        self.naive += other.naive;
        self.naive_unknown |= other.naive_unknown;
        self.noise_unknown |= other.noise_unknown;
    }

    /// The naive charge, when every row has one.
    pub fn naive(&self) -> Option<Decimal> {
        (!self.naive_unknown && !self.requests_unknown).then_some(self.naive)
    }

    fn of_cost_row(row: &CostRow) -> Sums {
        let cost_variance = if row.samples > 0 {
            let cost = decimal_to_f64(row.cost);
            cost * cost * (1.0 - row.percentage_of_cpu).max(0.0) / row.samples as f64
        } else {
            0.0
        };
        Sums {
            cost: row.cost,
            cost_variance,
            cpu_ns: u128::from(row.cpu_ns),
            samples: row.samples,
            requests: row.requests.unwrap_or(0),
            requests_unknown: row.bucket != Bucket::Feature || row.requests.is_none(),
            naive: row.cost_if_equal_per_request.unwrap_or_default(),
            naive_unknown: row.cost_if_equal_per_request.is_none(),
            noise_unknown: row.samples == 0 && row.cpu_ns > 0,
        }
    }

    fn of_share_row(row: &ShareRow, bucket: Bucket) -> Sums {
        Sums {
            cpu_ns: u128::from(row.cpu_ns),
            samples: row.samples,
            requests: row.requests.unwrap_or(0),
            requests_unknown: bucket != Bucket::Feature || row.requests.is_none(),
            naive_unknown: true,
            noise_unknown: row.samples == 0 && row.cpu_ns > 0,
            ..Sums::default()
        }
    }
}

/// An f64 for the variance arithmetic (money itself is never a float).
pub(crate) fn decimal_to_f64(value: Decimal) -> f64 {
    // Decimal's Display is exact, and every decimal has a nearest f64.
    value.to_string().parse().unwrap_or(0.0)
}

/// A span of time `[start, end)` in seconds since the epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    /// Inclusive start.
    pub start: i64,
    /// Exclusive end.
    pub end: i64,
}

impl Span {
    fn len(self) -> i64 {
        self.end - self.start
    }

    /// The span of the same length just before this one.
    pub fn previous(self) -> Span {
        Span {
            start: self.start - self.len(),
            end: self.start,
        }
    }
}

/// A period the page can show: the whole window or one of its days or weeks, with the previous
/// period of the same length when the rows cover it.
#[derive(Clone, Debug)]
pub(crate) struct Period {
    /// The period.
    pub span: Span,
    /// The period before it, when some row falls in it.
    pub previous: Option<Span>,
}

/// Everything the page is made of: sums per (time bucket, deployment, leaf) over the window and
/// the period before it, and the names.
pub(crate) struct Aggregates {
    /// ISO 4217 code of every amount.
    pub currency: String,
    /// The report's window.
    pub window: Span,
    /// Seconds per time bucket (an hour, or a day for windows longer than a week).
    pub resolution: i64,
    /// The whole window first, then its hours, days or weeks (when there are several).
    pub periods: Vec<Period>,
    /// Deployment names, sorted; indices into this are the sums' deployment ids.
    pub deployments: Vec<String>,
    /// Leaves, sorted; indices into this are the sums' leaf ids.
    pub leaves: Vec<Leaf>,
    /// (time bucket start, deployment id, leaf id) → sums.
    pub sums: BTreeMap<(i64, u32, u32), Sums>,
}

/// What the first pass learns.
#[derive(Default)]
struct Scan {
    first_start: Option<i64>,
    last_end: Option<i64>,
    longest_step: i64,
    currencies: BTreeSet<String>,
    /// (step start, deployment) of every cost row: share rows only fill in steps the bill lacks.
    billed: HashSet<(i64, String)>,
    cost_rows: u64,
}

impl Scan {
    fn see(&mut self, start: i64, end: i64, options: &Options) {
        if options.from.is_some_and(|from| start < from.unix())
            || options.to.is_some_and(|to| start >= to.unix())
        {
            return;
        }
        self.first_start = Some(self.first_start.map_or(start, |s| s.min(start)));
        self.last_end = Some(self.last_end.map_or(end, |e| e.max(end)));
        self.longest_step = self.longest_step.max(end - start);
    }
}

/// Interns names into ids in first-seen order; [`Interner::sorted`] renumbers by sort order.
struct Interner<T> {
    ids: HashMap<T, u32>,
    names: Vec<T>,
}

impl<T: Clone + Eq + std::hash::Hash + Ord> Interner<T> {
    fn new() -> Self {
        Interner {
            ids: HashMap::new(),
            names: Vec::new(),
        }
    }

    fn id(&mut self, name: T) -> u32 {
        if let Some(&id) = self.ids.get(&name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.clone());
        self.ids.insert(name, id);
        id
    }

    /// The names sorted, and for each first-seen id its sorted id.
    fn sorted(self) -> (Vec<T>, Vec<u32>) {
        let mut order: Vec<u32> = (0..self.names.len() as u32).collect();
        order.sort_by(|&a, &b| self.names[a as usize].cmp(&self.names[b as usize]));
        let mut renumber = vec![0; order.len()];
        for (sorted, &id) in order.iter().enumerate() {
            renumber[id as usize] = sorted as u32;
        }
        let names = order
            .iter()
            .map(|&id| self.names[id as usize].clone())
            .collect();
        (names, renumber)
    }
}

impl Aggregates {
    /// Reads `rows` twice and sums them.
    pub fn read(rows: &dyn Rows, options: &Options) -> Result<Aggregates, Error> {
        let wanted = |deployment: &str| {
            options
                .deployment
                .as_deref()
                .is_none_or(|d| d == deployment)
        };
        let wanted_currency =
            |currency: &str| options.currency.as_deref().is_none_or(|c| c == currency);

        let mut scan = Scan::default();
        rows.costs(&mut |row| {
            if !wanted(&row.deployment) || !wanted_currency(&row.currency) {
                return;
            }
            scan.cost_rows += 1;
            scan.currencies.insert(row.currency.to_string());
            scan.see(row.start_time.unix(), row.end_time.unix(), options);
            scan.billed
                .insert((row.start_time.unix(), row.deployment.to_string()));
        })?;
        rows.shares(&mut |row| {
            if wanted(&row.deployment) {
                scan.see(row.start_time.unix(), row.end_time.unix(), options);
            }
        })?;

        let narrowed = match (&options.deployment, &options.currency) {
            (Some(d), _) => format!(" of deployment `{d}`"),
            (None, Some(c)) => format!(" in {c}"),
            (None, None) => String::new(),
        };
        if scan.cost_rows == 0 {
            return Err(Error::Rows(format!(
                "no cost rows{narrowed} in the inputs: pass the files `featgen cost` wrote with --costs"
            )));
        }
        let currency = match scan.currencies.len() {
            1 => scan.currencies.pop_first().unwrap_or_default(),
            _ => {
                let list: Vec<&str> = scan.currencies.iter().map(String::as_str).collect();
                return Err(Error::Rows(format!(
                    "the cost rows carry several currencies ({}); amounts are never added across \
                     currencies: pass --currency with one of them",
                    list.join(", ")
                )));
            }
        };
        let (Some(first_start), Some(last_end)) = (scan.first_start, scan.last_end) else {
            return Err(Error::Rows(format!(
                "no rows{narrowed} between --from and --to: widen the window"
            )));
        };
        let requested = Span {
            start: options.from.map_or(first_start, |t| t.unix()),
            end: options.to.map_or(last_end, |t| t.unix()),
        };
        if requested.end <= requested.start {
            return Err(Error::Rows(format!(
                "the window is empty (--from {} is not before --to {})",
                featgen_attribution::UtcTime(requested.start),
                featgen_attribution::UtcTime(requested.end)
            )));
        }
        let resolution = if requested.len() <= WEEK { HOUR } else { DAY }.max(
            // Rows longer than the bucket (daily steps) decide the bucket themselves.
            if scan.longest_step > HOUR { DAY } else { HOUR },
        );
        // Whole time buckets, so that no bucket straddles the window's edges.
        let window = Span {
            start: requested.start.div_euclid(resolution) * resolution,
            end: (requested.end + resolution - 1).div_euclid(resolution) * resolution,
        };
        let loaded = Span {
            start: window.previous().start,
            end: window.end,
        };

        let mut deployments = Interner::new();
        let mut leaves = Interner::new();
        let mut sums: HashMap<(i64, u32, u32), Sums> = HashMap::new();
        let mut add = |start: i64, deployment: String, leaf: Leaf, row_sums: Sums| {
            let key = (
                start.div_euclid(resolution) * resolution,
                deployments.id(deployment),
                leaves.id(leaf),
            );
            sums.entry(key).or_default().add(&row_sums);
        };
        rows.costs(&mut |row| {
            let start = row.start_time.unix();
            if !wanted(&row.deployment)
                || row.currency != currency
                || start < loaded.start
                || start >= loaded.end
            {
                return;
            }
            let leaf = Leaf::of(
                row.bucket,
                &row.feature,
                &row.endpoint,
                &row.feature_group,
                &row.team,
                &row.tier,
            );
            let row_sums = Sums::of_cost_row(&row);
            add(start, row.deployment.to_string(), leaf, row_sums);
        })?;
        rows.shares(&mut |row| {
            let start = row.start_time.unix();
            if !wanted(&row.deployment)
                || start < loaded.start
                || start >= loaded.end
                || scan.billed.contains(&(start, row.deployment.to_string()))
            {
                return;
            }
            let bucket = if row.feature.is_none() {
                Bucket::Unattributed
            } else {
                Bucket::Feature
            };
            let leaf = Leaf::of(
                bucket,
                &row.feature,
                &row.endpoint,
                &row.feature_group,
                &row.team,
                &row.tier,
            );
            let row_sums = Sums::of_share_row(&row, bucket);
            add(start, row.deployment.to_string(), leaf, row_sums);
        })?;

        let (deployments, deployment_ids) = deployments.sorted();
        let (leaves, leaf_ids) = leaves.sorted();
        let sums: BTreeMap<_, _> = sums
            .into_iter()
            .map(|((time, d, l), s)| ((time, deployment_ids[d as usize], leaf_ids[l as usize]), s))
            .collect();
        let periods = periods(window, resolution, &sums);
        Ok(Aggregates {
            currency,
            window,
            resolution,
            periods,
            deployments,
            leaves,
            sums,
        })
    }

    /// Sums per (deployment id, leaf id) over the time buckets that start in `span`.
    pub fn over(&self, span: Span) -> BTreeMap<(u32, u32), Sums> {
        let mut out: BTreeMap<(u32, u32), Sums> = BTreeMap::new();
        for (&(_, deployment, leaf), sums) in self.sums.range((span.start, 0, 0)..(span.end, 0, 0))
        {
            out.entry((deployment, leaf)).or_default().add(sums);
        }
        out
    }
}

/// The whole window, then (when it holds several) its hours (windows up to 12 hours), days (up
/// to two weeks) or weeks, counted back from the window's end so that every one has the same
/// length and a previous one of that length.
fn periods(window: Span, resolution: i64, sums: &BTreeMap<(i64, u32, u32), Sums>) -> Vec<Period> {
    let has_rows = |span: Span| {
        sums.range((span.start, 0, 0)..(span.end, 0, 0))
            .next()
            .is_some()
    };
    let period = |span: Span| Period {
        span,
        previous: has_rows(span.previous()).then(|| span.previous()),
    };
    let mut periods = vec![period(window)];
    let length = match window.len() {
        len if len <= 12 * HOUR => HOUR,
        len if len <= 2 * WEEK => DAY,
        _ => WEEK,
    }
    .max(resolution);
    let count = window.len() / length;
    if count >= 2 {
        periods.extend((0..count).rev().map(|k| {
            let end = window.end - k * length;
            period(Span {
                start: end - length,
                end,
            })
        }));
    }
    periods
}
