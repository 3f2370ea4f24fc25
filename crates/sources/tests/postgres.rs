//! Against the project's own PostgreSQL test server (scripts/postgres.sh, started by
//! scripts/test.sh), which serves fixtures/synthetic/gp.csv as table `gp`. Without
//! TESSERA_TEST_PG_URL these tests fail under CI and are skipped (saying why) elsewhere.

mod common;

use common::*;
use tessera_sources::{read, ColumnKind, PgTls, Source, SourceError, Table};

/// The server's URL, or `None` (skipped) outside CI when it is not set.
fn pg_url(test: &str) -> Option<String> {
    match std::env::var("TESSERA_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
            assert!(
                !ci,
                "TESSERA_TEST_PG_URL is not set under CI: scripts/test.sh starts the test \
                 server with scripts/postgres.sh and exports it"
            );
            eprintln!(
                "{test}: skipped: TESSERA_TEST_PG_URL is not set (run \
                 `eval \"$(scripts/postgres.sh start)\"`, or scripts/test.sh)"
            );
            None
        }
    }
}

fn pg(url: &str, query: &str) -> Source {
    Source::Postgres {
        url: url.into(),
        query: query.into(),
        tls: None,
    }
}

fn query(url: &str, q: &str, cols: &[tessera_sources::ColumnDecl]) -> Result<Table, SourceError> {
    read(&pg(url, q), &key(), cols)
}

#[test]
fn the_gp_table_by_query_equals_gp_csv() {
    let Some(url) = pg_url("the_gp_table_by_query_equals_gp_csv") else {
        return;
    };
    let csv = gp_from_csv();
    // Column types in the table: text, integer, smallint, numeric(4,1), boolean, integer,
    // bigint, double precision, real (see scripts/postgres.sh).
    let t = query(&url, "SELECT * FROM gp", &gp_columns()).unwrap();
    assert_eq!(t.counts, csv.counts);
    assert_eq!(t.counts.rows, 1900);
    assert_eq!(rows_by_key(&t), rows_by_key(&csv));
    // Columns in another order than the declaration, and the key among them.
    let t = query(
        &url,
        "SELECT ace_inhibitor, bmi, metformin, statin, hypertension, diabetes, smoker, \
         comorbidity, patient_id FROM gp ORDER BY patient_id DESC",
        &gp_columns(),
    )
    .unwrap();
    assert_eq!(rows_by_key(&t), rows_by_key(&csv));
}

#[test]
fn a_wrong_column_type_is_refused_naming_the_column_and_both_types() {
    let Some(url) = pg_url("a_wrong_column_type_is_refused") else {
        return;
    };
    let e = query(
        &url,
        "SELECT patient_id, patient_id AS bmi FROM gp",
        &[decl(
            "bmi",
            ColumnKind::Numeric {
                min: None,
                max: None,
            },
        )],
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "query result: column \"bmi\" has type text, declared numeric"
    );
    assert!(matches!(e, SourceError::Type { .. }));
    let e = query(
        &url,
        "SELECT patient_id, bmi AS stage FROM gp",
        &[decl(
            "stage",
            ColumnKind::Categorical {
                levels: vec!["1".into(), "2".into()],
            },
        )],
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("column \"stage\" has type numeric, declared categorical"),
        "{e}"
    );
    // A key must be text or an integer.
    let e = read(&pg(&url, "SELECT bmi AS patient_id FROM gp"), &key(), &[]).unwrap_err();
    assert!(
        e.to_string()
            .contains("column \"patient_id\" has type numeric"),
        "{e}"
    );
    let e = query(
        &url,
        "SELECT now() AS x, patient_id FROM gp",
        &[decl("x", ColumnKind::Binary)],
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("has type timestamptz, declared binary"),
        "{e}"
    );
}

