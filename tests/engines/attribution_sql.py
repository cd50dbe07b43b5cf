"""Runs a dialect's attribution.sql in DuckDB or SQLite on share and hourly billing CSV files and
prints the resulting cost rows as JSON (times as Unix seconds, decimals as text).

Usage: attribution_sql.py duckdb|sqlite SQL_FILE SHARES_CSV BILLING_HOURLY_CSV
"""

from __future__ import annotations

import csv
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

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
    FROM {table} ORDER BY 1, 2, 3, 4, 5, 6 NULLS FIRST"""

# SQLite: the types of sql/sqlite/facts.sql (times and money as text), 0/1 for booleans.
SQLITE_SHARES = """CREATE TABLE fact_cpu_share (start_time TEXT, end_time TEXT, deployment TEXT,
    feature TEXT, endpoint TEXT, percentage_of_cpu REAL, feature_id INTEGER, feature_group TEXT,
    team TEXT, tier TEXT, cpu_ns INTEGER, samples INTEGER, requests INTEGER)"""
SQLITE_BILLING = """CREATE TABLE billing_hourly (start_time TEXT, end_time TEXT, deployment TEXT,
    currency TEXT, amount TEXT, amount_units INTEGER, amount_scale INTEGER, unallocated INTEGER)"""
SQLITE_SELECT = """SELECT CAST(strftime('%s', substr(start_time, 1, 19)) AS INTEGER), deployment,
    currency, bucket, feature_id, endpoint, cost, cost_per_request, cost_if_equal_per_request,
    cpu_ns, requests, typeof(cost)
    FROM feature_cost ORDER BY 1, 2, 3, 4, 5, 6"""


def load_duckdb(con: Any, shares: str, billing: str) -> None:
    """The share and billing tables of a DuckDB connection, from the CSV files."""
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


def select_duckdb(con: Any, table: str) -> list[list[Any]]:
    """The cost rows of `table` as JSON values, in key order."""
    return [list(row) for row in con.execute(SELECT.format(table=table)).fetchall()]


def run_duckdb(sql: str, shares: str, billing: str) -> list[list[Any]]:
    import duckdb

    con = duckdb.connect()
    load_duckdb(con, shares, billing)
    con.execute(Path(sql).read_text(encoding="utf-8"))
    return select_duckdb(con, "feature_cost")


def csv_rows(path: str, keep_empty: set[str]) -> list[list[Any]]:
    """The file's rows, empty fields as NULL except in `keep_empty`; booleans as 0/1."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return [
            [
                {"true": 1, "false": 0}.get(v, v) if v != "" or k in keep_empty else None
                for k, v in row.items()
            ]
            for row in reader
        ]


def run_sqlite(sql: str, shares: str, billing: str) -> list[list[Any]]:
    con = sqlite3.connect(":memory:")
    con.execute(SQLITE_SHARES)
    con.execute(SQLITE_BILLING)
    # Text fields convert by the columns' affinity, as a CSV import does.
    con.executemany(f"INSERT INTO fact_cpu_share VALUES ({', '.join('?' * 13)})", csv_rows(shares, set()))
    con.executemany(f"INSERT INTO billing_hourly VALUES ({', '.join('?' * 8)})", csv_rows(billing, {"deployment"}))
    con.executescript(Path(sql).read_text(encoding="utf-8"))
    rows = con.execute(SQLITE_SELECT).fetchall()
    # Money must come out as exact text, never a REAL that has lost digits.
    kinds = {row[-1] for row in rows}
    if kinds - {"text"}:
        raise SystemExit(f"SQLite cost column has types {kinds}")
    return [list(row[:-1]) for row in rows]


def main() -> None:
    engine, sql, shares, billing = sys.argv[1:]
    run = {"duckdb": run_duckdb, "sqlite": run_sqlite}[engine]
    print(json.dumps(run(sql, shares, billing)))


if __name__ == "__main__":
    main()
