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
    let measured = accuracy::run(Duration::from_secs(seconds), hz, &dir)?;
    let sampled = accuracy::sampled_cpu_by_endpoint(&dir)?;
    std::fs::remove_dir_all(&dir)?;
    let cpu_seconds = measured.iter().map(|m| m.cpu_ns).sum::<u64>() as f64 / 1e9;
    println!("{seconds} s at {hz} Hz, {cpu_seconds:.1} s of CPU in the requests");
    println!(
        "| endpoint | requests | truth | featgen | equal cost per request | latency as proxy |"
    );
    println!("|---|---|---|---|---|---|");
    let splits = accuracy::compare(&measured, |endpoint| {
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
            "| `{}` | {} | {:.1}% | {} | {} | {} |",
            split.endpoint,
            measured.requests,
            split.truth * 100.0,
            point(split.featgen),
            point(split.equal_per_request),
            point(split.latency_proxy)
        );
    }
    Ok(())
}
