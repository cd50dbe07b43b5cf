//! From CPU shares and the bill to cost rows that sum to the bill exactly.
//!
//! For each billed (step, deployment, currency) slice, the amount is split over the
//! deployment's share rows of that step by [`crate::apportion`]'s largest-remainder rule at
//! the bill's precision. Each row's weight is its `cpu_ns`: `percentage_of_cpu` is
//! `cpu_ns / Σ cpu_ns` rounded to a float, so the integers give the same shares exactly (a
//! slice whose rows all have zero `cpu_ns` has nothing to split by and is `unprofiled`).
//! Rows are ordered by (bucket,
//! `feature_id`, `endpoint`, `feature`) before the split, so equal remainders are broken the
//! same way whatever the input order.
//!
//! Buckets: `feature` and `unattributed` rows carry the deployment's CPU; a billed slice with
//! no share rows is one `unprofiled` row; a slice the bill gives no deployment (or GKE's
//! `kube:*`) is one `unallocated` row. Share rows of a (step, deployment) that nothing bills
//! are never priced: they are listed in the summary's `unbilled` with their CPU.
//!
//! `cost_if_equal_per_request` is the source article's naive method, for comparison: the
//! slice's bill split by request counts (same rule, weights = `requests`) over the rows that
//! have them. `cost_per_request` is `cost / requests`, rounded half away from zero to ten
//! decimal places beyond the bill's precision (at most 28), exactly ([`per_unit`]).
//!
//! Share rows are consumed in (start_time, deployment) order and cost rows are written as
//! each slice is priced, so memory holds one (step, deployment)'s rows plus the bill (its
//! compact form, 40 bytes a billed slice): nothing is kept per past step but the reconciliation's
//! totals per currency and the list of unbilled deployment-hours (a warning's).

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::apportion::{apportion, per_unit};
use crate::billing::{Bill, SkipCount, Slice, SliceKey};
use crate::row::{Bucket, CostRow, Name, ShareRow, UNATTRIBUTED_ID};
use crate::time::UtcTime;

/// Totals of one currency: billed, allocated per bucket, and their difference (always 0).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CurrencyTotals {
    /// ISO 4217 code.
    pub currency: String,
    /// The sum of every billed slice read.
    pub billed: Decimal,
    /// Written to `feature` rows.
    pub feature: Decimal,
    /// Written to `unattributed` rows.
    pub unattributed: Decimal,
    /// Written to `unprofiled` rows.
    pub unprofiled: Decimal,
    /// Written to `unallocated` rows.
    pub unallocated: Decimal,
    /// `billed` minus all four buckets: 0, or featgen has a bug.
    pub difference: Decimal,
}

/// A profiled (step, deployment) that no billing row prices: a warning, never a cost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unbilled {
    /// Start of the step.
    pub start_time: UtcTime,
    /// The deployment.
    pub deployment: String,
    /// Its CPU in the step.
    pub cpu_ns: u64,
}

/// The run's reconciliation: what was billed, where every unit went, what was read and skipped.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Reconciliation {
    /// Per currency, in code order.
    pub currencies: Vec<CurrencyTotals>,
    /// Billing rows read, skipped ones included.
    pub billing_rows_read: u64,
    /// Billing rows skipped, by reason.
    pub billing_rows_skipped: BTreeMap<String, SkipCount>,
    /// AWS instance rows not billed again because split rows carry their cost.
    pub split_parents_dropped: u64,
    /// Share rows read.
    pub share_rows_read: u64,
    /// Cost rows written.
    pub cost_rows_written: u64,
    /// Profiled deployment-hours without billing.
    pub unbilled: Vec<Unbilled>,
}

impl Reconciliation {
    /// Whether every currency's rows sum exactly to its bill.
    pub fn balanced(&self) -> bool {
        self.currencies
            .iter()
            .all(|totals| totals.difference.is_zero())
    }
}

impl fmt::Display for Reconciliation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for t in &self.currencies {
            writeln!(
                f,
                "{}: billed {} = feature {} + unattributed {} + unprofiled {} + unallocated {} (difference {})",
                t.currency,
                t.billed,
                t.feature,
                t.unattributed,
                t.unprofiled,
                t.unallocated,
                t.difference
            )?;
        }
        let skipped: u64 = self.billing_rows_skipped.values().map(|s| s.rows).sum();
        write!(
            f,
            "billing rows: {} read, {} skipped",
            self.billing_rows_read, skipped
        )?;
        for (reason, count) in &self.billing_rows_skipped {
            write!(f, "; {} {} (first {})", count.rows, reason, count.first)?;
        }
        if self.split_parents_dropped > 0 {
            write!(
                f,
                "; {} AWS instance rows carried by their split rows",
                self.split_parents_dropped
            )?;
        }
        writeln!(
            f,
            "\nshare rows: {} read; cost rows: {} written",
            self.share_rows_read, self.cost_rows_written
        )?;
        if let Some(first) = self.unbilled.first() {
            let cpu: u128 = self.unbilled.iter().map(|u| u128::from(u.cpu_ns)).sum();
            writeln!(
                f,
                "warning: {} profiled deployment-hours have no billing ({:.3} CPU-hours, not priced), first {} `{}`",
                self.unbilled.len(),
                cpu as f64 / 3.6e12,
                first.start_time,
                first.deployment
            )?;
        }
        Ok(())
    }
}