#[test]
fn dates_are_keys_written_iso() {
    let Some(url) = pg_url("dates_are_keys_written_iso") else {
        return;
    };
    let t = read(
        &pg(
            &url,
            "SELECT d::date AS patient_id FROM (VALUES ('1980-12-31'), ('2000-02-29'), \
             ('0001-01-01'), (NULL)) v(d)",
        ),
        &key(),
        &[],
    )
    .unwrap();
    let want = ["1980-12-31", "2000-02-29", "0001-01-01"].map(|d| Some(d.to_string()));
    assert_eq!(t.keys, vec![[&want[..], &[None]].concat()]);
    let e = read(
        &pg(&url, "SELECT 'infinity'::date AS patient_id"),
        &key(),
        &[],
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "query result row 1: column \"patient_id\": a date outside the years 1 to 9999"
    );
    let e = query(
        &url,
        "SELECT patient_id, current_date AS born FROM gp",
        &[decl(
            "born",
            ColumnKind::Numeric {
                min: None,
                max: None,
            },
        )],
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("column \"born\" has type date, declared numeric"),
        "{e}"
    );
    let t = query(
        &url,
        "SELECT 'p' AS patient_id, d::date AS born FROM (VALUES ('1970-01-02'), (NULL), \
         ('1969-12-31')) v(d)",
        &[decl(
            "born",
            ColumnKind::Date {
                min: None,
                max: None,
            },
        )],
    )
    .unwrap();
    assert_eq!(
        t.frame.columns[0].data,
        tessera_stats::PlainData::Numeric(vec![Some(1.0), None, Some(-1.0)])
    );
}

#[test]
fn nulls_and_nan_become_missing() {
    let Some(url) = pg_url("nulls_and_nan_become_missing") else {
        return;
    };
    let csv = gp_from_csv();
    let smokers = csv
        .frame
        .numeric("gp.smoker")
        .unwrap()
        .iter()
        .filter(|&&v| v == Some(1.0))
        .count();
    let zero_comorb = csv
        .frame
        .numeric("gp.comorbidity")
        .unwrap()
        .iter()
        .filter(|&&v| v == Some(0.0))
        .count();
    assert!(smokers > 0 && zero_comorb > 0);
    let t = query(
        &url,
        "SELECT patient_id, CASE WHEN smoker = 1 THEN NULL ELSE bmi END AS bmi, \
         NULLIF(comorbidity, 0) AS comorbidity, \
         CASE WHEN smoker = 1 THEN 'NaN'::float8 ELSE metformin END AS metformin, \
         CASE WHEN smoker = 1 THEN NULL ELSE 'b' END AS level \
         FROM gp",
        &[
            decl(
                "bmi",
                ColumnKind::Numeric {
                    min: None,
                    max: None,
                },
            ),
            decl(
                "comorbidity",
                ColumnKind::Numeric {
                    min: None,
                    max: None,
                },
            ),
            decl("metformin", ColumnKind::Binary),
            decl(
                "level",
                ColumnKind::Categorical {
                    levels: vec!["a".into(), "b".into()],
                },
            ),
        ],
    )
    .unwrap();
    assert_eq!(
        t.counts.missing,
        [
            ("bmi".to_string(), smokers),
            ("comorbidity".to_string(), zero_comorb),
            ("metformin".to_string(), smokers),
            ("level".to_string(), smokers),
        ]
    );
    // NULL keys are missing keys.
    let t = read(
        &pg(
            &url,
            "SELECT NULLIF(patient_id, patient_id) AS patient_id FROM gp LIMIT 3",
        ),
        &key(),
        &[],
    )
    .unwrap();
    assert_eq!(t.keys, vec![vec![None, None, None]]);
}

