"""Runs real dbt (dbt-core with dbt-duckdb, the venv of scripts/requirements-dbt.txt) on the dbt
package that `featgen build` renders, against DuckDB, for each pair of share and hourly billing
CSV files (in one process: importing dbt is most of a small run's time).

For each pair, WORK_DIR/<n>/ gets a copy of the package, a profile `featgen_attribution` and a
DuckDB file holding the dimension tables (DIMENSIONS_SQL) and the sources fact_cpu_share and
billing_hourly. Then:
  1. `dbt build`: the model fact_feature_cost and every test of the package;
  2. the model's rows, read back as attribution_sql.py prints them;
  3. one unit of the bill's precision moved from a row of one slice to a row of another (the
     grand total unchanged), then `dbt test` again, which the reconciliation test must fail.
WORK_DIR/results.json gets, per pair, {"build": [...], "rows": [...], "moved": [...], "unit":
"..."}, each dbt run's results as [name, resource type, status, failures, message].

Usage: run_dbt.py PACKAGE_DIR DIMENSIONS_SQL WORK_DIR SHARES_CSV BILLING_HOURLY_CSV [...]
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

# No network: no version check, no usage statistics (set before dbt is imported).
os.environ["DBT_VERSION_CHECK"] = "false"
os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
os.environ["DO_NOT_TRACK"] = "1"

import attribution_sql
import duckdb
from dbt.artifacts.schemas.run import RunExecutionResult
from dbt.cli.main import dbtRunner

# dbt imports every top-level module named dbt_* on the path as a plugin (its PluginManager):
# this directory's dbt_package.py is not one.
here = Path(__file__).resolve().parent
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != here]

KEY_ORDER = "start_time, deployment, currency, bucket, feature_id, endpoint NULLS FIRST"


def dbt(command: str, project: Path, work: Path) -> list[list[Any]]:
    """Runs `dbt COMMAND` on the project; the result of every node it ran."""
    result = dbtRunner().invoke(
        [
            command,
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(work),
            "--target-path",
            str(work / "target"),
            "--log-path",
            str(work / "logs"),
        ]
    )
    if result.exception is not None or not isinstance(
        result.result, RunExecutionResult
    ):
        raise SystemExit(f"dbt {command} did not run: {result.exception}")
    return [
        [r.node.name, str(r.node.resource_type), str(r.status), r.failures, r.message]
        for r in result.result.results
    ]


def move_one_unit(con: Any) -> str:
    """Moves one unit of its bill's precision from the first cost row to the first row of
    another slice: both slices are then off by one unit, the total is not."""
    first = con.execute(
        "SELECT rowid, CAST(epoch(start_time) AS BIGINT), deployment, currency "
        f"FROM fact_feature_cost ORDER BY {KEY_ORDER} LIMIT 1"
    ).fetchone()
    other = con.execute(
        "SELECT rowid FROM fact_feature_cost "
        "WHERE (CAST(epoch(start_time) AS BIGINT), deployment, currency) <> (?, ?, ?) "
        f"ORDER BY {KEY_ORDER} LIMIT 1",
        list(first[1:]),
    ).fetchone()
    scale = con.execute(
        "SELECT amount_scale FROM billing_hourly "
        "WHERE CAST(epoch(start_time) AS BIGINT) = ? AND deployment = ? AND currency = ?",
        list(first[1:]),
    ).fetchone()[0]
    unit = format(Decimal(1).scaleb(-int(scale)), "f")
    for sign, rowid in (("-", first[0]), ("+", other[0])):
        con.execute(
            f"UPDATE fact_feature_cost SET cost = cost {sign} CAST(? AS DECIMAL(38, 18)) WHERE rowid = ?",
            [unit, rowid],
        )
    return unit


def build_and_break(
    package: str, dimensions: str, shares: str, billing: str, work: Path
) -> dict[str, Any]:
    """Steps 1 to 3 for one pair of files, in `work`."""
    # dbt writes into the project (target/, logs/, partial parses): a copy, not generated/.
    project = work / "featgen_attribution"
    shutil.copytree(package, project)
    database = work / "warehouse.duckdb"
    (work / "profiles.yml").write_text(
        json.dumps(
            {
                "featgen_attribution": {
                    "target": "test",
                    "outputs": {
                        "test": {
                            "type": "duckdb",
                            "path": str(database),
                            "schema": "main",
                            "threads": 1,
                        }
                    },
                }
            }
        ),
        encoding="utf-8",
    )

    con = duckdb.connect(str(database))
    con.execute(Path(dimensions).read_text(encoding="utf-8"))
    attribution_sql.load_duckdb(con, shares, billing)
    con.close()

    build = dbt("build", project, work)

    con = duckdb.connect(str(database))
    rows = attribution_sql.select_duckdb(con, "fact_feature_cost")
    unit = move_one_unit(con)
    con.close()

    moved = dbt("test", project, work)
    return {"build": build, "rows": rows, "moved": moved, "unit": unit}


def main() -> None:
    package, dimensions, work_dir, *files = sys.argv[1:]
    if not files or len(files) % 2:
        raise SystemExit(__doc__)
    results = []
    for index, (shares, billing) in enumerate(zip(files[::2], files[1::2])):
        work = Path(work_dir) / str(index)
        work.mkdir(parents=True)
        results.append(build_and_break(package, dimensions, shares, billing, work))
    (Path(work_dir) / "results.json").write_text(json.dumps(results), encoding="utf-8")


if __name__ == "__main__":
    main()
