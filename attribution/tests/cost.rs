//! Allocation: a golden run on the article's bill worked out by hand, and properties over random
//! bills and shares.

use std::collections::BTreeMap;
use std::path::Path;

use featgen_attribution::billing::{Bill, BillReader, BillingOptions, Slice, SliceKey};
use featgen_attribution::cost::{allocate, sort_shares};
use featgen_attribution::{Bucket, CostRow, ShareRow, UNATTRIBUTED_ID, UtcTime};
use proptest::prelude::*;
use rust_decimal::Decimal;

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn share(
    start: i64,
    deployment: &str,
    feature: Option<(&str, i64, &str)>,
    cpu_ns: u64,
    requests: Option<u64>,
) -> ShareRow {
    ShareRow {
        start_time: UtcTime(start),
        end_time: UtcTime(start + 3_600),
        deployment: deployment.into(),
        feature: feature.map(|(name, _, _)| name.into()),
        endpoint: feature.map(|(_, _, endpoint)| endpoint.into()),
        percentage_of_cpu: 0.0,
        feature_id: feature.map_or(UNATTRIBUTED_ID, |(_, id, _)| id),
        feature_group: None,
        team: None,
        tier: None,
        cpu_ns,
        samples: cpu_ns / 10_000_000,
        requests,
    }
}

fn run(
    bill: &Bill,
    mut shares: Vec<ShareRow>,
) -> (Vec<CostRow>, featgen_attribution::cost::Reconciliation) {
    sort_shares(&mut shares);
    let mut rows = Vec::new();
    let summary = allocate(bill, shares, |row| {
        rows.push(row);
        Ok(())
    })
    .unwrap();
    (rows, summary)
}

/// 2025-06-12 15:00:00 UTC.
const HOUR_15: i64 = 1_749_740_400;

#[test]
fn the_article_bill_priced_by_hand() {
    let mut reader = BillReader::new(BillingOptions::default());
    reader
        .read_file(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/billing/article.csv"),
        )
        .unwrap();
    let bill = reader.finish().unwrap();
    let shares = vec![
        share(HOUR_15, "messages-production", None, 100, None),
        share(
            HOUR_15,
            "messages-production",
            Some(("messaging", 1, "list_messages")),
            300,
            Some(600),
        ),
        share(
            HOUR_15,
            "messages-production",
            Some(("messaging", 1, "create_message")),
            600,
            Some(300),
        ),
        share(
            HOUR_15,
            "search-production",
            Some(("search", 2, "query")),
            5_000,
            Some(10),
        ),
    ];
    let (rows, summary) = run(&bill, shares);
    let at_15: Vec<(&str, Bucket, Option<&str>, Decimal)> = rows
        .iter()
        .filter(|row| row.start_time == UtcTime(HOUR_15))
        .map(|row| {
            (
                row.deployment.as_str(),
                row.bucket,
                row.endpoint.as_deref(),
                row.cost,
            )
        })
        .collect();
    // messages-production's 2.430832 (2,430,832 units of 10⁻⁶) by CPU 600:300:100: floors
    // 1,458,499 / 729,249 / 243,083 with remainders .2/.6/.2, the one unit left goes to
    // list_messages. Its naive split by requests 300:600 (the unattributed row has none):
    // 810,277.33 / 1,620,554.67, the unit to list_messages.
    assert_eq!(
        at_15,
        [
            ("", Bucket::Unallocated, None, dec("1.500000")),
            (
                "messages-production",
                Bucket::Feature,
                Some("create_message"),
                dec("1.458499")
            ),
            (
                "messages-production",
                Bucket::Feature,
                Some("list_messages"),
                dec("0.729250")
            ),
            (
                "messages-production",
                Bucket::Unattributed,
                None,
                dec("0.243083")
            ),
            (
                "users-production",
                Bucket::Unprofiled,
                None,
                dec("0.816944")
            ),
        ]
    );
    let create = rows
        .iter()
        .find(|row| row.endpoint.as_deref() == Some("create_message"))
        .unwrap();
    assert_eq!(create.cost_if_equal_per_request, Some(dec("0.810277")));
    // 1.458499 / 300 to 16 places, half away from zero.
    assert_eq!(create.cost_per_request, Some(dec("0.0048616633333333")));
    let list = rows
        .iter()
        .find(|row| row.endpoint.as_deref() == Some("list_messages"))
        .unwrap();
    assert_eq!(list.cost_if_equal_per_request, Some(dec("1.620555")));
    assert_eq!(list.cost_per_request, Some(dec("0.0012154166666667")));
    let unattributed = rows
        .iter()
        .find(|row| row.bucket == Bucket::Unattributed)
        .unwrap();
    assert_eq!(
        (
            unattributed.cost_per_request,
            unattributed.cost_if_equal_per_request
        ),
        (None, None)
    );

    // The 46 other hours of the two daily disks are unprofiled; search-production is profiled
    // but not billed: a warning, never a cost.
    assert_eq!(rows.len(), 5 + 46);
    assert_eq!(summary.unbilled.len(), 1);
    assert_eq!(summary.unbilled[0].deployment, "search-production");
    assert_eq!(summary.unbilled[0].cpu_ns, 5_000);
    assert!(summary.balanced());
    let usd = &summary.currencies[0];
    assert_eq!(
        (
            usd.billed,
            usd.feature,
            usd.unattributed,
            usd.unprofiled,
            usd.unallocated
        ),
        (
            dec("8.007776"),
            dec("2.187749"),
            dec("0.243083"),
            dec("4.076944"),
            dec("1.500000")
        )
    );
    assert_eq!(summary.billing_rows_read, 7);
    assert_eq!(summary.share_rows_read, 4);
    assert_eq!(summary.cost_rows_written, 51);
}

