//! The period a run covers, its steps, and how a profile window is split over steps.
//!
//! A window that crosses a step boundary is apportioned by overlap, exactly in integer
//! nanoseconds: each step gets `value × overlap / window` rounded down, and the nanoseconds
//! left over go one each to the steps with the largest remainders (ties to the earlier step).
//! The parts always sum to the value, and the split depends only on the window, never on the
//! period asked for: running hour 10 and hour 11 separately gives the same parts as running
//! both at once, so no nanosecond is lost or counted twice at the boundary.

use std::fmt;
use std::str::FromStr;

use crate::time::{DAY, HOUR, UtcTime};

const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// The length of a step: an hour (the default) or a UTC day.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// `1h`.
    #[default]
    Hour,
    /// `1d`.
    Day,
}

impl Step {
    /// The step's length in seconds.
    pub const fn seconds(self) -> i64 {
        match self {
            Step::Hour => HOUR,
            Step::Day => DAY,
        }
    }
}

impl FromStr for Step {
    type Err = String;

    fn from_str(text: &str) -> Result<Step, String> {
        match text {
            "1h" | "hour" => Ok(Step::Hour),
            "1d" | "day" => Ok(Step::Day),
            _ => Err(format!("invalid step `{text}`: write `1h` or `1d`")),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Hour => "1h",
            Step::Day => "1d",
        })
    }
}

/// The steps a run covers: `from` inclusive to `to` exclusive, both on step boundaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    from: UtcTime,
    to: UtcTime,
    step: Step,
}

impl Period {
    /// The period `[from, to)` in steps of `step`; both ends must be step boundaries (UTC
    /// hours, or UTC midnights for days) and `from` before `to`.
    pub fn new(from: UtcTime, to: UtcTime, step: Step) -> Result<Period, String> {
        for (name, time) in [("--from", from), ("--to", to)] {
            if time.floor(step.seconds()) != time {
                return Err(format!(
                    "{name} {time} is not on a {step} step boundary (use {} or {})",
                    time.floor(step.seconds()),
                    UtcTime(time.floor(step.seconds()).0 + step.seconds())
                ));
            }
        }
        if from >= to {
            return Err(format!("--from {from} must be before --to {to}"));
        }
        Ok(Period { from, to, step })
    }

    /// The last complete step before `now`.
    pub fn last_complete(now: UtcTime, step: Step) -> Period {
        let to = now.floor(step.seconds());
        Period {
            from: UtcTime(to.0 - step.seconds()),
            to,
            step,
        }
    }

    /// Start of the first step.
    pub const fn from(self) -> UtcTime {
        self.from
    }

    /// End of the last step (exclusive).
    pub const fn to(self) -> UtcTime {
        self.to
    }

    /// The step.
    pub const fn step(self) -> Step {
        self.step
    }

    /// Splits each of `values` measured over the window `[start, start + duration)` (ns) over
    /// the steps it overlaps (see the module documentation), and calls `part(step_start,
    /// parts)` for every step of the period that gets a share, in time order. A window of no
    /// length belongs to the step holding its start.
    pub fn apportion<const N: usize>(
        self,
        start_ns: i64,
        duration_ns: i64,
        values: [u64; N],
        mut part: impl FnMut(UtcTime, [u64; N]),
    ) {
        let step_ns = i128::from(self.step.seconds()) * NANOS_PER_SECOND;
        let (start, end) = window(start_ns, duration_ns);
        let first_step = start.div_euclid(step_ns);
        let last_step = if end > start {
            (end - 1).div_euclid(step_ns)
        } else {
            first_step
        };
        let step_start = |index: i128| UtcTime((index * step_ns / NANOS_PER_SECOND) as i64);
        let wanted = |index: i128| {
            let at = step_start(index);
            self.from <= at && at < self.to
        };
        if first_step == last_step {
            if wanted(first_step) {
                part(step_start(first_step), values);
            }
            return;
        }
        // Crossing a boundary: integer parts, then the leftover to the largest remainders.
        let length = end - start;
        let steps: Vec<i128> = (first_step..=last_step).collect();
        let overlap = |index: i128| {
            let (from, to) = (index * step_ns, (index + 1) * step_ns);
            to.min(end) - from.max(start)
        };
        let mut parts = vec![[0u64; N]; steps.len()];
        for (value_index, &value) in values.iter().enumerate() {
            let value = i128::from(value);
            let mut remainders: Vec<(i128, usize)> = Vec::with_capacity(steps.len());
            let mut given = 0;
            for (at, &index) in steps.iter().enumerate() {
                let share = value * overlap(index);
                parts[at][value_index] = (share / length) as u64;
                given += share / length;
                remainders.push((share % length, at));
            }
            // Largest remainder first; the earlier step on ties.
            remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            for &(_, at) in remainders.iter().take((value - given) as usize) {
                parts[at][value_index] += 1;
            }
        }
        for (at, &index) in steps.iter().enumerate() {
            if wanted(index) {
                part(step_start(index), parts[at]);
            }
        }
    }
}

