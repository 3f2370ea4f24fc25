//! Tampering with the audit log's file is detected: an altered field, a deleted entry, an
//! entry re-inserted with a recomputed hash, reordered entries, a truncated tail, dropped
//! triggers. The file is changed with a raw SQLite connection, as an intruder would.

mod common;

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection};
use serde_json::json;
use tessera_station::audit::{entry_hash, AuditLog, EntryKind, Problem};
use tessera_station::AuditError;

/// A log with five entries; returns its path.
fn log_with_entries(tag: &str) -> PathBuf {
    let path = common::folder(tag).join("audit.sqlite");
    let mut log = AuditLog::open(&path).unwrap();
    let s = Some("survival-2026");
    log.append(
        EntryKind::StudyReceived,
        s,
        "researcher",
        &json!({"title": "t"}),
    )
    .unwrap();
    log.append(
        EntryKind::Approved,
        s,
        "policy",
        &json!({"rule": "km-only"}),
    )
    .unwrap();
    log.append(EntryKind::RunStarted, s, "registry", &json!({}))
        .unwrap();
    log.revealed(
        "survival-2026",
        "registry",
        "km",
        "researcher",
        &json!({"n": 412, "median": 731.5}),
    )
    .unwrap();
    log.append(
        EntryKind::RunFinished,
        s,
        "registry",
        &json!({"seconds": 12.5}),
    )
    .unwrap();
    assert_eq!(log.verify().unwrap().entries, 5);
    path
}

/// Runs `sql` on the file with the append-only triggers dropped, then restores them (so
/// that only the data change is to be found).
fn tamper(path: &Path, sql: &str) {
    let c = Connection::open(path).unwrap();
    c.execute_batch("DROP TRIGGER audit_entries_no_update; DROP TRIGGER audit_entries_no_delete;")
        .unwrap();
    c.execute_batch(sql).unwrap();
    c.execute_batch(
        "CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
         BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
         CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
         BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
    )
    .unwrap();
}

fn problems(path: &Path) -> Vec<Problem> {
    match AuditLog::open(path).unwrap().verify() {
        Err(AuditError::Tampered { problems, .. }) => problems,
        other => panic!("tampering not detected: {other:?}"),
    }
}

#[test]
fn an_intact_log_verifies() {
    let p = log_with_entries("intact");
    let log = AuditLog::open(&p).unwrap();
    let r = log.verify().unwrap();
    assert_eq!(log.head().unwrap(), (r.entries, r.head.clone()));
    assert_eq!(log.entries().unwrap().last().unwrap().hash, r.head);
}

#[test]
fn the_triggers_refuse_changes_through_sql() {
    let p = log_with_entries("triggers");
    let c = Connection::open(&p).unwrap();
    assert!(c
        .execute("UPDATE audit_entries SET actor = 'x' WHERE seq = 2", [])
        .is_err());
    assert!(c
        .execute("DELETE FROM audit_entries WHERE seq = 5", [])
        .is_err());
    assert!(AuditLog::open(&p).unwrap().verify().is_ok());
}

#[test]
fn an_altered_field_is_detected() {
    let changes = [
        ("time", "'2020-01-01T00:00:00.000Z'"),
        ("kind", "'refused'"),
        ("study", "'another-study'"),
        ("study", "NULL"),
        ("actor", "'mallory'"),
        ("details", "'{\"rule\":\"none\"}'"),
        (
            "prev_hash",
            "'0000000000000000000000000000000000000000000000000000000000000001'",
        ),
    ];
    for (i, (col, val)) in changes.iter().enumerate() {
        let p = log_with_entries(&format!("alter-{i}"));
        tamper(
            &p,
            &format!("UPDATE audit_entries SET {col} = {val} WHERE seq = 2"),
        );
        let found = problems(&p);
        assert!(
            found.contains(&Problem::Altered { seq: 2 }),
            "{col}: {found:?}"
        );
        assert!(
            !found.contains(&Problem::Altered { seq: 3 }),
            "{col}: {found:?}"
        );
    }
}

#[test]
fn an_altered_entry_is_found_wherever_it_is() {
    for seq in 1..=5u64 {
        let p = log_with_entries(&format!("alter-at-{seq}"));
        tamper(
            &p,
            &format!("UPDATE audit_entries SET details = '{{}}' || details WHERE seq = {seq}"),
        );
        assert_eq!(problems(&p), vec![Problem::Altered { seq }], "entry {seq}");
    }
}

#[test]
fn an_altered_hash_breaks_the_chain() {
    let p = log_with_entries("alter-hash");
    tamper(
        &p,
        "UPDATE audit_entries SET hash = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' WHERE seq = 3",
    );
    let found = problems(&p);
    assert_eq!(
        found,
        vec![Problem::Altered { seq: 3 }, Problem::BrokenChain { seq: 4 }]
    );
}

