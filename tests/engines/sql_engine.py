"""Runs generated SQL in a real engine and prints the dimension tables as JSON.

Usage:
    sql_engine.py sqlite|duckdb DB_PATH [SQL_FILE ...]   execute the files in order, then dump
    sql_engine.py bigquery SQL_FILE                       parse with sqlglot's BigQuery dialect

The dump is {"dim_tier": [...], "dim_team": [...], ...}: rows as objects ordered by id, with
SQLite's 0/1 booleans turned into true/false so that engines can be compared row for row.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

TABLES = {
    "dim_tier": "tier_id",
    "dim_team": "team_id",
    "dim_feature_group": "feature_group_id",
    "dim_feature": "feature_id",
}


def normalize(columns: list[str], row: tuple[Any, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column, value in zip(columns, row):
        if column.startswith("is_") and value in (0, 1):
            value = bool(value)
        out[column] = value
    return out


def run_sqlite(db: str, files: list[str]) -> dict[str, list[dict[str, Any]]]:
    con = sqlite3.connect(db)
    con.execute("PRAGMA foreign_keys = ON")
    for path in files:
        con.executescript(Path(path).read_text(encoding="utf-8"))
    violations = con.execute("PRAGMA foreign_key_check").fetchall()
    if violations:
        raise SystemExit(f"foreign key violations: {violations}")
    return dump(con)


def run_duckdb(db: str, files: list[str]) -> dict[str, list[dict[str, Any]]]:
    import duckdb

    con = duckdb.connect(db)
    for path in files:
        con.execute(Path(path).read_text(encoding="utf-8"))
    return dump(con)


def dump(con: Any) -> dict[str, list[dict[str, Any]]]:
    result: dict[str, list[dict[str, Any]]] = {}
    for table, key in TABLES.items():
        cursor = con.execute(f"SELECT * FROM {table} ORDER BY {key}")
        columns = [d[0] for d in cursor.description]
        result[table] = [normalize(columns, row) for row in cursor.fetchall()]
    return result


def parse_bigquery(path: str) -> dict[str, Any]:
    import sqlglot
    from sqlglot.errors import ErrorLevel

    statements = sqlglot.parse(Path(path).read_text(encoding="utf-8"), read="bigquery", error_level=ErrorLevel.RAISE)
    kinds = [type(s).__name__ for s in statements if s is not None]
    return {"statements": kinds}


def main() -> None:
    engine, target, *files = sys.argv[1:]
    if engine == "sqlite":
        out: Any = run_sqlite(target, files)
    elif engine == "duckdb":
        out = run_duckdb(target, files)
    elif engine == "bigquery":
        out = parse_bigquery(target)
    else:
        raise SystemExit(f"unknown engine {engine}")
    json.dump(out, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
