//! The GCP detailed usage cost export with GKE cost allocation, as BigQuery exports it
//! (newline-delimited JSON, or CSV with `labels` and `credits` as JSON text).
//!
//! The amount is the net cost, `cost` + Σ `credits[].amount` (credits are negative), in
//! `currency`, over `usage_start_time`..`usage_end_time`. The deployment is the workload the
//! GKE labels name: `k8s-workload-name` (or `--deployment-tag`), with `k8s-namespace` and
//! `goog-k8s-cluster-name` as parts of the key when `--deployment-key` asks. The namespaces
//! `kube:unallocated` and `kube:system-overhead` are unallocated buckets of their own name; a
//! row without workload labels is unallocated.

use super::input::Row;
use super::{
    BillingOptions, Charge, CostColumn, DeploymentKey, FormatReader, RowProblem, Target, amount,
    period, tag_value,
};

/// The label naming the workload.
pub const DEFAULT_TAG: &str = "k8s-workload-name";

/// GKE's namespaces for cost it does not give to a workload.
const KUBE_BUCKETS: [&str; 2] = ["kube:unallocated", "kube:system-overhead"];

/// Reader of GCP rows.
pub(crate) struct Gcp {
    tag: String,
    key: DeploymentKey,
}

impl Gcp {
    pub(crate) fn new(options: &BillingOptions) -> Result<Gcp, String> {
        if options.cost.is_some_and(|cost| cost != CostColumn::Net) {
            return Err(
                "a GCP export is priced net (cost + credits): --cost takes only `net` here".into(),
            );
        }
        Ok(Gcp {
            tag: options
                .deployment_tag
                .clone()
                .unwrap_or_else(|| DEFAULT_TAG.into()),
            key: options.deployment_key,
        })
    }
}

impl FormatReader for Gcp {
    fn required(&self) -> Vec<&'static str> {
        ["usage_start_time", "usage_end_time", "cost", "currency"].into()
    }

    fn currency_column(&self) -> &'static str {
        "currency"
    }

    fn charge(&self, row: &Row) -> Result<Charge, RowProblem> {
        let (start, end) = period(row, "usage_start_time", "usage_end_time")?;
        let currency = row
            .text("currency")
            .ok_or_else(|| RowProblem::missing("currency"))?
            .into_owned();
        let mut net = amount(row, "cost")?;
        if let Some(credits) = row.json("credits")? {
            for credit in credits.as_array().into_iter().flatten() {
                let value = credit.get("amount").cloned().unwrap_or_default();
                let object = serde_json::Map::from_iter([("amount".to_owned(), value)]);
                if let Some(credit) =
                    Row::Json(&object)
                        .decimal("amount")
                        .map_err(|problem| RowProblem {
                            column: "credits".into(),
                            ..problem
                        })?
                {
                    net += credit;
                }
            }
        }
        let labels = row.json("labels")?;
        let label = |key: &str| {
            labels
                .as_ref()
                .and_then(|labels| tag_value(labels, key, false))
        };
        let namespace = label("k8s-namespace");
        let target = match namespace.as_deref() {
            Some(bucket) if KUBE_BUCKETS.contains(&bucket) => {
                Target::Unallocated(bucket.to_owned())
            }
            _ => match self.key.join(
                label("goog-k8s-cluster-name").as_deref(),
                namespace.as_deref(),
                label(&self.tag).as_deref(),
            ) {
                Some(deployment) => Target::Deployment(deployment),
                None => Target::Unallocated(String::new()),
            },
        };
        Ok(Charge {
            start,
            end,
            target,
            currency,
            amount: net,
            split_parent: None,
            resource_id: None,
        })
    }
}
