//! Prints featgen's split of the accuracy workload beside the truth and the article's two naive
//! methods: `cargo run --release -p featgen-demo --example accuracy [SECONDS] [HZ]` (default 60 s
//! at 100 Hz). The figures of the README's "Accuracy, shown".

use std::time::Duration;

use featgen_demo::accuracy;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().map_or(Ok(60), |arg| arg.parse())?;
    let hz: u32 = args.next().map_or(Ok(100), |arg| arg.parse())?;
    let dir = std::env::temp_dir().join(format!("featgen-accuracy-{}", std::process::id()));
    let measured = accuracy::run(Duration::from_secs(seconds), hz, accuracy::CLIENTS, &dir)?;
    let sampled = accuracy::sampled_cpu_by_endpoint(&dir)?;
    std::fs::remove_dir_all(&dir)?;
    let cpu_seconds = measured.iter().map(|m| m.cpu_ns).sum::<u64>() as f64 / 1e9;
    let samples = measured
        .iter()
        .map(|m| sampled.get(m.endpoint).copied().unwrap_or(0))
        .sum::<u64>() as f64
        * f64::from(hz)
        / 1e9;
    println!(
        "{seconds} s at {hz} Hz: {cpu_seconds:.1} s of CPU in the requests, {samples:.0} samples \
         of them, {} clients",
        accuracy::CLIENTS
    );
    println!(
        "| endpoint | requests | I/O wait in latency | truth | featgen | standard error \
         (independent samples) | equal cost per request | latency as proxy |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let splits = accuracy::compare(&measured, hz, |endpoint| {
        sampled.get(endpoint).copied().unwrap_or(0)
    });
    for (split, measured) in splits.iter().zip(&measured) {
        let point = |share: f64| {
            format!(
                "{:.1}% ({:+.2} pp)",
                share * 100.0,
                (share - split.truth) * 100.0
            )
        };
        println!(
            "| `{}` | {} | {:.0}% | {:.1}% | {} | {:.2} pp ({:.2} pp) | {} | {} |",
            split.endpoint,
            measured.requests,
            measured.wait_ns as f64 / measured.latency_ns.max(1) as f64 * 100.0,
            split.truth * 100.0,
            point(split.featgen),
            split.standard_error * 100.0,
            split.independent_standard_error * 100.0,
            point(split.equal_per_request),
            point(split.latency_proxy)
        );
    }
    for split in &splits {
        println!(
            "{}: featgen {:+.2} standard errors off; 1 pp is {:.1} standard errors ({:.1} for \
             independent samples)",
            split.endpoint,
            (split.featgen - split.truth) / split.standard_error,
            0.01 / split.standard_error,
            0.01 / split.independent_standard_error
        );
    }
    Ok(())
}
