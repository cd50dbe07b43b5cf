//! FOCUS 1.0 to 1.2 (the FinOps Open Cost and Usage Specification).
//!
//! The amount is the `--cost` column (`EffectiveCost` by default: amortized, after discounts,
//! what showback uses; or `BilledCost`, `ListCost`, `ContractedCost`), in `BillingCurrency`,
//! over `ChargePeriodStart`..`ChargePeriodEnd`. The deployment is the `--deployment-tag` key
//! (default `deployment`) of the `Tags` JSON object; keys are compared trimmed, since real
//! exports write `" org"`. Real exports' other deviations are tolerated: times without `T`/`Z`,
//! the literal `NULL`, extra columns.

use super::input::Row;
use super::{
    BillingOptions, Charge, CostColumn, FormatReader, RowProblem, Target, amount, period, tag_value,
};

/// The tag naming the deployment when `--deployment-tag` is not given.
pub const DEFAULT_TAG: &str = "deployment";

/// Reader of FOCUS rows.
pub(crate) struct Focus {
    cost_column: &'static str,
    tag: String,
}

impl Focus {
    pub(crate) fn new(options: &BillingOptions) -> Result<Focus, String> {
        let cost_column = match options.cost.unwrap_or(CostColumn::EffectiveCost) {
            CostColumn::EffectiveCost => "EffectiveCost",
            CostColumn::BilledCost => "BilledCost",
            CostColumn::ListCost => "ListCost",
            CostColumn::ContractedCost => "ContractedCost",
            CostColumn::Net => {
                return Err("--cost net applies to GCP and AWS exports; FOCUS takes EffectiveCost, BilledCost, ListCost or ContractedCost".into());
            }
        };
        Ok(Focus {
            cost_column,
            tag: options
                .deployment_tag
                .clone()
                .unwrap_or_else(|| DEFAULT_TAG.into()),
        })
    }
}

impl FormatReader for Focus {
    fn required(&self) -> Vec<&'static str> {
        [
            "ChargePeriodStart",
            "ChargePeriodEnd",
            "BillingCurrency",
            self.cost_column,
        ]
        .into()
    }

    fn currency_column(&self) -> &'static str {
        "BillingCurrency"
    }

    fn charge(&self, row: &Row) -> Result<Charge, RowProblem> {
        let (start, end) = period(row, "ChargePeriodStart", "ChargePeriodEnd")?;
        let currency = row
            .text("BillingCurrency")
            .ok_or_else(|| RowProblem::missing("BillingCurrency"))?
            .into_owned();
        let amount = amount(row, self.cost_column)?;
        let deployment = row
            .json("Tags")?
            .and_then(|tags| tag_value(&tags, &self.tag, false));
        Ok(Charge {
            start,
            end,
            target: deployment.map_or(Target::Unallocated(String::new()), Target::Deployment),
            currency,
            amount,
            split_parent: None,
            resource_id: None,
        })
    }
}
