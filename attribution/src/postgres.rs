//! Rows into PostgreSQL: `fact_cpu_share` and `fact_feature_cost`, idempotently.
//!
//! A [`PgWriter`] streams rows into one transaction that deletes exactly the (`start_time`,
//! `deployment`) slices present in the rows, each as it is first seen, and copies the rows in
//! by batches (`COPY ... FROM STDIN`, the fastest load PostgreSQL has): re-running an hour
//! replaces it, nothing else in the table changes, and memory holds one batch, not the rows.
//! If anything fails the transaction rolls back and the table is as it was.
//!
//! The connection string is libpq's, as a URL (`postgres://user@host/db?sslmode=require`) or
//! `key=value` pairs (`host=/run/postgresql dbname=warehouse`). TCP connections use TLS (rustls,
//! Mozilla's roots plus an optional CA file) when the server offers it, and require it with
//! `sslmode=require`; Unix sockets never use TLS. Passwords never appear in errors.

use std::collections::HashSet;
use std::fmt::{self, Write as _};
use std::io::Write;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use postgres::config::Host;
use postgres::{Config, Transaction};

use crate::format::{Row, Value};
use crate::time::UtcTime;

/// A connection, as [`connect`] opens it.
pub use postgres::Client;

/// How to connect, beyond the connection string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PgOptions {
    /// A PEM file of CA certificates to trust in addition to Mozilla's (an in-house CA).
    pub ca_file: Option<PathBuf>,
}

/// What a write did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PgReport {
    /// (step, deployment) slices replaced.
    pub slices: usize,
    /// Rows deleted from those slices.
    pub deleted: u64,
    /// Rows inserted.
    pub inserted: u64,
    /// `COPY` statements sent (one per batch).
    pub batches: u64,
    /// The most rows held in memory at once (at most one batch).
    pub most_rows_held: usize,
}

/// Why rows could not be written.
#[derive(Debug)]
pub struct PgError {
    /// The server and database, without credentials (`host /tmp/pg, database postgres`).
    pub target: String,
    /// What failed.
    pub message: String,
}

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgreSQL ({}): {}", self.target, self.message)
    }
}

impl std::error::Error for PgError {}

