//! Exact apportionment by the largest-remainder method.
//!
//! The one rounding rule of `featgen cost`, used both to spread a multi-hour billing row over its
//! hours and to split a deployment-hour's bill over its share rows:
//!
//! 1. Write the total as an integer number of units at its own scale (`12.340` is 12,340 units
//!    of 0.001): that scale is "the input's precision", and no part is finer than it.
//! 2. Each part `i` gets `floor(|units| × wᵢ / Σw)` units, computed exactly in integers.
//! 3. The units left over (fewer than the number of parts) go one each to the parts with the
//!    largest remainders `|units| × wᵢ mod Σw`; equal remainders go to the earlier part.
//! 4. A negative total (a credit) is split as its absolute value, then every part negated.
//!
//! The parts therefore sum to the total exactly, each is within one unit of its exact share,
//! and the result depends only on the order of the parts, never on floating point.

use rust_decimal::Decimal;

/// Splits `total` into parts proportional to `weights`, at `total`'s scale, summing to `total`
/// exactly (the module's rule). `None` when every weight is zero.
pub fn apportion(total: Decimal, weights: &[u64]) -> Option<Vec<Decimal>> {
    let mut weights = weights.to_vec();
    let mut sum: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    if sum == 0 {
        return None;
    }
    // The exact integer division below needs Σw < 2^64. Halving every weight keeps their
    // proportions to within 2^-64 relative; it cannot happen for CPU nanoseconds in one
    // deployment-hour (584 CPU-years) but keeps the function total.
    while sum > u128::from(u64::MAX) {
        weights.iter_mut().for_each(|w| *w >>= 1);
        sum = weights.iter().map(|&w| u128::from(w)).sum();
    }
    let divisor = sum as u64;
    let scale = total.scale();
    let units = total.mantissa().unsigned_abs();
    let mut parts = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    let mut given: u128 = 0;
    for &weight in &weights {
        let (quotient, remainder) = mul_div(units, weight, divisor);
        given += quotient;
        parts.push(quotient);
        remainders.push(remainder);
    }
    let left_over = (units - given) as usize;
    if left_over > 0 {
        let mut order: Vec<usize> = (0..weights.len()).collect();
        // Stable sort: equal remainders keep the earlier part first.
        order.sort_by(|&a, &b| remainders[b].cmp(&remainders[a]));
        for &index in &order[..left_over] {
            parts[index] += 1;
        }
    }
    let negative = total.is_sign_negative();
    Some(
        parts
            .into_iter()
            .map(|units| {
                // units ≤ |mantissa| < 2^96, so the conversion cannot fail.
                let signed = units as i128;
                Decimal::from_i128_with_scale(if negative { -signed } else { signed }, scale)
            })
            .collect(),
    )
}

/// `amount / count`, rounded half away from zero to ten decimal places beyond `amount`'s scale
/// (at most 28), computed exactly in integers: `cost_per_request`. The warehouse SQL computes
/// the same integers. (Fewer places when the quotient would not fit a decimal's 96 bits.)
pub fn per_unit(amount: Decimal, count: u64) -> Decimal {
    let scale = amount.scale();
    let units = amount.mantissa().unsigned_abs();
    let mut extra = (scale + 10).min(28) - scale;
    loop {
        let (quotient, remainder) = mul_div(units, 10_u64.pow(extra), count);
        let rounded = quotient + u128::from(u128::from(remainder) * 2 >= u128::from(count));
        if rounded < 1 << 96 || extra == 0 {
            let signed = rounded as i128;
            let signed = if amount.is_sign_negative() {
                -signed
            } else {
                signed
            };
            return Decimal::from_i128_with_scale(signed, scale + extra);
        }
        extra -= 1;
    }
}

/// `(a × b / d, a × b mod d)` exactly, for `a < 2^96` (a decimal mantissa), `b` and `d > 0`
/// below 2^64: the product has up to 160 bits, so it is held as three 64-bit limbs and
/// divided limb by limb.
fn mul_div(a: u128, b: u64, d: u64) -> (u128, u64) {
    // Nearly every amount has fewer than 2^64 units: the product then fits 128 bits and one
    // wide division does (the limb loop below costs three).
    if let Ok(small) = u64::try_from(a) {
        let product = u128::from(small) * u128::from(b);
        return (product / u128::from(d), (product % u128::from(d)) as u64);
    }
    let low = (a as u64 as u128) * u128::from(b);
    let high = (a >> 64) * u128::from(b) + (low >> 64);
    let limbs = [(high >> 64) as u64, high as u64, low as u64];
    let mut remainder: u128 = 0;
    let mut quotient: u128 = 0;
    for limb in limbs {
        let current = (remainder << 64) | u128::from(limb);
        quotient = (quotient << 64) | (current / u128::from(d));
        remainder = current % u128::from(d);
    }
    (quotient, remainder as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn thirds_of_a_dollar() {
        let parts = apportion(dec("1.00"), &[1, 1, 1]).unwrap();
        assert_eq!(parts, [dec("0.34"), dec("0.33"), dec("0.33")]);
    }

    #[test]
    fn largest_remainder_wins_the_leftover() {
        assert_eq!(
            apportion(dec("0.10"), &[3, 3, 4]).unwrap(),
            [dec("0.03"), dec("0.03"), dec("0.04")]
        );
        // 1.00 by 1:1:1:3 -> 16.67, 16.67, 16.67, 50: floors 16,16,16,50; 2 left for the
        // first two (equal remainders, earlier first).
        assert_eq!(
            apportion(dec("1.00"), &[1, 1, 1, 3]).unwrap(),
            [dec("0.17"), dec("0.17"), dec("0.16"), dec("0.50")]
        );
    }

    #[test]
    fn credits_split_as_their_absolute_value() {
        assert_eq!(
            apportion(dec("-1.00"), &[1, 1, 1]).unwrap(),
            [dec("-0.34"), dec("-0.33"), dec("-0.33")]
        );
    }

    #[test]
    fn huge_mantissas_and_weights_stay_exact() {
        let total = Decimal::from_i128_with_scale((1 << 95) + 12_345, 10);
        let weights = [u64::MAX / 3, u64::MAX / 3, 7];
        let parts = apportion(total, &weights).unwrap();
        assert_eq!(parts.iter().sum::<Decimal>(), total);
    }

    #[test]
    fn all_zero_weights_have_no_split() {
        assert_eq!(apportion(dec("1"), &[0, 0]), None);
    }

    #[test]
    fn per_unit_rounds_half_away_from_zero() {
        // 1.458499 / 300 = 0.004861663333...: 16 places.
        assert_eq!(per_unit(dec("1.458499"), 300), dec("0.0048616633333333"));
        // 0.5 / 4 = 0.125 exactly; -1 / 3 to 10 places.
        assert_eq!(per_unit(dec("0.5"), 4), dec("0.125"));
        assert_eq!(per_unit(dec("-1"), 3), dec("-0.3333333333"));
        // 1 / 2e10 = 0.00000000005 ties away from zero at 10 places.
        assert_eq!(per_unit(dec("1"), 20_000_000_000), dec("0.0000000001"));
        assert_eq!(per_unit(dec("-1"), 20_000_000_000), dec("-0.0000000001"));
    }

    #[test]
    fn mul_div_matches_wide_arithmetic() {
        let (q, r) = mul_div(u128::MAX >> 32, u64::MAX, u64::MAX - 1);
        // (2^96-1)(2^64-1) / (2^64-2): checked against Python's integers.
        assert_eq!(q, 79228162514264337597838917631);
        assert_eq!(r, 8589934591);
    }
}