#[test]
fn unsorted_shares_are_refused() {
    let bill = Bill::new(3_600);
    let shares = vec![
        share(HOUR_15, "b", None, 1, None),
        share(HOUR_15, "a", None, 1, None),
    ];
    let err = allocate(&bill, shares, |_| Ok(())).unwrap_err();
    assert!(
        err.to_string()
            .contains("not in (start_time, deployment) order"),
        "{err}"
    );
}

#[test]
fn shares_of_another_step_are_refused() {
    let bill = Bill::new(86_400);
    let err = allocate(&bill, vec![share(HOUR_15, "a", None, 1, None)], |_| Ok(())).unwrap_err();
    assert!(
        err.to_string()
            .contains("covers 3600 s, the billing step is 86400 s"),
        "{err}"
    );
}

const DEPLOYMENTS: [&str; 3] = ["api", "web", "worker"];

prop_compose! {
    fn slice()(step in 0..3_i64, deployment in 0..4_usize, currency in 0..2_usize,
               mantissa in -10_000_000_000_i64..10_000_000_000, scale in 0..12_u32)
        -> (SliceKey, Slice) {
        let unallocated = deployment == 3;
        (
            SliceKey {
                start: UtcTime(HOUR_15 + step * 3_600),
                deployment: if unallocated { String::new() } else { DEPLOYMENTS[deployment].into() },
                currency: ["EUR", "USD"][currency].into(),
            },
            Slice { amount: Decimal::new(mantissa, scale), unallocated },
        )
    }
}

