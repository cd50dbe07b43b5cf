//! What changed between a period and the previous one, and whether it is beyond sampling noise.
//!
//! featgen's CPU shares are estimates from profiler samples; the bill is exact. Each of the
//! three figures gets a 95% confidence interval for its change, from the sample counts, and is
//! flagged only when the interval excludes zero:
//!
//! - **CPU share**: the fraction of the period's samples, a binomial proportion; the change's
//!   interval is the two-proportion Wald interval, normal approximation:
//!   `Δp ± 1.96 √(p₁(1−p₁)/n₁ + p₂(1−p₂)/n₂)`.
//! - **Cost**: each cost row is its share p of an exact deployment-step bill B, so its variance
//!   is `B² p(1−p)/n = cost² (1−p)/samples`; rows of different steps and deployments are
//!   independent and add up. Summing endpoints into a feature or team ignores their (negative)
//!   covariance, which widens the interval: conservative. Costs without CPU (unprofiled,
//!   unallocated) carry no sampling noise, so any change of theirs is real.
//! - **CPU per request**: CPU seconds over exact request counts; the CPU's relative error is
//!   `1/√samples`, so the variance is `cpr²/samples`.

use rust_decimal::Decimal;

use crate::aggregate::{Sums, decimal_to_f64};

/// The two-sided 95% quantile of the standard normal distribution.
pub(crate) const Z_95: f64 = 1.959_963_984_540_054;

/// Flag: the cost changed beyond sampling noise.
pub(crate) const COST_CHANGED: u8 = 1;
/// Flag: the CPU share changed beyond sampling noise.
pub(crate) const SHARE_CHANGED: u8 = 2;
/// Flag: the CPU per request changed beyond sampling noise.
pub(crate) const CPU_PER_REQUEST_CHANGED: u8 = 4;

/// One key's figures in both periods, with the 95% margins of their changes.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Change {
    /// Cost in the previous period.
    pub cost_before: Decimal,
    /// Cost in this period.
    pub cost_now: Decimal,
    /// Half-width of the 95% interval of the cost's change; `None` when the noise is unknown.
    pub cost_margin: Option<f64>,
    /// Share of the previous period's samples.
    pub share_before: f64,
    /// Share of this period's samples.
    pub share_now: f64,
    /// Half-width of the share change's 95% interval; `None` without samples in a period.
    pub share_margin: Option<f64>,
    /// CPU seconds per request before, when requests are known.
    pub cpu_per_request_before: Option<f64>,
    /// CPU seconds per request now, when requests are known.
    pub cpu_per_request_now: Option<f64>,
    /// Half-width of the CPU-per-request change's 95% interval.
    pub cpu_per_request_margin: Option<f64>,
    /// [`COST_CHANGED`] | [`SHARE_CHANGED`] | [`CPU_PER_REQUEST_CHANGED`].
    pub flags: u8,
}

/// CPU seconds per request and its variance, when requests and samples are known.
fn cpu_per_request(sums: &Sums) -> Option<(f64, f64)> {
    if sums.requests_unknown || sums.requests == 0 || sums.samples == 0 {
        return None;
    }
    let value = sums.cpu_ns as f64 / 1e9 / sums.requests as f64;
    Some((value, value * value / sums.samples as f64))
}