#[test]
fn a_deleted_entry_is_detected() {
    let p = log_with_entries("delete");
    tamper(&p, "DELETE FROM audit_entries WHERE seq = 2");
    let found = problems(&p);
    assert_eq!(
        found,
        vec![
            Problem::Missing { first: 2, last: 2 },
            Problem::BrokenChain { seq: 3 }
        ]
    );
    assert!(found[0].to_string().contains("entry 2 is missing"));
}

#[test]
fn a_deleted_and_renumbered_entry_is_detected() {
    // Entries 3.. moved down by one to hide the gap: their hashes cover seq.
    let p = log_with_entries("renumber");
    tamper(
        &p,
        "DELETE FROM audit_entries WHERE seq = 2;
         UPDATE audit_entries SET seq = seq - 1 WHERE seq > 2;
         UPDATE audit_meta SET value = '4' WHERE key = 'count';",
    );
    let found = problems(&p);
    assert!(found.contains(&Problem::Altered { seq: 2 }), "{found:?}");
    assert!(
        found.contains(&Problem::BrokenChain { seq: 2 }),
        "{found:?}"
    );
}

#[test]
fn a_reinserted_entry_with_a_recomputed_hash_breaks_the_chain() {
    let p = log_with_entries("reinsert");
    let log = AuditLog::open(&p).unwrap();
    let e2 = log.entries().unwrap()[1].clone();
    drop(log);
    // Replace entry 2 by a forged one whose own hash is right.
    let details = "{\"rule\":\"forged\"}";
    let forged = entry_hash(
        2,
        &e2.time,
        "approved",
        e2.study.as_deref(),
        "mallory",
        details,
        &e2.prev_hash,
    );
    let c = Connection::open(&p).unwrap();
    c.execute_batch("DROP TRIGGER audit_entries_no_delete")
        .unwrap();
    c.execute("DELETE FROM audit_entries WHERE seq = 2", [])
        .unwrap();
    c.execute(
        "INSERT INTO audit_entries VALUES (2, ?1, 'approved', ?2, 'mallory', ?3, ?4, ?5)",
        params![e2.time, e2.study, details, e2.prev_hash, forged],
    )
    .unwrap();
    drop(c);
    let found = problems(&p);
    // The forged entry itself is consistent; the next one no longer follows it; and the
    // dropped trigger is reported.
    assert!(!found.contains(&Problem::Altered { seq: 2 }), "{found:?}");
    assert!(
        found.contains(&Problem::BrokenChain { seq: 3 }),
        "{found:?}"
    );
    assert!(
        found.contains(&Problem::TriggerMissing("audit_entries_no_delete".into())),
        "{found:?}"
    );
}

#[test]
fn reordered_entries_are_detected() {
    let p = log_with_entries("reorder");
    tamper(
        &p,
        "UPDATE audit_entries SET seq = 100 WHERE seq = 2;
         UPDATE audit_entries SET seq = 2 WHERE seq = 3;
         UPDATE audit_entries SET seq = 3 WHERE seq = 100;",
    );
    let found = problems(&p);
    assert!(found.contains(&Problem::Altered { seq: 2 }), "{found:?}");
    assert!(found.contains(&Problem::Altered { seq: 3 }), "{found:?}");
    assert!(
        found.contains(&Problem::BrokenChain { seq: 2 }),
        "{found:?}"
    );
}

#[test]
fn a_truncated_tail_is_detected_by_the_head_record() {
    let p = log_with_entries("truncate");
    tamper(&p, "DELETE FROM audit_entries WHERE seq >= 4");
    let found = problems(&p);
    assert_eq!(found.len(), 1, "{found:?}");
    let Problem::HeadMismatch {
        meta_count,
        table_last,
        ..
    } = &found[0]
    else {
        panic!("{found:?}")
    };
    assert_eq!((*meta_count, *table_last), (5, 3));
    // A tampered log is not extended.
    let mut log = AuditLog::open(&p).unwrap();
    assert!(matches!(
        log.append(EntryKind::RunStarted, None, "x", &json!({})),
        Err(AuditError::Tampered { .. })
    ));
}

#[test]
fn entries_added_outside_the_log_are_detected() {
    let p = log_with_entries("extra");
    let log = AuditLog::open(&p).unwrap();
    let last = log.entries().unwrap().pop().unwrap();
    drop(log);
    let h = entry_hash(6, &last.time, "revealed", None, "mallory", "{}", &last.hash);
    let c = Connection::open(&p).unwrap();
    c.execute(
        "INSERT INTO audit_entries VALUES (6, ?1, 'revealed', NULL, 'mallory', '{}', ?2, ?3)",
        params![last.time, last.hash, h],
    )
    .unwrap();
    drop(c);
    assert!(matches!(
        problems(&p)[..],
        [Problem::HeadMismatch {
            meta_count: 5,
            table_last: 6,
            ..
        }]
    ));
}