prop_compose! {
    fn share_row()(step in 0..3_i64, deployment in 0..3_usize, feature in 0..5_i64,
                   cpu_ns in prop_oneof![Just(0_u64), 1..1_000_000_000_000_u64],
                   requests in proptest::option::of(0..1_000_000_u64)) -> ShareRow {
        let endpoint = format!("e{feature}");
        let feature = (feature > 0).then(|| (["", "a", "b", "c", "d"][feature as usize], feature, endpoint.as_str()));
        share(HOUR_15 + step * 3_600, DEPLOYMENTS[deployment], feature, cpu_ns, requests)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn every_unit_lands_in_exactly_one_bucket(
        slices in proptest::collection::vec(slice(), 0..12),
        shares in proptest::collection::vec(share_row(), 0..40),
    ) {
        // One (step, deployment) has one currency: keep the first slice drawn for it.
        let mut bill = Bill::new(3_600);
        let mut seen = std::collections::HashSet::new();
        for (key, slice) in slices {
            if slice.unallocated || seen.insert((key.start, key.deployment.clone())) {
                bill.insert(key, slice);
            }
        }
        // One row per (step, deployment, feature, endpoint), as the contract keys them.
        let mut unique = BTreeMap::new();
        for row in shares {
            unique.entry((row.start_time, row.deployment.clone(), row.feature_id)).or_insert(row);
        }
        let shares: Vec<ShareRow> = unique.into_values().collect();
        let (rows, summary) = run(&bill, shares.clone());

        prop_assert!(summary.balanced());
        let keys: Vec<_> = rows.iter().map(|r| (r.start_time, r.deployment.clone(), r.currency.clone(), r.bucket, r.feature_id, r.endpoint.clone())).collect();
        prop_assert!(keys.windows(2).all(|w| w[0] < w[1]), "rows are in key order, keys unique");

        for (key, slice) in bill.slices() {
            let mine: Vec<&CostRow> = rows.iter().filter(|r| r.start_time == key.start && r.deployment == key.deployment && r.currency == key.currency).collect();
            let sum: Decimal = mine.iter().map(|r| r.cost).sum();
            prop_assert_eq!(sum, slice.amount);
            prop_assert!(mine.iter().all(|r| r.cost.scale() == slice.amount.scale() || r.cost.is_zero()));
            let profiled: Vec<&ShareRow> = shares.iter().filter(|s| s.start_time == key.start && s.deployment == key.deployment).collect();
            let cpu: u64 = profiled.iter().map(|s| s.cpu_ns).sum();
            if slice.unallocated {
                prop_assert_eq!(mine.len(), 1);
                prop_assert_eq!(mine[0].bucket, Bucket::Unallocated);
            } else if cpu == 0 {
                prop_assert_eq!(mine.len(), 1);
                prop_assert_eq!(mine[0].bucket, Bucket::Unprofiled);
            } else {
                prop_assert_eq!(mine.len(), profiled.len());
                prop_assert!(mine.iter().all(|r| matches!(r.bucket, Bucket::Feature | Bucket::Unattributed)));
                // Each part is within one unit of its exact share.
                let unit = Decimal::new(1, slice.amount.scale());
                for row in &mine {
                    let exact = slice.amount * Decimal::from(row.cpu_ns) / Decimal::from(cpu);
                    prop_assert!((row.cost - exact).abs() < unit, "{} vs {}", row.cost, exact);
                }
                let with_requests: Vec<&&CostRow> = mine.iter().filter(|r| r.requests.is_some()).collect();
                if with_requests.iter().any(|r| r.requests > Some(0)) {
                    let naive: Decimal = with_requests.iter().map(|r| r.cost_if_equal_per_request.unwrap()).sum();
                    prop_assert_eq!(naive, slice.amount);
                }
            }
        }
        // Profiled (step, deployment)s that no slice bills are warnings, with their CPU.
        for share in &shares {
            let billed = bill.slices().any(|(k, s)| !s.unallocated && k.start == share.start_time && k.deployment == share.deployment);
            let warned = summary.unbilled.iter().any(|u| u.start_time == share.start_time && u.deployment == share.deployment);
            prop_assert_eq!(billed, !warned);
        }
        let per_currency: BTreeMap<String, Decimal> = bill.slices().fold(BTreeMap::new(), |mut m, (k, s)| {
            *m.entry(k.currency).or_default() += s.amount;
            m
        });
        for totals in &summary.currencies {
            prop_assert_eq!(totals.billed, per_currency[totals.currency.as_str()]);
            prop_assert_eq!(totals.feature + totals.unattributed + totals.unprofiled + totals.unallocated, totals.billed);
        }
    }
}
