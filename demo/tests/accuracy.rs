//! featgen's split of a known workload against the truth, and the article's naive methods far
//! off: the claim of the demo's "Accuracy, shown".
//!
//! The suite's run is 12 s at 1000 Hz with 9 clients (about 2,000 samples; the 60 s
//! figures at 100 Hz are `cargo run --release -p featgen-demo --example accuracy`, README,
//! "Accuracy, shown"). Each endpoint's share must be within max(1 point, 4 expected standard
//! errors) of the truth, in one run, without retry: an unbiased sampler exceeds 4 standard
//! errors with probability about 6e-5 per endpoint, while a bias of a point fails.

use std::time::Duration;

use featgen_demo::accuracy;

#[test]
fn featgen_matches_the_truth_and_the_naive_methods_do_not() {
    const HZ: u32 = 1000;
    let dir = tempfile::tempdir().unwrap();
    // A tenth of a busy service's clients, about 0.2 cores: at 1000 Hz that is thousands of
    // samples, and it leaves the suite's other tests the machine.
    let measured = accuracy::run(Duration::from_secs(12), HZ, 9, dir.path()).unwrap();
    let sampled = accuracy::sampled_cpu_by_endpoint(dir.path()).unwrap();
    let samples = sampled.values().sum::<u64>() * u64::from(HZ) / 1_000_000_000;
    let splits = accuracy::compare(&measured, HZ, |endpoint| {
        sampled.get(endpoint).copied().unwrap_or(0)
    });
    eprintln!("{samples} samples; {measured:#?}; {splits:#?}");
    // The bound widens with fewer samples (a loaded machine gives the run less CPU); this only
    // catches a profiler that wrote next to nothing.
    assert!(samples > 500, "too few samples: {samples}");
    for split in &splits {
        // The expected standard error holds for any workload only as the independent samples'
        // (it is lower for this one's bursts of CPU): the bound uses the larger if it is not.
        let standard_error = split.standard_error.min(split.independent_standard_error);
        let bound = f64::max(0.01, 4.0 * standard_error);
        assert!(
            (split.featgen - split.truth).abs() <= bound,
            "{}: featgen {:.4} vs truth {:.4} (bound {bound:.4})",
            split.endpoint,
            split.featgen,
            split.truth
        );
    }
    // By construction the naive methods are far off: the CPU-heavy endpoint is a third of the
    // requests, and the cheap one with the slowest backend takes most of the latency.
    let send = &splits[0];
    assert!(send.truth - send.equal_per_request > 0.2, "{send:?}");
    let list = &splits[1];
    assert!(list.latency_proxy - list.truth > 0.3, "{list:?}");
}

/// [`accuracy::poll_count_variance`] against a simulation of the sampler: one sample at a
/// uniformly random point of every period, a burst starting at a uniformly random point.
#[test]
fn the_count_variance_of_a_burst_matches_a_simulated_sampler() {
    let mut state = 0x0123_4567_89AB_CDEFu64;
    // splitmix64: a fixed seed, so the check is deterministic.
    let mut uniform = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) as f64 / u64::MAX as f64
    };
    const TRIALS: u32 = 200_000;
    for periods in [0.1, 0.4, 0.8, 1.0, 1.5, 4.25] {
        let (mut sum, mut squares) = (0.0, 0.0);
        for _ in 0..TRIALS {
            let start = uniform();
            let end = start + periods;
            let mut count = 0.0;
            let mut period = 0.0;
            while period < end {
                let sample = period + uniform();
                if (start..end).contains(&sample) {
                    count += 1.0;
                }
                period += 1.0;
            }
            sum += count;
            squares += count * count;
        }
        let mean = sum / f64::from(TRIALS);
        let variance = squares / f64::from(TRIALS) - mean * mean;
        // The simulated variance's own standard error is under 0.002 here.
        assert!(
            (variance - accuracy::poll_count_variance(periods)).abs() < 0.01,
            "{periods} periods: simulated {variance:.4}, model {:.4}",
            accuracy::poll_count_variance(periods)
        );
        assert!((mean - periods).abs() < 0.01, "{periods}: mean {mean}");
    }
}
