//! The source article's billing rows, loaded unchanged: `sku`, `description`, `resource`,
//! `usage_start_time`, `usage_end_time`, `quantity`, `cost_per`, `total_cost`,
//! `k8s_deployment`. The rows carry no currency: it is `--currency` (default `USD`).
//! `total_cost` is the amount; an empty `k8s_deployment` is unallocated.

use super::input::Row;
use super::{BillingOptions, Charge, CostColumn, FormatReader, RowProblem, Target, amount, period};

/// Reader of the article's rows.
pub(crate) struct Article {
    currency: String,
}

impl Article {
    pub(crate) fn new(options: &BillingOptions) -> Result<Article, String> {
        if options
            .cost
            .is_some_and(|cost| cost != CostColumn::EffectiveCost)
        {
            return Err(
                "the article's rows have one amount, `total_cost`: --cost does not apply".into(),
            );
        }
        Ok(Article {
            currency: options.currency.clone(),
        })
    }
}

impl FormatReader for Article {
    fn required(&self) -> Vec<&'static str> {
        [
            "usage_start_time",
            "usage_end_time",
            "total_cost",
            "k8s_deployment",
        ]
        .into()
    }

    fn currency_column(&self) -> &'static str {
        "total_cost"
    }

    fn charge(&self, row: &Row) -> Result<Charge, RowProblem> {
        let (start, end) = period(row, "usage_start_time", "usage_end_time")?;
        let target = match row.text("k8s_deployment") {
            Some(name) => Target::Deployment(name.into_owned()),
            None => Target::Unallocated(String::new()),
        };
        Ok(Charge {
            start,
            end,
            target,
            currency: self.currency.clone(),
            amount: amount(row, "total_cost")?,
            split_parent: None,
            resource_id: None,
        })
    }
}