/// Why the allocation stopped.
#[derive(Debug)]
pub enum CostError {
    /// Share rows must come in (start_time, deployment) order.
    Unsorted {
        /// The row out of order.
        start_time: UtcTime,
        /// Its deployment.
        deployment: String,
    },
    /// A share row's step is not the bill's step.
    Step {
        /// The row's start.
        start_time: UtcTime,
        /// Its deployment.
        deployment: String,
        /// The row's step in seconds.
        seconds: i64,
        /// The bill's step.
        expected: i64,
    },
    /// Writing a cost row failed.
    Write(std::io::Error),
}

impl fmt::Display for CostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CostError::Unsorted {
                start_time,
                deployment,
            } => write!(
                f,
                "share rows are not in (start_time, deployment) order at {start_time} `{deployment}` (sort them, e.g. with sort_shares)"
            ),
            CostError::Step {
                start_time,
                deployment,
                seconds,
                expected,
            } => write!(
                f,
                "the share row of {start_time} `{deployment}` covers {seconds} s, the billing step is {expected} s (give shares of one step)"
            ),
            CostError::Write(err) => write!(f, "cannot write cost rows: {err}"),
        }
    }
}

impl std::error::Error for CostError {}

/// Sorts share rows into the order [`allocate`] reads them.
pub fn sort_shares(rows: &mut [ShareRow]) {
    rows.sort_by(|a, b| (a.start_time, &a.deployment).cmp(&(b.start_time, &b.deployment)));
}

/// Prices `shares` (in (start_time, deployment) order) against `bill`, passing each cost row to
/// `emit` in key order, and returns the reconciliation.
pub fn allocate(
    bill: &Bill,
    shares: impl IntoIterator<Item = ShareRow>,
    mut emit: impl FnMut(CostRow) -> std::io::Result<()>,
) -> Result<Reconciliation, CostError> {
    let mut run = Run {
        bill,
        totals: BTreeMap::new(),
        currencies: Vec::new(),
        summary: Reconciliation {
            billing_rows_read: bill.rows_read,
            billing_rows_skipped: bill
                .skipped
                .iter()
                .map(|(reason, count)| (reason.name().to_owned(), count.clone()))
                .collect(),
            split_parents_dropped: bill.split_parents_dropped,
            ..Reconciliation::default()
        },
        emit: &mut emit,
    };
    let mut slices = bill.slices().peekable();
    let mut group: Vec<ShareRow> = Vec::new();
    let mut shares = shares.into_iter();
    loop {
        let next = shares.next();
        let ends_group = match (&next, group.first()) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(row), Some(first)) => {
                let order =
                    (row.start_time, &row.deployment).cmp(&(first.start_time, &first.deployment));
                if order.is_lt() {
                    return Err(CostError::Unsorted {
                        start_time: row.start_time,
                        deployment: row.deployment.to_string(),
                    });
                }
                order.is_gt()
            }
        };
        if ends_group {
            let (start, deployment) = (group[0].start_time, group[0].deployment.clone());
            // Slices before this (step, deployment) have no profile.
            while let Some((key, slice)) = slices.next_if(|(key, _)| {
                (key.start, key.deployment.as_str()) < (start, deployment.as_str())
            }) {
                run.bill_only(&key, &slice)?;
            }
            let mut priced = false;
            while let Some((key, slice)) =
                slices.next_if(|(key, _)| key.start == start && key.deployment == deployment)
            {
                if slice.unallocated {
                    run.bill_only(&key, &slice)?;
                } else {
                    // The last slice of the group takes its rows; an earlier one (another
                    // currency, which the billing reader refuses) prices copies.
                    let last = slices.peek().is_none_or(|(next, _)| {
                        next.start != start || next.deployment != deployment
                    });
                    run.price(&key, &slice, &mut group, last)?;
                    priced = true;
                }
            }
            if !priced {
                run.summary.unbilled.push(Unbilled {
                    start_time: start,
                    deployment: deployment.to_string(),
                    cpu_ns: group.iter().map(|row| row.cpu_ns).sum(),
                });
            }
            group.clear();
        }
        let Some(row) = next else { break };
        run.summary.share_rows_read += 1;
        let seconds = row.end_time.unix() - row.start_time.unix();
        if seconds != bill.step {
            return Err(CostError::Step {
                start_time: row.start_time,
                deployment: row.deployment.to_string(),
                seconds,
                expected: bill.step,
            });
        }
        group.push(row);
    }
    for (key, slice) in slices {
        run.bill_only(&key, &slice)?;
    }
    let mut summary = run.summary;
    summary.currencies = run
        .totals
        .into_values()
        .map(|mut totals| {
            totals.difference = totals.billed
                - totals.feature
                - totals.unattributed
                - totals.unprofiled
                - totals.unallocated;
            totals
        })
        .collect();
    Ok(summary)
}

