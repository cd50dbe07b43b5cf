"""Loads featgen's row files into the fact tables of a real engine and prints them as JSON.

Usage:
    load_facts.py sqlite|duckdb DB_PATH SQL_FILE... -- TABLE=FILE:FORMAT...

The SQL files (dimensions.sql, facts.sql) run first. Each FILE is then loaded into TABLE the way
the README shows for that engine: DuckDB with its own readers (read_json, read_csv with
all_varchar so that the table's types decide, read_parquet), SQLite with Python's csv and json
modules (and DuckDB reading Parquet, which SQLite cannot). The dump is {TABLE: [[value, ...]]} in
column order, with times as the contract's text and decimals normalized ("12.34"), so that
engines and formats can be compared with the rows that were written.
"""

from __future__ import annotations

import csv
import decimal
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

DECIMALS = {"cost", "cost_per_request", "cost_if_equal_per_request"}
TIMES = {"start_time", "end_time"}


def normalize(columns: list[str], row: tuple[Any, ...]) -> list[Any]:
    out: list[Any] = []
    for column, value in zip(columns, row):
        if value is not None and column in DECIMALS:
            value = format(decimal.Decimal(str(value)).normalize(), "f")
        out.append(value)
    return out


def duckdb_select(con: Any, source: str) -> Any:
    """SELECT * from a DuckDB table or reader, times as the contract's text (without pytz)."""
    columns = [d[0] for d in con.execute(f"SELECT * FROM {source} LIMIT 0").description]
    select = ", ".join(
        f"strftime({c}, '%Y-%m-%d %H:%M:%S UTC') AS {c}" if c in TIMES else c
        for c in columns
    )
    return con.execute(f"SELECT {select} FROM {source}")


def dump(con: Any, tables: list[str], engine: str) -> dict[str, list[list[Any]]]:
    result: dict[str, list[list[Any]]] = {}
    for table in tables:
        if engine == "duckdb":
            cursor = duckdb_select(con, table)
        else:
            cursor = con.execute(f"SELECT * FROM {table}")
        columns = [d[0] for d in cursor.description]
        result[table] = [normalize(columns, row) for row in cursor.fetchall()]
    return result


def records(path: str, fmt: str) -> list[dict[str, Any]]:
    """The rows of a featgen file as dicts (for SQLite), in the file's column order."""
    if fmt == "csv":
        with open(path, newline="", encoding="utf-8") as f:
            return [
                {k: (v if v != "" else None) for k, v in row.items()}
                for row in csv.DictReader(f)
            ]
    if fmt == "ndjson":
        with open(path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    if fmt == "json":
        return list(json.loads(Path(path).read_text(encoding="utf-8")))
    if fmt == "parquet":
        import duckdb

        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        cursor = duckdb_select(con, f"read_parquet('{path}')")
        columns = [d[0] for d in cursor.description]
        rows = []
        for row in cursor.fetchall():
            rows.append(
                {
                    c: (str(v) if isinstance(v, decimal.Decimal) else v)
                    for c, v in zip(columns, row)
                }
            )
        return rows
    raise SystemExit(f"unknown format {fmt}")


def load_sqlite(db: str, files: list[str], loads: list[tuple[str, str, str]]) -> Any:
    con = sqlite3.connect(db)
    con.execute("PRAGMA foreign_keys = ON")
    for path in files:
        con.executescript(Path(path).read_text(encoding="utf-8"))
    for table, path, fmt in loads:
        rows = records(path, fmt)
        if not rows:
            continue
        # Python's csv module cannot tell `""` from an empty field: an empty value is null
        # except in a NOT NULL column (an unallocated cost row's empty deployment).
        not_null = {r[1] for r in con.execute(f"PRAGMA table_info({table})") if r[3]}
        for row in rows:
            for column in not_null:
                if row.get(column, "") is None and fmt == "csv":
                    row[column] = ""
        columns = list(rows[0])
        placeholders = ", ".join(f":{c}" for c in columns)
        con.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", rows
        )
    con.commit()
    violations = con.execute("PRAGMA foreign_key_check").fetchall()
    if violations:
        raise SystemExit(f"foreign key violations: {violations}")
    return con


def load_duckdb(db: str, files: list[str], loads: list[tuple[str, str, str]]) -> Any:
    import duckdb

    con = duckdb.connect(db)
    con.execute("SET TimeZone = 'UTC'")
    for path in files:
        con.execute(Path(path).read_text(encoding="utf-8"))
    readers = {
        "ndjson": "read_json('{}', format = 'newline_delimited')",
        "json": "read_json('{}', format = 'array')",
        "csv": "read_csv('{}', header = true, all_varchar = true, allow_quoted_nulls = false)",
        "parquet": "read_parquet('{}')",
    }
    for table, path, fmt in loads:
        con.execute(
            f"INSERT INTO {table} BY NAME SELECT * FROM {readers[fmt].format(path)}"
        )
    return con


def main() -> None:
    engine, db, *rest = sys.argv[1:]
    split = rest.index("--")
    files, specs = rest[:split], rest[split + 1 :]
    loads = []
    for spec in specs:
        table, target = spec.split("=", 1)
        path, fmt = target.rsplit(":", 1)
        loads.append((table, path, fmt))
    con = (load_sqlite if engine == "sqlite" else load_duckdb)(db, files, loads)
    tables = sorted({table for table, _, _ in loads})
    json.dump(dump(con, tables, engine), sys.stdout)


if __name__ == "__main__":
    main()