/// The hosts and database of `config`, for errors (never the password).
fn describe(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|host| match host {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let hosts = if hosts.is_empty() {
        "localhost".to_owned()
    } else {
        hosts.join(",")
    };
    format!(
        "host {hosts}, database {}",
        config
            .get_dbname()
            .or(config.get_user())
            .unwrap_or("(default)")
    )
}

/// Rustls with Mozilla's roots and the certificates of `ca_file`.
fn tls(ca_file: Option<&Path>) -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(Iterator::collect)
            .map_err(|err| format!("cannot read CA file {}: {err}", path.display()))?;
        if certificates.is_empty() {
            return Err(format!("CA file {} has no certificate", path.display()));
        }
        for certificate in certificates {
            roots
                .add(certificate)
                .map_err(|err| format!("bad certificate in {}: {err}", path.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| err.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// Connects to `conninfo` (a URL or `key=value` pairs).
pub fn connect(conninfo: &str, options: &PgOptions) -> Result<Client, PgError> {
    let config: Config = conninfo.parse().map_err(|err| PgError {
        // The string itself may hold a password: never repeat it.
        target: "connection string".into(),
        message: format!("invalid connection string: {err}"),
    })?;
    let target = describe(&config);
    let fail = |message: String| PgError {
        target: target.clone(),
        message,
    };
    let mut config = config;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(30));
    }
    if config.get_application_name().is_none() {
        config.application_name("featgen");
    }
    // A Unix socket is local: no TLS (the rustls connector would need a server name).
    let local = !config.get_hosts().is_empty()
        && config
            .get_hosts()
            .iter()
            .all(|host| matches!(host, Host::Unix(_)));
    let connected = if local {
        config.connect(postgres::NoTls)
    } else {
        config.connect(tls(options.ca_file.as_deref()).map_err(fail)?)
    };
    connected.map_err(|err| fail(format!("cannot connect: {err}")))
}

/// Appends `value` in `COPY ... (FORMAT text)` form: `\N` for null, backslash escapes.
fn push_copy_value(out: &mut String, value: &Value<'_>) {
    match value {
        Value::Null => out.push_str("\\N"),
        Value::Time(time) => {
            let _ = write!(out, "{time}");
        }
        Value::Text(text) => {
            for c in text.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\t' => out.push_str("\\t"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
        }
        Value::Float(value) => {
            let _ = write!(out, "{value}");
        }
        Value::Int(value) => {
            let _ = write!(out, "{value}");
        }
        Value::Decimal(value) => {
            let _ = write!(out, "{value}");
        }
    }
}

/// Rows held in memory by a [`PgWriter`] before they are sent: one batch.
pub const BATCH_ROWS: usize = 16_384;

/// Streams rows into `R::TABLE` (`fact_cpu_share` or `fact_feature_cost`) in one transaction,
/// replacing exactly the (step, deployment) slices written.
///
/// Rows are encoded as `COPY ... (FORMAT text)` lines into a batch of at most `batch_rows`
/// rows; a full batch is sent as one `COPY ... FROM STDIN`, preceded by one `DELETE` of the
/// slices first seen in that batch (so a slice is emptied before any of its rows arrive, and
/// never again). Memory is one batch plus the keys of the slices seen, whatever the number of
/// rows. Nothing is visible until [`PgWriter::finish`] commits; dropping the writer unfinished,
/// or any error, rolls the whole transaction back.
pub struct PgWriter<'c, R: Row> {
    transaction: Transaction<'c>,
    batch_rows: usize,
    /// Every slice seen in this transaction (already deleted or about to be).
    seen: HashSet<(UtcTime, String)>,
    /// The previous row's slice: rows come grouped by slice, so most need no lookup.
    previous: Option<(UtcTime, String)>,
    /// Slices first seen in the batch being built, deleted before it is copied.
    new_starts: Vec<SystemTime>,
    new_deployments: Vec<String>,
    /// The batch being built, as COPY text, and its row count.
    batch: String,
    batch_len: usize,
    report: PgReport,
    rows: PhantomData<fn(&R)>,
}

impl<'c, R: Row> PgWriter<'c, R> {
    /// Begins the transaction on `client`, with batches of [`BATCH_ROWS`] rows.
    pub fn begin(client: &'c mut Client) -> Result<PgWriter<'c, R>, PgError> {
        PgWriter::with_batch_rows(client, BATCH_ROWS)
    }

    /// Begins the transaction on `client`, with batches of `batch_rows` rows (at least 1).
    pub fn with_batch_rows(
        client: &'c mut Client,
        batch_rows: usize,
    ) -> Result<PgWriter<'c, R>, PgError> {
        let transaction = client
            .transaction()
            .map_err(|err| table_error::<R>("cannot begin", &err))?;
        Ok(PgWriter {
            transaction,
            batch_rows: batch_rows.max(1),
            seen: HashSet::new(),
            previous: None,
            new_starts: Vec::new(),
            new_deployments: Vec::new(),
            batch: String::new(),
            batch_len: 0,
            report: PgReport::default(),
            rows: PhantomData,
        })
    }

    /// Adds `row`; sends the batch when it is full.
    pub fn write(&mut self, row: &R) -> Result<(), PgError> {
        let (start, deployment) = row.slice();
        let same =
            matches!(&self.previous, Some((time, name)) if *time == start && name == deployment);
        if !same {
            if self.seen.insert((start, deployment.to_owned())) {
                self.new_starts.push(system_time(start));
                self.new_deployments.push(deployment.to_owned());
            }
            self.previous = Some((start, deployment.to_owned()));
        }
        for index in 0..R::COLUMNS.len() {
            if index > 0 {
                self.batch.push('\t');
            }
            push_copy_value(&mut self.batch, &row.value(index));
        }
        self.batch.push('\n');
        self.batch_len += 1;
        self.report.most_rows_held = self.report.most_rows_held.max(self.batch_len);
        if self.batch_len >= self.batch_rows {
            self.send()?;
        }
        Ok(())
    }

    /// Sends the last batch and commits; returns what was done.
    pub fn finish(mut self) -> Result<PgReport, PgError> {
        self.send()?;
        self.transaction
            .commit()
            .map_err(|err| table_error::<R>("cannot commit", &err))?;
        Ok(PgReport {
            slices: self.seen.len(),
            ..self.report
        })
    }

    /// Deletes the batch's new slices, then copies its rows in.
    fn send(&mut self) -> Result<(), PgError> {
        if !self.new_starts.is_empty() {
            self.report.deleted += self
                .transaction
                .execute(
                    &format!(
                        "DELETE FROM {table} AS t USING unnest($1::timestamptz[], $2::text[]) AS s (start_time, deployment) \
                         WHERE t.start_time = s.start_time AND t.deployment = s.deployment",
                        table = R::TABLE
                    ),
                    &[&self.new_starts, &self.new_deployments],
                )
                .map_err(|err| table_error::<R>("cannot delete the slices being replaced", &err))?;
            self.new_starts.clear();
            self.new_deployments.clear();
        }
        if self.batch_len == 0 {
            return Ok(());
        }
        let columns: Vec<&str> = R::COLUMNS.iter().map(|column| column.name).collect();
        let copy = format!(
            "COPY {} ({}) FROM STDIN (FORMAT text)",
            R::TABLE,
            columns.join(", ")
        );
        let mut writer = self
            .transaction
            .copy_in(&copy)
            .map_err(|err| table_error::<R>("cannot start COPY", &err))?;
        writer
            .write_all(self.batch.as_bytes())
            .map_err(|err| PgError {
                target: R::TABLE.to_owned(),
                message: format!("COPY failed: {err}"),
            })?;
        self.report.inserted += writer
            .finish()
            .map_err(|err| table_error::<R>("COPY failed", &err))?;
        self.report.batches += 1;
        self.batch.clear();
        self.batch_len = 0;
        Ok(())
    }
}

/// `time` as the `SystemTime` that the `postgres` crate binds to `timestamptz`.
fn system_time(time: UtcTime) -> SystemTime {
    let offset = Duration::from_secs(time.unix().unsigned_abs());
    if time.unix() >= 0 {
        SystemTime::UNIX_EPOCH + offset
    } else {
        SystemTime::UNIX_EPOCH - offset
    }
}

/// An error of a statement on `R::TABLE`.
fn table_error<R: Row>(what: &str, err: &postgres::Error) -> PgError {
    PgError {
        target: R::TABLE.to_owned(),
        message: format!("{what}: {}", error_text(err)),
    }
}

/// Writes `rows` with a [`PgWriter`] on `client`: one transaction that replaces exactly the
/// (step, deployment) slices present in `rows`.
pub fn write_rows<'a, R: Row + 'a>(
    client: &mut Client,
    rows: impl IntoIterator<Item = &'a R>,
) -> Result<PgReport, PgError> {
    let mut writer = PgWriter::begin(client)?;
    for row in rows {
        writer.write(row)?;
    }
    writer.finish()
}

/// The server's message with its detail, or the client error.
fn error_text(err: &postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => {
            let mut text = format!("{}: {}", db.severity(), db.message());
            if let Some(detail) = db.detail() {
                let _ = write!(text, " ({detail})");
            }
            if let Some(r#where) = db.where_() {
                let _ = write!(text, " [{where}]", where = r#where);
            }
            text
        }
        None => err.to_string(),
    }
}

/// Connects to `conninfo` and writes `rows` (see [`write_rows`]).
pub fn write<'a, R: Row + 'a>(
    conninfo: &str,
    options: &PgOptions,
    rows: impl IntoIterator<Item = &'a R>,
) -> Result<PgReport, PgError> {
    let mut client = connect(conninfo, options)?;
    write_rows(&mut client, rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::{Bucket, CostRow, ShareRow, UNATTRIBUTED_ID};

    use featgen_tests::PostgresDatabase;

    /// A client of `db`.
    fn client(db: &PostgresDatabase) -> Client {
        connect(&db.conninfo(), &PgOptions::default()).unwrap()
    }

    fn share(hour: i64, deployment: &str, endpoint: Option<&str>, cpu_ns: u64) -> ShareRow {
        let start = UtcTime(1_749_740_400 + hour * 3_600);
        ShareRow {
            start_time: start,
            end_time: UtcTime(start.unix() + 3_600),
            deployment: deployment.into(),
            feature: endpoint.map(|_| "messaging".into()),
            endpoint: endpoint.map(Into::into),
            percentage_of_cpu: 0.1 + cpu_ns as f64 / 7.0,
            feature_id: if endpoint.is_some() {
                1
            } else {
                UNATTRIBUTED_ID
            },
            feature_group: endpoint.map(|_| "chat".into()),
            team: endpoint.map(|_| "tab\there, back\\slash\nnewline".into()),
            tier: None,
            cpu_ns,
            samples: cpu_ns / 10,
            requests: endpoint.map(|_| 3),
        }
    }

    fn shares_in_db(client: &mut Client) -> Vec<ShareRow> {
        client
            .query(
                "SELECT row_to_json(t)::text FROM fact_cpu_share t \
                 ORDER BY start_time, deployment, feature_id, endpoint",
                &[],
            )
            .unwrap()
            .iter()
            .map(|row| serde_json::from_str(row.get(0)).unwrap())
            .collect()
    }

    #[test]
    fn rewriting_a_slice_replaces_it_and_nothing_else() {
        let db = PostgresDatabase::with_generated_tables();
        let first = vec![
            share(0, "api", None, 30),
            share(0, "api", Some("create_message"), 10),
            share(0, "api", Some("list"), 20),
            share(0, "web", Some("create_message"), 40),
            share(1, "api", Some("create_message"), 50),
        ];
        let report = write(&db.conninfo(), &PgOptions::default(), &first).unwrap();
        assert_eq!(
            report,
            PgReport {
                slices: 3,
                deleted: 0,
                inserted: 5,
                batches: 1,
                most_rows_held: 5,
            }
        );
        let mut client = client(&db);
        assert_eq!(shares_in_db(&mut client), first);

        // The hour 0 of `api` again, with one endpoint fewer: exactly that slice changes.
        let again = vec![
            share(0, "api", None, 31),
            share(0, "api", Some("create_message"), 11),
        ];
        let report = write_rows(&mut client, &again).unwrap();
        assert_eq!(
            report,
            PgReport {
                slices: 1,
                deleted: 3,
                inserted: 2,
                batches: 1,
                most_rows_held: 2,
            }
        );
        let expected = vec![
            again[0].clone(),
            again[1].clone(),
            first[3].clone(),
            first[4].clone(),
        ];
        assert_eq!(shares_in_db(&mut client), expected);
        // Idempotent: the same write twice leaves the same table.
        write_rows(&mut client, &again).unwrap();
        assert_eq!(shares_in_db(&mut client), expected);
    }

    #[test]
    fn a_failed_write_changes_nothing() {
        let db = PostgresDatabase::with_generated_tables();
        let mut client = client(&db);
        let rows = vec![share(0, "api", Some("create_message"), 10)];
        write_rows(&mut client, &rows).unwrap();
        // A feature id that dim_feature does not have fails the foreign key, after the delete.
        let mut bad = vec![share(0, "api", Some("list"), 5)];
        bad[0].feature_id = 999_999;
        let error = write_rows(&mut client, &bad).unwrap_err().to_string();
        assert!(
            error.starts_with("PostgreSQL (fact_cpu_share): COPY failed: ERROR: insert or update on table \"fact_cpu_share\" violates foreign key constraint"),
            "{error}"
        );
        assert_eq!(shares_in_db(&mut client), rows);
    }

    /// Rows of hours `hours` × deployments `d0..d{deployments}`, `per_slice` endpoints each,
    /// made one at a time (never a vector): what a long `featgen cost` run streams.
    fn many_shares(
        hours: std::ops::Range<i64>,
        deployments: usize,
        per_slice: usize,
    ) -> impl Iterator<Item = ShareRow> {
        hours.flat_map(move |hour| {
            (0..deployments).flat_map(move |deployment| {
                (0..per_slice).map(move |endpoint| {
                    share(
                        hour,
                        &format!("d{deployment}"),
                        Some(&format!("e{endpoint}")),
                        endpoint as u64 + 1,
                    )
                })
            })
        })
    }

    fn count(client: &mut Client, filter: &str) -> i64 {
        client
            .query_one(
                &format!("SELECT count(*) FROM fact_cpu_share WHERE {filter}"),
                &[],
            )
            .unwrap()
            .get(0)
    }

    #[test]
    fn a_large_write_holds_one_batch_not_the_rows() {
        let db = PostgresDatabase::with_generated_tables();
        let mut client = client(&db);
        // Not replaced by the writes below: another deployment in the same hours.
        write_rows(&mut client, &[share(0, "other", None, 7)]).unwrap();
        // 12,000 rows in 300 slices, sent by batches of 500.
        let write = |client: &mut Client| {
            let mut writer = PgWriter::with_batch_rows(client, 500).unwrap();
            for row in many_shares(0..6, 50, 40) {
                writer.write(&row).unwrap();
            }
            writer.finish().unwrap()
        };
        let report = write(&mut client);
        assert_eq!(
            report,
            PgReport {
                slices: 300,
                deleted: 0,
                inserted: 12_000,
                batches: 24,
                most_rows_held: 500,
            }
        );
        assert_eq!(count(&mut client, "true"), 12_001);
        // Again: every slice is deleted once, at its first row, and rewritten whole.
        let report = write(&mut client);
        assert_eq!((report.deleted, report.inserted), (12_000, 12_000));
        assert_eq!(report.most_rows_held, 500);
        assert_eq!(count(&mut client, "true"), 12_001);
        assert_eq!(count(&mut client, "deployment = 'other'"), 1);
    }

    #[test]
    fn a_slice_whose_rows_are_scattered_over_batches_is_deleted_once() {
        let db = PostgresDatabase::with_generated_tables();
        let mut client = client(&db);
        let rows: Vec<ShareRow> = (0..10)
            .flat_map(|round| {
                ["api", "web"].map(|deployment| share(0, deployment, Some(&format!("e{round}")), 1))
            })
            .collect();
        write_rows(&mut client, &rows).unwrap();
        // The slices come back interleaved, three rows a batch: the second batch's `api` rows
        // must not delete the first batch's.
        let mut writer = PgWriter::with_batch_rows(&mut client, 3).unwrap();
        for row in &rows {
            writer.write(row).unwrap();
        }
        let report = writer.finish().unwrap();
        assert_eq!(
            (report.slices, report.deleted, report.inserted),
            (2, 20, 20)
        );
        assert_eq!(shares_in_db(&mut client).len(), 20);
    }

    #[test]
    fn a_failure_after_batches_were_sent_rolls_them_all_back() {
        let db = PostgresDatabase::with_generated_tables();
        let mut client = client(&db);
        let before: Vec<ShareRow> = many_shares(0..2, 3, 4).collect();
        write_rows(&mut client, &before).unwrap();
        // Eleven batches go in (and their slices are deleted) before the bad row fails its batch.
        let mut rows: Vec<ShareRow> = many_shares(0..2, 3, 4)
            .chain(many_shares(2..10, 3, 4))
            .collect();
        rows[95].feature_id = 999_999;
        let mut writer = PgWriter::with_batch_rows(&mut client, 8).unwrap();
        let error = rows
            .iter()
            .try_for_each(|row| writer.write(row))
            .unwrap_err()
            .to_string();
        drop(writer);
        assert!(error.contains("violates foreign key constraint"), "{error}");
        assert_eq!(shares_in_db(&mut client), before);
    }

    #[test]
    fn cost_rows_keep_exact_decimals() {
        let db = PostgresDatabase::with_generated_tables();
        let base = share(0, "api", Some("create_message"), 10);
        let cost = |bucket, cost: &str, per: Option<&str>| CostRow {
            cost_per_request: per.map(|p| p.parse().unwrap()),
            ..CostRow::priced(base.clone(), cost.parse().unwrap(), "USD".into(), bucket)
        };
        let rows = vec![
            cost(
                Bucket::Feature,
                "12.340000000000000001",
                Some("4.113333333333333334"),
            ),
            cost(Bucket::Unattributed, "-1234567890.123456789012345678", None),
        ];
        let report = write(&db.conninfo(), &PgOptions::default(), &rows).unwrap();
        assert_eq!(report.inserted, 2);
        let mut client = client(&db);
        let stored: Vec<(String, String, Option<String>)> = client
            .query(
                "SELECT bucket, cost::text, cost_per_request::text FROM fact_feature_cost ORDER BY bucket",
                &[],
            )
            .unwrap()
            .iter()
            .map(|row| (row.get(0), row.get(1), row.get(2)))
            .collect();
        assert_eq!(
            stored,
            [
                (
                    "feature".to_owned(),
                    "12.340000000000000001".to_owned(),
                    Some("4.113333333333333334".to_owned())
                ),
                (
                    "unattributed".to_owned(),
                    "-1234567890.123456789012345678".to_owned(),
                    None
                ),
            ]
        );
    }

    #[test]
    fn errors_name_the_server_never_the_password() {
        let error = write::<ShareRow>(
            "host=/nonexistent/socket/dir user=me password=hunter2 dbname=warehouse",
            &PgOptions::default(),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.starts_with(
                "PostgreSQL (host /nonexistent/socket/dir, database warehouse): cannot connect: "
            ),
            "{error}"
        );
        assert!(!error.contains("hunter2"));
        let error = connect(
            "postgres://me:hunter2@host:notaport/db",
            &PgOptions::default(),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(error.contains("invalid connection string"), "{error}");
        assert!(!error.contains("hunter2"));
    }
}
