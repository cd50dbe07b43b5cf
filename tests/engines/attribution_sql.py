"""Runs a dialect's attribution.sql in DuckDB on share and hourly billing CSV files and prints
the resulting cost rows as JSON (times as Unix seconds, decimals as text).

Usage: attribution_sql.py SQL_FILE SHARES_CSV BILLING_HOURLY_CSV
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb

SHARES = """CREATE TABLE fact_cpu_share (start_time TIMESTAMPTZ, end_time TIMESTAMPTZ,
    deployment VARCHAR, feature VARCHAR, endpoint VARCHAR, percentage_of_cpu DOUBLE,
    feature_id BIGINT, feature_group VARCHAR, team VARCHAR, tier VARCHAR, cpu_ns BIGINT,
    samples BIGINT, requests BIGINT)"""
BILLING = """CREATE TABLE billing_hourly (start_time TIMESTAMPTZ, end_time TIMESTAMPTZ,
    deployment VARCHAR, currency VARCHAR, amount DECIMAL(38, 18), amount_units HUGEINT,
    amount_scale INTEGER, unallocated BOOLEAN)"""
SELECT = """SELECT CAST(epoch(start_time) AS BIGINT), deployment, currency, bucket, feature_id,
    endpoint, CAST(cost AS VARCHAR), CAST(cost_per_request AS VARCHAR),
    CAST(cost_if_equal_per_request AS VARCHAR), cpu_ns, requests
    FROM feature_cost ORDER BY 1, 2, 3, 4, 5, 6 NULLS FIRST"""


def main() -> None:
    sql, shares, billing = sys.argv[1:]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(SHARES)
    con.execute(BILLING)
    # Empty fields are NULL; every column is read as text and cast by the table's types.
    con.execute(f"INSERT INTO fact_cpu_share SELECT * FROM read_csv('{shares}', header = true, all_varchar = true)")
    # An unallocated slice may name no deployment: an empty string, not NULL.
    con.execute(
        f"INSERT INTO billing_hourly SELECT * FROM read_csv('{billing}', header = true, all_varchar = true, "
        "force_not_null = ['deployment'])"
    )
    con.execute(Path(sql).read_text(encoding="utf-8"))
    rows = con.execute(SELECT).fetchall()
    print(json.dumps([list(row) for row in rows]))


if __name__ == "__main__":
    main()