/// The state of one allocation.
struct Run<'a> {
    bill: &'a Bill,
    totals: BTreeMap<String, CurrencyTotals>,
    /// The currency codes as the cost rows' shared names, made once each.
    currencies: Vec<Name>,
    summary: Reconciliation,
    emit: &'a mut dyn FnMut(CostRow) -> std::io::Result<()>,
}

impl Run<'_> {
    fn write(&mut self, row: CostRow) -> Result<(), CostError> {
        let totals = self.totals_of(&row.currency);
        *match row.bucket {
            Bucket::Feature => &mut totals.feature,
            Bucket::Unattributed => &mut totals.unattributed,
            Bucket::Unprofiled => &mut totals.unprofiled,
            Bucket::Unallocated => &mut totals.unallocated,
        } += row.cost;
        self.summary.cost_rows_written += 1;
        (self.emit)(row).map_err(CostError::Write)
    }

    fn add_billed(&mut self, key: &SliceKey, slice: &Slice) {
        self.totals_of(&key.currency).billed += slice.amount;
    }

    /// The totals of `currency`, looked up without a copy of its code (once per cost row).
    fn totals_of(&mut self, currency: &str) -> &mut CurrencyTotals {
        if !self.totals.contains_key(currency) {
            self.totals.insert(
                currency.to_owned(),
                CurrencyTotals {
                    currency: currency.to_owned(),
                    ..CurrencyTotals::default()
                },
            );
        }
        self.totals.get_mut(currency).expect("inserted just above")
    }

    /// `code` as a cost row's currency: a copy of one shared name, not of the text.
    fn currency(&mut self, code: &str) -> Name {
        if let Some(name) = self.currencies.iter().find(|name| **name == *code) {
            return name.clone();
        }
        let name = Name::from(code);
        self.currencies.push(name.clone());
        name
    }

    /// A slice without share rows: one unprofiled or unallocated row.
    fn bill_only(&mut self, key: &SliceKey, slice: &Slice) -> Result<(), CostError> {
        self.add_billed(key, slice);
        let bucket = if slice.unallocated {
            Bucket::Unallocated
        } else {
            Bucket::Unprofiled
        };
        let currency = self.currency(&key.currency);
        self.write(CostRow {
            start_time: key.start,
            end_time: UtcTime(key.start.unix() + self.bill.step),
            deployment: key.deployment.as_str().into(),
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
            cost: slice.amount,
            currency,
            bucket,
            cost_per_request: None,
            cost_if_equal_per_request: None,
        })
    }

    /// A billed slice with share rows: split by CPU. With `take`, the rows are moved into the
    /// cost rows (and `rows` left empty) instead of copied.
    fn price(
        &mut self,
        key: &SliceKey,
        slice: &Slice,
        rows: &mut Vec<ShareRow>,
        take: bool,
    ) -> Result<(), CostError> {
        // The order is sorted as indices, stably: moving whole rows costs more than the split.
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by(|&a, &b| {
            let (a, b) = (&rows[a], &rows[b]);
            (bucket_of(a), a.feature_id, &a.endpoint, &a.feature).cmp(&(
                bucket_of(b),
                b.feature_id,
                &b.endpoint,
                &b.feature,
            ))
        });
        let cpu: Vec<u64> = order.iter().map(|&i| rows[i].cpu_ns).collect();
        let Some(costs) = apportion(slice.amount, &cpu) else {
            // Profiles without any CPU give nothing to split by.
            return self.bill_only(key, slice);
        };
        self.add_billed(key, slice);
        let with_requests: Vec<usize> = (0..order.len())
            .filter(|&at| rows[order[at]].requests.is_some())
            .collect();
        let request_weights: Vec<u64> = with_requests
            .iter()
            .map(|&at| rows[order[at]].requests.unwrap_or(0))
            .collect();
        let mut naive: Vec<Option<Decimal>> = vec![None; rows.len()];
        if let Some(parts) = apportion(slice.amount, &request_weights) {
            for (&at, part) in with_requests.iter().zip(parts) {
                naive[at] = Some(part);
            }
        }
        let shares: Vec<ShareRow> = if take {
            let mut slots: Vec<Option<ShareRow>> = rows.drain(..).map(Some).collect();
            order.iter().filter_map(|&i| slots[i].take()).collect()
        } else {
            order.iter().map(|&i| rows[i].clone()).collect()
        };
        let currency = self.currency(&key.currency);
        for ((row, cost), naive) in shares.into_iter().zip(costs).zip(naive) {
            let cost_per_request = row.requests.filter(|&n| n > 0).map(|n| per_unit(cost, n));
            let bucket = bucket_of(&row);
            self.write(CostRow {
                cost_per_request,
                cost_if_equal_per_request: naive,
                ..CostRow::priced(row, cost, currency.clone(), bucket)
            })?;
        }
        Ok(())
    }
}

/// Unattributed CPU (no route) is its own bucket; everything else, unknown names included, is
/// a feature's.
fn bucket_of(row: &ShareRow) -> Bucket {
    if row.feature.is_none() && row.feature_id == UNATTRIBUTED_ID {
        Bucket::Unattributed
    } else {
        Bucket::Feature
    }
}
