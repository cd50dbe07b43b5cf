//! AWS CUR 2.0 with split cost allocation data (EKS).
//!
//! A split row (one per pod and hour, `split_line_item_split_cost` filled) is priced
//! `split_line_item_split_cost` + `split_line_item_unused_cost`, or with `--cost net` the
//! `split_line_item_net_split_cost` + `split_line_item_net_unused_cost`, in
//! `line_item_currency_code`, over `line_item_usage_start_date`..`line_item_usage_end_date`. The
//! deployment is the `aws:eks:deployment` tag (or `--deployment-tag`) of `resource_tags`, with
//! `aws:eks:namespace` and `aws:eks:cluster-name` as parts of the key when `--deployment-key`
//! asks; tag keys also match CUR 2.0's folded form (`aws_eks_deployment`). A split row without
//! the tag is unallocated.
//!
//! A row without split data (another service, or an instance whose cost the split rows carry)
//! is priced `line_item_unblended_cost` (net: `line_item_net_unblended_cost`) as unallocated,
//! unless its `line_item_resource_id` is the `split_line_item_parent_resource_id` of some split
//! row read: that instance's cost is already in its pods' rows, and counting it again would bill
//! it twice.

use super::input::Row;
use super::{
    BillingOptions, Charge, CostColumn, DeploymentKey, FormatReader, RowProblem, Target, amount,
    period, tag_value,
};

/// The tag naming the deployment.
pub const DEFAULT_TAG: &str = "aws:eks:deployment";

/// Reader of CUR 2.0 rows.
pub(crate) struct Aws {
    tag: String,
    key: DeploymentKey,
    split: [&'static str; 2],
    unsplit: &'static str,
}

impl Aws {
    pub(crate) fn new(options: &BillingOptions) -> Result<Aws, String> {
        let net = match options.cost {
            None => false,
            Some(CostColumn::Net) => true,
            Some(_) => {
                return Err("an AWS CUR export is priced by its split columns: --cost takes only `net` here".into());
            }
        };
        Ok(Aws {
            tag: options
                .deployment_tag
                .clone()
                .unwrap_or_else(|| DEFAULT_TAG.into()),
            key: options.deployment_key,
            split: if net {
                [
                    "split_line_item_net_split_cost",
                    "split_line_item_net_unused_cost",
                ]
            } else {
                ["split_line_item_split_cost", "split_line_item_unused_cost"]
            },
            unsplit: if net {
                "line_item_net_unblended_cost"
            } else {
                "line_item_unblended_cost"
            },
        })
    }
}

impl FormatReader for Aws {
    fn required(&self) -> Vec<&'static str> {
        [
            "line_item_usage_start_date",
            "line_item_usage_end_date",
            "line_item_currency_code",
            "resource_tags",
            "split_line_item_parent_resource_id",
            self.split[0],
            self.split[1],
        ]
        .into()
    }

    fn currency_column(&self) -> &'static str {
        "line_item_currency_code"
    }

    fn charge(&self, row: &Row) -> Result<Charge, RowProblem> {
        let (start, end) = period(
            row,
            "line_item_usage_start_date",
            "line_item_usage_end_date",
        )?;
        let currency = row
            .text("line_item_currency_code")
            .ok_or_else(|| RowProblem::missing("line_item_currency_code"))?
            .into_owned();
        let Some(split_cost) = row.decimal(self.split[0])? else {
            return Ok(Charge {
                start,
                end,
                target: Target::Unallocated(String::new()),
                currency,
                amount: amount(row, self.unsplit)?,
                split_parent: None,
                resource_id: Some(
                    row.text("line_item_resource_id")
                        .map(|id| id.into_owned())
                        .unwrap_or_default(),
                ),
            });
        };
        let unused = row.decimal(self.split[1])?.unwrap_or_default();
        let tags = row.json("resource_tags")?;
        let tag = |key: &str| tags.as_ref().and_then(|tags| tag_value(tags, key, true));
        let target = match self.key.join(
            tag("aws:eks:cluster-name").as_deref(),
            tag("aws:eks:namespace").as_deref(),
            tag(&self.tag).as_deref(),
        ) {
            Some(deployment) => Target::Deployment(deployment),
            None => Target::Unallocated(String::new()),
        };
        Ok(Charge {
            start,
            end,
            target,
            currency,
            amount: split_cost + unused,
            split_parent: row
                .text("split_line_item_parent_resource_id")
                .map(|id| id.into_owned()),
            resource_id: None,
        })
    }
}