/// `[start, end)` in ns, with a negative duration read as none.
fn window(start_ns: i64, duration_ns: i64) -> (i128, i128) {
    let start = i128::from(start_ns);
    (start, start + i128::from(duration_ns.max(0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const H: i64 = 3_600_000_000_000;

    fn parts(period: Period, start: i64, duration: i64, value: u64) -> Vec<(i64, u64)> {
        let mut out = Vec::new();
        period.apportion(start, duration, [value], |step, [v]| out.push((step.0, v)));
        out
    }

    #[test]
    fn a_window_inside_a_step_stays_whole() {
        let period = Period::new(UtcTime(0), UtcTime(7_200), Step::Hour).unwrap();
        assert_eq!(parts(period, 10, 10_000_000_000, 7), [(0, 7)]);
        assert_eq!(parts(period, H, 0, 7), [(3_600, 7)]);
        assert_eq!(parts(period, 2 * H, 0, 7), []);
    }

    #[test]
    fn a_crossing_window_is_split_by_overlap_with_largest_remainders() {
        let period = Period::new(UtcTime(0), UtcTime(3 * 3_600), Step::Hour).unwrap();
        // 3 s before the boundary, 7 s after: 10 ns -> 3 and 7.
        assert_eq!(
            parts(period, H - 3_000_000_000, 10_000_000_000, 10),
            [(0, 3), (3_600, 7)]
        );
        // 1 ns over two equal halves: the earlier step wins the tie.
        assert_eq!(parts(period, H - 5, 10, 1), [(0, 1), (3_600, 0)]);
        // Over three steps.
        assert_eq!(
            parts(period, H / 2, 2 * H, 100),
            [(0, 25), (3_600, 50), (7_200, 25)]
        );
    }

    #[test]
    fn only_steps_of_the_period_are_kept_and_the_split_does_not_depend_on_it() {
        let both = Period::new(UtcTime(0), UtcTime(7_200), Step::Hour).unwrap();
        let first = Period::new(UtcTime(0), UtcTime(3_600), Step::Hour).unwrap();
        let second = Period::new(UtcTime(3_600), UtcTime(7_200), Step::Hour).unwrap();
        let window = (H - 1_234_567, 10_000_000_000);
        let all = parts(both, window.0, window.1, 999_999_937);
        let split = [
            parts(first, window.0, window.1, 999_999_937),
            parts(second, window.0, window.1, 999_999_937),
        ]
        .concat();
        assert_eq!(all, split);
        assert_eq!(all.iter().map(|(_, v)| v).sum::<u64>(), 999_999_937);
    }

    #[test]
    fn periods_must_sit_on_step_boundaries() {
        assert!(Period::new(UtcTime(1), UtcTime(3_600), Step::Hour).is_err());
        assert!(Period::new(UtcTime(3_600), UtcTime(86_400), Step::Day).is_err());
        assert!(Period::new(UtcTime(3_600), UtcTime(3_600), Step::Hour).is_err());
        assert_eq!(
            Period::last_complete(UtcTime(86_400 + 5_000), Step::Hour),
            Period::new(UtcTime(86_400), UtcTime(90_000), Step::Hour).unwrap()
        );
    }

    proptest! {
        #[test]
        fn parts_sum_exactly(start in -10 * H..10 * H, duration in 0..5 * H, value in any::<u64>(), day in any::<bool>()) {
            let step = if day { Step::Day } else { Step::Hour };
            let period = Period::new(UtcTime(-86_400), UtcTime(2 * 86_400), step).unwrap();
            let mut total = 0u128;
            let mut shares = Vec::new();
            period.apportion(start, duration, [value, value / 3], |step, [v, w]| {
                total += u128::from(v);
                shares.push((step, v, w));
            });
            prop_assert_eq!(total, u128::from(value));
            prop_assert_eq!(shares.iter().map(|s| u128::from(s.2)).sum::<u128>(), u128::from(value / 3));
            // Each part is within one of its exact proportional share.
            let length = i128::from(duration.max(1));
            for (step, v, _) in shares {
                let from = i128::from(step.0) * 1_000_000_000;
                let to = from + i128::from(period.step().seconds()) * 1_000_000_000;
                let overlap = (to.min(i128::from(start) + i128::from(duration)) - from.max(i128::from(start))).max(0);
                let exact = if duration == 0 { i128::from(value) } else { i128::from(value) * overlap / length };
                prop_assert!((i128::from(v) - exact).abs() <= 1);
            }
        }
    }
}