#[test]
fn truncating_table_and_head_record_needs_an_external_anchor() {
    let p = log_with_entries("anchor");
    let (count, head) = AuditLog::open(&p).unwrap().head().unwrap();
    let e4 = AuditLog::open(&p).unwrap().entries().unwrap()[3].clone();
    tamper(
        &p,
        &format!(
            "DELETE FROM audit_entries WHERE seq = 5;
             UPDATE audit_meta SET value = '4' WHERE key = 'count';
             UPDATE audit_meta SET value = '{}' WHERE key = 'head';",
            e4.hash
        ),
    );
    let log = AuditLog::open(&p).unwrap();
    // Consistent on its own (the documented limit) ...
    assert_eq!(log.verify().unwrap().entries, 4);
    // ... but not with the head the steward recorded.
    assert!(matches!(
        log.verify_anchor(count, &head),
        Err(AuditError::Tampered { .. })
    ));
    // An earlier anchor still holds.
    assert!(log.verify_anchor(4, &e4.hash).is_ok());
}

#[test]
fn dropped_triggers_are_reported_and_not_recreated_on_open() {
    let p = log_with_entries("droptrigger");
    let c = Connection::open(&p).unwrap();
    c.execute_batch("DROP TRIGGER audit_entries_no_update")
        .unwrap();
    drop(c);
    let found = problems(&p);
    assert_eq!(
        found,
        vec![Problem::TriggerMissing("audit_entries_no_update".into())]
    );
    assert_eq!(problems(&p), found);
}

/// Cost of appending and verifying (run with `--ignored --nocapture`): each append is its
/// own transaction, synced to disk.
#[test]
#[ignore]
fn timing_appends_and_verify() {
    let path = common::folder("timing").join("audit.sqlite");
    let mut log = AuditLog::open(&path).unwrap();
    let n = 2000;
    let t = std::time::Instant::now();
    for i in 0..n {
        log.append(
            EntryKind::Revealed,
            Some("s"),
            "registry",
            &json!({"analysis": "km", "i": i}),
        )
        .unwrap();
    }
    let append = t.elapsed();
    let t = std::time::Instant::now();
    assert_eq!(log.verify().unwrap().entries, n);
    let verify = t.elapsed();
    println!(
        "{n} appends: {:.2} ms each; verify: {:.1} ms ({:.1} µs per entry)",
        append.as_secs_f64() * 1e3 / n as f64,
        verify.as_secs_f64() * 1e3,
        verify.as_secs_f64() * 1e6 / n as f64
    );
}

#[test]
fn a_dropped_head_record_or_entries_table_is_detected() {
    let p = log_with_entries("dropmeta");
    tamper(&p, "DROP TABLE audit_meta");
    let found = problems(&p);
    assert!(matches!(found[..], [Problem::Meta(_)]), "{found:?}");

    let p = log_with_entries("dropentries");
    Connection::open(&p)
        .unwrap()
        .execute_batch("DROP TABLE audit_entries")
        .unwrap();
    match AuditLog::open(&p) {
        Err(AuditError::Tampered { problems, .. }) => {
            assert_eq!(problems, vec![Problem::EntriesMissing])
        }
        other => panic!("{other:?}"),
    }
}

/// Issue 14: the audit database (approvals, run states, token hashes, result shares) and
/// the steward's token are created 0600, and a file others can read is refused at open,
/// naming the file and the fix.
#[cfg(unix)]
#[test]
fn the_audit_file_and_the_token_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let path = log_with_entries("audit-private");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = AuditLog::open(&path).unwrap_err().to_string();
    assert!(
        e.contains(&path.display().to_string())
            && e.contains("mode 644")
            && e.contains("chmod 600"),
        "{e}"
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    AuditLog::open(&path).unwrap();

    let token = path.with_file_name("steward.token");
    let (_, created) = tessera_station::api::steward_token(&token).unwrap();
    assert!(created);
    assert_eq!(mode(&token), 0o600);
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o640)).unwrap();
    let e = tessera_station::api::steward_token(&token)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("steward.token") && e.contains("chmod 600"),
        "{e}"
    );
}

