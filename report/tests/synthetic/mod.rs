//! A synthetic fleet's cost rows that keep the contract: for every (hour, deployment, currency)
//! the rows sum exactly to the bill. Shared by the tests and the size/render measurement.
//!
//! Each service runs as several deployments (regions); its endpoints belong to its features;
//! one deployment-hour in 200 has no profile (all `unprofiled`), 5% of every profiled CPU runs
//! under no route (`unattributed`), and a `kube:unallocated` row a hour is billed to no
//! deployment. From `regression_at` on, the first endpoint of service 0 burns three times the
//! CPU per request: the change "What changed" must flag.

use featgen_attribution::{Bucket, CostRow, ShareRow, UNATTRIBUTED_ID, UtcTime};
use featgen_report::{Error, Rows};
use rust_decimal::Decimal;

/// The shape of the fleet.
#[derive(Clone, Debug)]
pub struct Fleet {
    /// First hour (Unix seconds, hour-aligned).
    pub start: i64,
    /// Hours of rows.
    pub hours: i64,
    /// Services; deployment d runs service d % services.
    pub services: usize,
    /// Deployments in all (a multiple of `services` keeps regions even).
    pub deployments: usize,
    /// Endpoints of each service.
    pub endpoints_per_service: usize,
    /// Features of each service (its endpoints are dealt over them).
    pub features_per_service: usize,
    /// From this hour (index) on, service 0's first endpoint costs 3× the CPU.
    pub regression_at: Option<i64>,
}

const REGIONS: [&str; 6] = [
    "eu-west", "us-east", "ap-south", "us-west", "eu-north", "sa-east",
];
const TIERS: [&str; 3] = ["S", "A", "B"];

/// splitmix64: a fixed, fast pseudo-random stream so the fleet is the same on every run.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A number in [0, 1) from the seeds.
fn unit(a: u64, b: u64, c: u64) -> f64 {
    (mix(a.wrapping_mul(1_000_003) ^ mix(b.wrapping_mul(7_919) ^ mix(c))) >> 11) as f64
        / (1u64 << 53) as f64
}

impl Fleet {
    /// The deployment's name.
    pub fn deployment(&self, d: usize) -> String {
        format!(
            "svc{:03}-{}",
            d % self.services,
            REGIONS[(d / self.services) % REGIONS.len()]
        )
    }

    /// Calls `sink` with every cost row, hour by hour.
    pub fn each_cost_row(&self, sink: &mut dyn FnMut(CostRow)) {
        for hour in 0..self.hours {
            let start = UtcTime(self.start + hour * 3_600);
            let end = UtcTime(start.0 + 3_600);
            let row = |deployment: String, bucket: Bucket, cost: Decimal| CostRow {
                start_time: start,
                end_time: end,
                deployment: deployment.into(),
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
                cost,
                currency: "USD".into(),
                bucket,
                cost_per_request: None,
                cost_if_equal_per_request: None,
            };
            sink(row(
                "kube:unallocated".into(),
                Bucket::Unallocated,
                Decimal::new(50, 2),
            ));
            for d in 0..self.deployments {
                // $1.50 to $3.49 a deployment-hour, in cents.
                let bill = Decimal::new(150 + (unit(d as u64, hour as u64, 1) * 200.0) as i64, 2);
                // One deployment-hour in 200 (and always the last deployment's second hour)
                // has no profile.
                if mix(d as u64 * 7_777 + hour as u64).is_multiple_of(200)
                    || (d + 1, hour) == (self.deployments, 1)
                {
                    sink(row(self.deployment(d), Bucket::Unprofiled, bill));
                    continue;
                }
                self.profiled_hour(hour, d, bill, &row, sink);
            }
        }
    }

    /// The rows of one profiled deployment-hour, summing exactly to `bill`.
    fn profiled_hour(
        &self,
        hour: i64,
        d: usize,
        bill: Decimal,
        row: &dyn Fn(String, Bucket, Decimal) -> CostRow,
        sink: &mut dyn FnMut(CostRow),
    ) {
        let service = d % self.services;
        let mut cpu = Vec::with_capacity(self.endpoints_per_service);
        let mut requests = Vec::with_capacity(self.endpoints_per_service);
        for e in 0..self.endpoints_per_service {
            let calls = 1_000 + (unit(d as u64, e as u64, 2) * 9_000.0) as u64;
            // 1 ms to 20 ms of CPU a call.
            let mut per_call = 0.001 + unit(service as u64, e as u64, 3) * 0.019;
            if service == 0 && e == 0 && self.regression_at.is_some_and(|at| hour >= at) {
                per_call *= 3.0;
            }
            // What a 100 Hz profiler sees: a Poisson count of 10 ms samples (normal
            // approximation, Box-Muller), so the rows carry sampling noise and nothing else.
            let expected = calls as f64 * per_call * 100.0;
            let (u1, u2) = (
                unit(hour as u64, (d * 1_000 + e) as u64, 4).max(1e-12),
                unit(hour as u64, (d * 1_000 + e) as u64, 5),
            );
            let gaussian = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            let samples = (expected + expected.sqrt() * gaussian).round().max(0.0) as u64;
            cpu.push(samples * 10_000_000);
            requests.push(calls);
        }
        let attributed: u64 = cpu.iter().sum();
        let unattributed = attributed / 19; // 5% of the whole
        let total_cpu = attributed + unattributed;
        let total_requests: u64 = requests.iter().sum();
        let scale = |part: u128, whole: u128| {
            (bill * Decimal::from(part) / Decimal::from(whole)).round_dp(6)
        };
        let mut allocated = Decimal::ZERO;
        for e in 0..self.endpoints_per_service {
            let cost = scale(u128::from(cpu[e]), u128::from(total_cpu));
            allocated += cost;
            let feature = e % self.features_per_service;
            let feature_name = format!("svc{service:03}-feature{feature}");
            let mut out = row(self.deployment(d), Bucket::Feature, cost);
            out.feature = Some(feature_name.into());
            out.endpoint = Some(format!("svc{service:03}/endpoint{e:02}").into());
            out.percentage_of_cpu = cpu[e] as f64 / total_cpu as f64;
            out.feature_id = (service * self.features_per_service + feature) as i64;
            out.feature_group = Some(format!("group{:02}", service % 12).into());
            out.team = Some(format!("team{:02}", service % 20).into());
            out.tier = Some(TIERS[service % 3].into());
            out.cpu_ns = cpu[e];
            out.samples = cpu[e] / 10_000_000; // 100 Hz
            out.requests = Some(requests[e]);
            out.cost_per_request = Some(cost / Decimal::from(requests[e]));
            out.cost_if_equal_per_request =
                Some(scale(u128::from(requests[e]), u128::from(total_requests)));
            sink(out);
        }
        let mut out = row(self.deployment(d), Bucket::Unattributed, bill - allocated);
        out.percentage_of_cpu = unattributed as f64 / total_cpu as f64;
        out.cpu_ns = unattributed;
        out.samples = unattributed / 10_000_000;
        sink(out);
    }

    /// All cost rows in memory (small fleets only).
    pub fn cost_rows(&self) -> Vec<CostRow> {
        let mut rows = Vec::new();
        self.each_cost_row(&mut |row| rows.push(row));
        rows
    }
}

impl Rows for Fleet {
    fn costs(&self, sink: &mut dyn FnMut(CostRow)) -> Result<(), Error> {
        self.each_cost_row(sink);
        Ok(())
    }

    fn shares(&self, _sink: &mut dyn FnMut(ShareRow)) -> Result<(), Error> {
        Ok(())
    }
}