/// Compares a key's sums before and now; `samples_before`/`samples_now` are all the samples of
/// the periods (the shares' denominators).
pub(crate) fn compare(before: &Sums, samples_before: u64, now: &Sums, samples_now: u64) -> Change {
    let mut flags = 0;

    let cost_delta = decimal_to_f64(now.cost - before.cost);
    let cost_margin = (!before.noise_unknown && !now.noise_unknown)
        .then(|| Z_95 * (before.cost_variance + now.cost_variance).sqrt());
    if cost_margin.is_some_and(|margin| cost_delta.abs() > margin) {
        flags |= COST_CHANGED;
    }

    let proportion = |sums: &Sums, total: u64| {
        (total > 0).then(|| {
            let p = sums.samples as f64 / total as f64;
            (p, p * (1.0 - p) / total as f64)
        })
    };
    let share_before = proportion(before, samples_before);
    let share_now = proportion(now, samples_now);
    let share_margin = match (share_before, share_now) {
        (Some((_, v1)), Some((_, v2))) => Some(Z_95 * (v1 + v2).sqrt()),
        _ => None,
    };
    let (share_before, share_now) = (
        share_before.map_or(0.0, |(p, _)| p),
        share_now.map_or(0.0, |(p, _)| p),
    );
    if share_margin.is_some_and(|margin| (share_now - share_before).abs() > margin) {
        flags |= SHARE_CHANGED;
    }

    let cpr_before = cpu_per_request(before);
    let cpr_now = cpu_per_request(now);
    let cpu_per_request_margin = match (cpr_before, cpr_now) {
        (Some((_, v1)), Some((_, v2))) => Some(Z_95 * (v1 + v2).sqrt()),
        _ => None,
    };
    if let (Some(margin), Some((a, _)), Some((b, _))) =
        (cpu_per_request_margin, cpr_before, cpr_now)
        && (b - a).abs() > margin
    {
        flags |= CPU_PER_REQUEST_CHANGED;
    }

    Change {
        cost_before: before.cost,
        cost_now: now.cost,
        cost_margin,
        share_before,
        share_now,
        share_margin,
        cpu_per_request_before: cpr_before.map(|(v, _)| v),
        cpu_per_request_now: cpr_now.map(|(v, _)| v),
        cpu_per_request_margin,
        flags,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sums(cost: &str, samples: u64, share_of_step: f64, cpu_s: u64, requests: u64) -> Sums {
        let cost: Decimal = cost.parse().unwrap();
        let c = decimal_to_f64(cost);
        Sums {
            cost,
            cost_variance: c * c * (1.0 - share_of_step) / samples as f64,
            cpu_ns: u128::from(cpu_s) * 1_000_000_000,
            samples,
            requests,
            ..Sums::default()
        }
    }

    #[test]
    fn a_small_wobble_in_many_samples_is_noise() {
        // 30.0% → 30.2% of 10,000 samples: the margin is about ±1.3 points.
        let before = sums("30.00", 3_000, 0.30, 30, 1_000);
        let now = sums("30.20", 3_020, 0.302, 30, 1_000);
        let change = compare(&before, 10_000, &now, 10_000);
        assert_eq!(change.flags, 0, "{change:?}");
        let margin = change.share_margin.unwrap();
        assert!((margin - 0.0127).abs() < 0.0005, "{margin}");
    }

    #[test]
    fn a_doubling_is_flagged_on_every_figure() {
        let before = sums("20.00", 2_000, 0.20, 20, 1_000);
        let now = sums("40.00", 4_000, 0.40, 40, 1_000);
        let change = compare(&before, 10_000, &now, 10_000);
        assert_eq!(
            change.flags,
            COST_CHANGED | SHARE_CHANGED | CPU_PER_REQUEST_CHANGED
        );
    }

    #[test]
    fn the_same_share_of_a_bigger_bill_changes_cost_not_share() {
        let before = sums("20.00", 2_000, 0.20, 20, 1_000);
        let now = sums("40.00", 2_000, 0.20, 20, 1_000);
        let change = compare(&before, 10_000, &now, 10_000);
        assert_eq!(change.flags, COST_CHANGED);
    }

    #[test]
    fn unsampled_costs_have_no_noise() {
        let before = Sums {
            cost: "5".parse().unwrap(),
            ..Sums::default()
        };
        let now = Sums {
            cost: "5.01".parse().unwrap(),
            ..Sums::default()
        };
        let change = compare(&before, 100, &now, 100);
        assert_eq!(change.cost_margin, Some(0.0));
        assert_eq!(change.flags, COST_CHANGED);
    }
}
