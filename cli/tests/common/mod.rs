//! What the tests of the `featgen` binary share: running it, and for the tests of `featgen
//! shares` and `featgen cost` on profiles, the one-feature registry their profiles resolve
//! against and the pods' profiles.

#![allow(
    dead_code,
    reason = "each test binary uses its own part of this module"
)]

use std::path::Path;
use std::process::{Command, Output};

#[path = "../../../attribution/tests/support/mod.rs"]
mod support;

/// 2025-06-12 15:00:00 UTC, the hour of the article's bill.
pub const T0: i64 = 1_749_740_400;

/// Runs the built `featgen` in `dir`.
pub fn featgen(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_featgen"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

/// The run's stderr, as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Writes `registry/` under `root`: the feature `messaging` (id 1 in its lock).
pub fn write_messaging_registry(root: &Path) {
    std::fs::create_dir_all(root.join("registry")).unwrap();
    std::fs::write(
        root.join("registry/features.yaml"),
        "- feature: messaging\n  team: msgs-team\n  tier: S\n  feature_group: chat\n",
    )
    .unwrap();
    std::fs::write(
        root.join("registry/featgen.lock"),
        "version = 1\n\n[features]\nmessaging = 1\n",
    )
    .unwrap();
}

/// The CPU of one pod's profile, by the labels its samples carry.
pub struct PodCpu {
    /// Under `feature = messaging`, `endpoint = create_message`.
    pub known_ns: i64,
    /// Under `feature = mystery` (in no registry), `endpoint = x`.
    pub unknown_ns: i64,
    /// Under no feature or endpoint.
    pub unattributed_ns: i64,
}

/// Writes `profiles/<pod>/p.pb.gz` under `root`: one 10 s CPU profile of `deployment` (service
/// `service`) starting `offset_s` seconds after [`T0`], with `cpu` in its three samples.
pub fn write_pod_profile(
    root: &Path,
    (pod, service, deployment): (&str, &str, &str),
    offset_s: i64,
    cpu: PodCpu,
) {
    let mut profile = support::Builder::cpu((T0 + offset_s) * 1_000_000_000, 10_000_000_000);
    let series = [("service_name", service), ("deployment", deployment)];
    let mut known = vec![("feature", "messaging"), ("endpoint", "create_message")];
    known.extend(series);
    profile.sample(vec![], vec![cpu.known_ns], &known, None);
    let mut unknown = vec![("feature", "mystery"), ("endpoint", "x")];
    unknown.extend(series);
    profile.sample(vec![], vec![cpu.unknown_ns], &unknown, None);
    profile.sample(vec![], vec![cpu.unattributed_ns], &series, None);
    let dir = root.join("profiles").join(pod);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("p.pb.gz"), profile.gzip()).unwrap();
}
