"""Checks the dbt package that `featgen build` renders (dbt/featgen_attribution) without dbt:
every engine's branch of the model parses in sqlglot with that engine's dialect, and in DuckDB
the model, compiled by hand (source() and ref() replaced by the table names, the `duckdb`
branch chosen), gives the cost rows, which are printed as JSON like attribution_sql.py's; the
reconciliation test and the row-key test return nothing on them, and the reconciliation test
finds a slice whose rows were changed by one unit.

Usage: dbt_package.py PACKAGE_DIR SHARES_CSV BILLING_HOURLY_CSV
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import attribution_sql
import duckdb
import sqlglot
from sqlglot.errors import ErrorLevel

# dbt's target types, which are also sqlglot's dialect names.
ENGINES = ("duckdb", "postgres", "bigquery", "sqlite")


def compile_refs(sql: str) -> str:
    """source('featgen', 'x') and ref('x') as the bare table name x."""
    sql = re.sub(r"\{\{\s*source\('featgen',\s*'(\w+)'\)\s*\}\}", r"\1", sql)
    return re.sub(r"\{\{\s*ref\('(\w+)'\)\s*\}\}", r"\1", sql)


def branches(model: str) -> dict[str, str]:
    """The model's SQL per target.type, from its `{% if/elif target.type == '...' %}` blocks."""
    parts = re.split(r"\{%\s*(?:if|elif) target\.type == '(\w+)'\s*%\}", model)
    found = {}
    for engine, body in zip(parts[1::2], parts[2::2]):
        found[engine] = compile_refs(body.split("{% else %}")[0])
    if set(found) != set(ENGINES):
        raise SystemExit(f"model branches {sorted(found)}, expected {sorted(ENGINES)}")
    return found


def for_duckdb(test_sql: str) -> str:
    """A test's SQL as dbt compiles it for a duckdb target."""
    test_sql = re.sub(r"\{%\s*if target\.type == 'sqlite'\s*%\}.*?\{%\s*else\s*%\}(.*?)\{%\s*endif\s*%\}", r"\1", test_sql, flags=re.DOTALL)
    return compile_refs(test_sql)


def main() -> None:
    package, shares, billing = sys.argv[1:]
    root = Path(package)
    model = (root / "models/fact_feature_cost.sql").read_text(encoding="utf-8")
    found = branches(model)
    for engine, sql in found.items():
        statements = sqlglot.parse(sql, read=engine, error_level=ErrorLevel.RAISE)
        if [type(s).__name__ for s in statements if s is not None] != ["Select"]:
            raise SystemExit(f"{engine}: the model is not one SELECT")

    con = duckdb.connect()
    attribution_sql.load_duckdb(con, shares, billing)
    con.execute(f"CREATE TABLE fact_feature_cost AS {found['duckdb']}")
    rows = attribution_sql.select_duckdb(con, "fact_feature_cost")

    reconciliation = for_duckdb((root / "tests/reconciliation.sql").read_text(encoding="utf-8"))
    generic = (root / "tests/generic/unique_row_key.sql").read_text(encoding="utf-8")
    columns = "start_time, deployment, currency, bucket, feature_id, endpoint"
    if "{% test unique_row_key(model, columns) %}" not in generic:
        raise SystemExit("tests/generic/unique_row_key.sql does not define the test")
    unique = f"SELECT {columns}, count(*) FROM fact_feature_cost GROUP BY {columns} HAVING count(*) > 1"

    def failures(sql: str) -> int:
        row = con.execute(f"SELECT count(*) FROM ({sql})").fetchone()
        return int(row[0]) if row else 0

    for name, sql in [("reconciliation", reconciliation), ("unique_row_key", unique)]:
        if failures(sql):
            raise SystemExit(f"{name} fails on {failures(sql)} of featgen's own rows")
    # One unit moved out of one slice: the reconciliation test must see exactly that slice.
    con.execute(
        "UPDATE fact_feature_cost SET cost = cost + 0.000001 WHERE rowid = (SELECT min(rowid) FROM fact_feature_cost)"
    )
    if failures(reconciliation) != 1:
        raise SystemExit("reconciliation did not find the changed slice")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
