//! Row files at scale: the streaming writer against `write_rows`, Parquet written by DuckDB in
//! several row groups read back by the column readers, and the merge of sorted files.

use std::path::Path;

use featgen_attribution::format::{self, Format, RowWriter};
use featgen_attribution::{ShareRow, UNATTRIBUTED_ID, UtcTime};

/// `hours` × 10 deployments × 50 endpoints, in (start_time, deployment) order.
fn rows(hours: i64) -> Vec<ShareRow> {
    let mut rows = Vec::new();
    for hour in 0..hours {
        let start = UtcTime(1_749_740_400 + hour * 3_600);
        for deployment in 0..10 {
            for endpoint in 0..50_u64 {
                let attributed = endpoint != 0;
                rows.push(ShareRow {
                    start_time: start,
                    end_time: UtcTime(start.unix() + 3_600),
                    deployment: format!("deployment-{deployment}").into(),
                    feature: attributed.then(|| format!("feature-{}", endpoint % 7).into()),
                    endpoint: attributed.then(|| format!("GET /e/{endpoint}, \"quoted\"").into()),
                    percentage_of_cpu: (endpoint as f64 + 0.5) / 1_275.0,
                    feature_id: if attributed {
                        (endpoint % 7) as i64
                    } else {
                        UNATTRIBUTED_ID
                    },
                    feature_group: attributed.then(|| "group".into()),
                    team: None,
                    tier: attributed.then(|| "A".into()),
                    cpu_ns: 1_000_000_007 * (endpoint + 1),
                    samples: endpoint * 3,
                    requests: (endpoint % 3 != 0).then_some(endpoint * 37),
                });
            }
        }
    }
    rows
}

#[test]
fn the_streaming_writer_writes_the_bytes_of_write_rows() {
    let dir = tempfile::tempdir().unwrap();
    let rows = rows(2);
    for format in Format::ALL {
        let whole = dir.path().join(format!("whole.{format}"));
        format::write_rows(&rows, format, Some(&whole)).unwrap();
        let streamed = dir.path().join(format!("streamed.{format}"));
        let mut writer = RowWriter::create(format, Some(&streamed)).unwrap();
        for row in &rows {
            writer.write(row.clone()).unwrap();
        }
        assert_eq!(writer.finish().unwrap(), rows.len() as u64);
        assert_eq!(
            std::fs::read(&whole).unwrap(),
            std::fs::read(&streamed).unwrap(),
            "{format}"
        );
        let back: Vec<ShareRow> = format::read_all(&streamed, None).unwrap();
        assert_eq!(back, rows, "{format}");
    }

    // Dropped unfinished: no output and no temporary file.
    let before = std::fs::read_dir(dir.path()).unwrap().count();
    let abandoned = dir.path().join("abandoned.parquet");
    let mut writer = RowWriter::create(Format::Parquet, Some(&abandoned)).unwrap();
    for row in &rows {
        writer.write(row.clone()).unwrap();
    }
    drop(writer);
    assert!(!abandoned.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), before);
}

/// DuckDB writes the rows with its own types (TIMESTAMPTZ, VARCHAR, BIGINT, DOUBLE) in row
/// groups of 2,048: the column readers read them all back, across the groups.
#[test]
fn parquet_from_duckdb_in_several_row_groups_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let rows = rows(2);
    let csv = dir.path().join("rows.csv");
    format::write_rows(&rows, Format::Csv, Some(&csv)).unwrap();
    let parquet = dir.path().join("rows.parquet");
    let sql = format!(
        "SET threads = 1; SET TimeZone = 'UTC'; COPY (SELECT * REPLACE (start_time::TIMESTAMPTZ AS start_time, \
         end_time::TIMESTAMPTZ AS end_time) FROM read_csv('{}', all_varchar = false)) TO '{}' \
         (FORMAT parquet, ROW_GROUP_SIZE 2048)",
        csv.display(),
        parquet.display()
    );
    featgen_tests::run_ok(featgen_tests::python_command().args([
        "-c",
        "import duckdb, sys; duckdb.connect().execute(sys.argv[1])",
        &sql,
    ]));
    let back: Vec<ShareRow> = format::read_all(&parquet, None).unwrap();
    assert_eq!(back.len(), rows.len());
    assert_eq!(back, rows);
}

#[test]
fn sorted_files_merge_into_step_and_deployment_order() {
    let dir = tempfile::tempdir().unwrap();
    let rows = rows(3);
    // Odd deployments in one file (CSV), even ones in another (Parquet).
    let (odd, even): (Vec<ShareRow>, Vec<ShareRow>) = rows
        .iter()
        .cloned()
        .partition(|row| row.deployment.ends_with(['1', '3', '5', '7', '9']));
    let odd_path = dir.path().join("odd.csv");
    let even_path = dir.path().join("even.parquet");
    format::write_rows(&odd, Format::Csv, Some(&odd_path)).unwrap();
    format::write_rows(&even, Format::Parquet, Some(&even_path)).unwrap();
    let merged: Vec<ShareRow> = format::read_merged(&[odd_path, even_path], None)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(merged, rows);

    let missing = format::read_merged::<ShareRow>(&[Path::new("/nonexistent/x.csv").into()], None);
    assert!(missing.is_err());
}