#[test]
fn values_are_checked_by_row_without_echoing_them() {
    let Some(url) = pg_url("values_are_checked_by_row") else {
        return;
    };
    // The first row in id order with bmi above 30 fails once scaled by 10 past max 300.
    let e = query(
        &url,
        "SELECT patient_id, bmi * 10 AS bmi FROM gp ORDER BY bmi > 30, patient_id",
        &[decl(
            "bmi",
            ColumnKind::Numeric {
                min: None,
                max: Some(300.0),
            },
        )],
    )
    .unwrap_err();
    let m = e.to_string();
    assert!(m.starts_with("query result row "), "{m}");
    assert!(
        m.contains("column \"bmi\": above the declared max 300"),
        "{m}"
    );
    let SourceError::Value { place, .. } = &e else {
        panic!("{e:?}")
    };
    let row: usize = place
        .trim_start_matches("query result row ")
        .parse()
        .unwrap();
    // Rows with bmi <= 30 come first: the failing row is the first past them.
    let csv = gp_from_csv();
    let at_most_30 = csv
        .frame
        .numeric("gp.bmi")
        .unwrap()
        .iter()
        .filter(|v| v.is_some_and(|x| x <= 30.0))
        .count();
    assert_eq!(row, at_most_30 + 1);
    // Categorical from an integer column: the levels are the integers as text.
    let levels = |n: usize| ColumnKind::Categorical {
        levels: (0..n).map(|i| i.to_string()).collect(),
    };
    let e = query(
        &url,
        "SELECT patient_id, comorbidity FROM gp",
        &[decl("comorbidity", levels(2))],
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("not one of the declared levels"),
        "{e}"
    );
    let max = csv
        .frame
        .numeric("gp.comorbidity")
        .unwrap()
        .iter()
        .flatten()
        .fold(0.0f64, |a, &b| a.max(b)) as usize;
    let t = query(
        &url,
        "SELECT patient_id, comorbidity FROM gp",
        &[decl("comorbidity", levels(max + 1))],
    )
    .unwrap();
    let want: Vec<Option<usize>> = csv
        .frame
        .numeric("gp.comorbidity")
        .unwrap()
        .iter()
        .map(|v| v.map(|x| x as usize))
        .collect();
    let by_key: std::collections::HashMap<_, _> = csv.keys[0].iter().zip(&want).collect();
    let tessera_stats::PlainData::Categorical { codes, .. } = &t.frame.columns[0].data else {
        panic!("categorical")
    };
    for (k, c) in t.keys[0].iter().zip(codes) {
        assert_eq!(by_key[k], c);
    }
}