/// Rewrites the log "perfectly", as an intruder with the file would: the rows are replaced
/// by `rows` (seq, time, kind, study, actor, details), every hash recomputed from the first
/// and the head record set to match, so that the log alone verifies.
fn rewrite(path: &Path, rows: &[Row]) {
    let mut sql = String::from("DELETE FROM audit_entries;");
    let mut prev = tessera_station::audit::GENESIS.to_string();
    for (i, (_, time, kind, study, actor, details)) in rows.iter().enumerate() {
        let seq = i as u64 + 1;
        let hash = entry_hash(seq, time, kind, study.as_deref(), actor, details, &prev);
        let q = |s: &str| format!("'{}'", s.replace('\'', "''"));
        sql += &format!(
            "INSERT INTO audit_entries VALUES ({seq}, {}, {}, {}, {}, {}, {}, {});",
            q(time),
            q(kind),
            study.as_deref().map_or("NULL".to_string(), q),
            q(actor),
            q(details),
            q(&prev),
            q(&hash)
        );
        prev = hash;
    }
    sql += &format!(
        "UPDATE audit_meta SET value = '{}' WHERE key = 'count';
         UPDATE audit_meta SET value = '{prev}' WHERE key = 'head';",
        rows.len()
    );
    tamper(path, &sql);
}

type Row = (i64, String, String, Option<String>, String, String);

fn rows(path: &Path) -> Vec<Row> {
    let c = Connection::open(path).unwrap();
    let mut st = c
        .prepare("SELECT seq, time, kind, study, actor, details FROM audit_entries ORDER BY seq")
        .unwrap();
    st.query_map([], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
        ))
    })
    .unwrap()
    .collect::<rusqlite::Result<_>>()
    .unwrap()
}

/// The reproduction and its kin, each on a fresh copy of a five-entry log whose
/// every head the peers kept (signed by this station, as `GET /peer/audit/head` gives
/// them): the log alone verifies after each rewrite, the peers' heads name the first entry
/// that differs.
#[test]
fn a_log_rewritten_consistently_is_caught_by_the_heads_its_peers_kept() {
    use tessera_station::anchor::{check, PeerRecord, SignedHead};
    let me = tessera_net::identity::Identity::generate("registry").unwrap();
    let kept_of = |path: &Path| -> Vec<PeerRecord> {
        // As the peers kept them while the log grew: one head per entry.
        let hashes = AuditLog::open(path).unwrap().hashes().unwrap();
        let heads: Vec<SignedHead> = hashes
            .iter()
            .map(|(c, h)| SignedHead::sign(&me, "registry", *c, h).unwrap())
            .collect();
        vec![
            PeerRecord {
                peer: "gp".into(),
                heads: Ok(heads.iter().step_by(2).cloned().collect()),
            },
            PeerRecord {
                peer: "institute".into(),
                heads: Ok(heads.iter().skip(1).step_by(2).cloned().collect()),
            },
        ]
    };
    type Change = fn(&mut Vec<Row>);
    let cases: [(&str, Change, &str); 4] = [
        // Drop the triggers, delete the `revealed` entry and what follows it, roll the
        // head record back, recreate the triggers.
        ("truncated", |r| r.truncate(3), "the log ends at entry 3"),
        // Delete the `revealed` entry in the middle and re-chain the rest.
        (
            "deleted",
            |r| {
                r.remove(3);
            },
            "entry 4",
        ),
        // Swap two entries and re-chain.
        ("reordered", |r| r.swap(1, 2), "entry 2"),
        // Change what was revealed and re-chain.
        (
            "rewritten",
            |r| r[3].5 = r[3].5.replace("412", "12"),
            "entry 4",
        ),
    ];
    for (tag, change, expected) in cases {
        let p = log_with_entries(&format!("anchored-{tag}"));
        let kept = kept_of(&p);
        let own = AuditLog::open(&p).unwrap();
        let fine = check(&own.hashes().unwrap(), &me.cert_der, &kept);
        assert!(fine.problems.is_empty(), "{tag}: {:?}", fine.problems);
        drop(own);
        let mut r = rows(&p);
        change(&mut r);
        rewrite(&p, &r);
        let log = AuditLog::open(&p).unwrap();
        // The log alone cannot tell.
        log.verify()
            .unwrap_or_else(|e| panic!("{tag}: the rewrite is not consistent: {e}"));
        let found = check(&log.hashes().unwrap(), &me.cert_der, &kept);
        assert_eq!(found.problems.len(), 1, "{tag}: {:?}", found.problems);
        assert!(
            found.problems[0].contains(expected),
            "{tag}: {}",
            found.problems[0]
        );
        if expected.starts_with("entry") {
            assert!(
                found.problems[0].contains(&format!("the first entry that differs is {expected}")),
                "{tag}: {}",
                found.problems[0]
            );
        }
    }
}