#[test]
fn bad_queries_are_reported() {
    let Some(url) = pg_url("bad_queries_are_reported") else {
        return;
    };
    let bmi = [decl(
        "bmi",
        ColumnKind::Numeric {
            min: None,
            max: None,
        },
    )];
    let e = query(&url, "SELECT patient_id, weight AS bmi FROM gp", &bmi).unwrap_err();
    assert!(matches!(e, SourceError::Malformed { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("column \"weight\" does not exist (SQLSTATE 42703)"),
        "{e}"
    );
    let e = query(&url, "SELEC patient_id FROM gp", &bmi).unwrap_err();
    assert!(e.to_string().contains("SQLSTATE 42601"), "{e}");
    let e = query(&url, "SELECT patient_id FROM gp", &bmi).unwrap_err();
    assert_eq!(
        e.to_string(),
        "query result: column \"bmi\" missing from the query result"
    );
    let e = query(&url, "SELECT patient_id, bmi, bmi FROM gp", &bmi).unwrap_err();
    assert!(e.to_string().contains("appears more than once"), "{e}");
    // Two statements are refused by the extended protocol.
    let e = query(&url, "SELECT patient_id, bmi FROM gp; SELECT 1", &bmi).unwrap_err();
    assert!(e.to_string().contains("SQLSTATE 42601"), "{e}");
    // A data exception: the server's message may quote a value, so only its code is shown.
    let e = query(
        &url,
        "SELECT patient_id, patient_id::int AS bmi FROM gp",
        &bmi,
    )
    .unwrap_err();
    let m = e.to_string();
    assert!(m.contains("SQLSTATE 22P02"), "{m}");
    assert!(!m.contains("invalid input syntax"), "{m}");
    let ids = gp_from_csv().keys.remove(0);
    assert!(
        !ids.iter().flatten().any(|id| m.contains(id.as_str())),
        "{m}"
    );
    // Read only: writing is refused and nothing changes.
    let e = query(
        &url,
        "DELETE FROM gp WHERE bmi > 0 RETURNING patient_id, bmi",
        &bmi,
    )
    .unwrap_err();
    assert!(e.to_string().contains("SQLSTATE 25006"), "{e}");
    let t = query(&url, "SELECT patient_id, bmi FROM gp", &bmi).unwrap();
    assert_eq!(t.counts.rows, 1900);
}

#[test]
fn connection_errors_never_show_the_password() {
    // No server needed: nothing listens on port 1.
    let e = query(
        "postgresql://someone:s3cretpw@127.0.0.1:1/db?connect_timeout=5",
        "SELECT 1",
        &[],
    )
    .unwrap_err();
    assert!(matches!(e, SourceError::Open { .. }), "{e:?}");
    assert!(
        e.to_string().starts_with("PostgreSQL: cannot connect"),
        "{e}"
    );
    assert!(!e.to_string().contains("s3cretpw"), "{e}");
    let e = query(
        "postgresql://someone:s3cretpw@127.0.0.1:1/db?bogus=1",
        "SELECT 1",
        &[],
    )
    .unwrap_err();
    assert!(
        e.to_string().starts_with("PostgreSQL: connection settings"),
        "{e}"
    );
    assert!(!e.to_string().contains("s3cretpw"), "{e}");
    let Some(url) = pg_url("connection_errors_never_show_the_password") else {
        return;
    };
    let wrong = url.replacen("tessera-test@", "not-the-password@", 1);
    assert_ne!(wrong, url);
    let e = query(&wrong, "SELECT 1", &[]).unwrap_err();
    assert!(e.to_string().contains("SQLSTATE 28P01"), "{e}");
    assert!(!e.to_string().contains("not-the-password"), "{e}");
}

#[test]
fn tls_with_the_test_ca() {
    let Some(url) = pg_url("tls_with_the_test_ca") else {
        return;
    };
    let Some(ca) = std::env::var_os("TESSERA_TEST_PG_CA") else {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
        assert!(
            !ci,
            "TESSERA_TEST_PG_CA is not set under CI (scripts/postgres.sh makes it)"
        );
        eprintln!("tls_with_the_test_ca: skipped: TESSERA_TEST_PG_CA is not set");
        return;
    };
    let tls = |file: std::path::PathBuf, url: &str| Source::Postgres {
        url: url.into(),
        // The server reports whether this session is encrypted.
        query: "SELECT patient_id, (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) \
                AS encrypted FROM gp LIMIT 5"
            .into(),
        tls: Some(PgTls { ca_file: file }),
    };
    let encrypted = [decl("encrypted", ColumnKind::Binary)];
    for u in [url.clone(), url.replacen("@127.0.0.1:", "@localhost:", 1)] {
        let t = read(&tls(ca.clone().into(), &u), &key(), &encrypted).unwrap();
        assert_eq!(t.frame.numeric("gp.encrypted").unwrap(), &[Some(1.0); 5]);
    }
    // Without TLS the same query says the session is not encrypted.
    let mut plain = tls(ca.clone().into(), &url);
    if let Source::Postgres { tls, .. } = &mut plain {
        *tls = None;
    }
    let t = read(&plain, &key(), &encrypted).unwrap();
    assert_eq!(t.frame.numeric("gp.encrypted").unwrap(), &[Some(0.0); 5]);
    // The server's own certificate is no CA: its chain does not verify.
    let dir = std::path::PathBuf::from(&ca)
        .parent()
        .unwrap()
        .join("server.crt");
    let e = read(&tls(dir, &url), &key(), &encrypted).unwrap_err();
    assert!(
        e.to_string().starts_with("PostgreSQL: cannot connect"),
        "{e}"
    );
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");
    // A missing CA file.
    let e = read(&tls("/nonexistent/ca.pem".into(), &url), &key(), &encrypted).unwrap_err();
    assert!(
        e.to_string().contains("/nonexistent/ca.pem: cannot read"),
        "{e}"
    );
}
