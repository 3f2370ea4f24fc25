//! The steward's policy against studies: refusals name the rule and the item; automatic
//! approval; studies that need a person; the effective disclosure rules.

mod common;

use common::*;
use tessera_station::config::Config;
use tessera_station::policy::Decision;

fn reasons(d: Decision) -> Vec<String> {
    match d {
        Decision::Refuse { reasons } => reasons,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The one reason of a refusal, checked to start with `rule:` and to mention `item`.
fn refused_by(policy: &str, study_text: &str, tag: &str, rule: &str, item: &str) {
    let dir = folder(tag);
    let cfg = station(&dir, policy);
    let s = study(&dir, study_text);
    let r = reasons(cfg.evaluate(&s));
    assert_eq!(r.len(), 1, "{tag}: {r:?}");
    assert!(r[0].starts_with(&format!("{rule}: ")), "{tag}: {r:?}");
    assert!(r[0].contains(item), "{tag}: {r:?}");
}

#[test]
fn the_standard_study_needs_a_person() {
    let dir = folder("person");
    let cfg = station(&dir, POLICY);
    match cfg.evaluate(&study(&dir, STUDY)) {
        Decision::NeedsPerson { why } => assert!(why.contains("no automatic approval rules")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn disallowed_column() {
    let s = STUDY.replace(
        "age = \"numeric\"\n",
        "age = \"numeric\"\npostcode = { type = \"categorical\", levels = [\"a\", \"b\"] }\n",
    );
    refused_by(POLICY, &s, "disallowed", "disallowed_columns", "`postcode`");
}

#[test]
fn column_outside_the_allowed_list() {
    let p = POLICY.replace(
        "disallowed_columns = [\"postcode\"]",
        "allowed_columns = [\"patient_id\", \"time\", \"event\", \"stage\"]",
    );
    refused_by(&p, STUDY, "allowed", "allowed_columns", "`age`");
}

/// A composite key of the study's registry and GP columns: `extra` is the registry's second
/// key column.
fn with_second_key(extra: &str) -> String {
    STUDY
        .replacen(
            "key = [\"patient_id\"]",
            &format!("key = [\"patient_id\", \"{extra}\"]"),
            1,
        )
        .replacen(
            "key = [\"patient_id\"]",
            "key = [\"patient_id\", \"birth\"]",
            1,
        )
        .replace(
            "key = [{ name = \"patient_id\" }]",
            "key = [{ name = \"patient_id\" }, { name = \"second\" }]",
        )
}

/// Issue 12's reproduction: a key of `["patient_id", "stage"]` (with `missing = ["4"]` at
/// the time) counted stage-4 patients exactly. A data column is no key: refused by the rule
/// `key_columns`, naming the column and where the steward declares keys.
#[test]
fn a_data_column_is_no_linkage_key() {
    refused_by(
        POLICY,
        &with_second_key("stage"),
        "stagekey",
        "key_columns",
        "column `stage` of data.registry is used as a linkage key, but source `cases` \
         declares it categorical, not a key (the steward declares key columns in station.toml \
         [sources.cases] columns)",
    );
}

/// Issue 12's reproduction: `key = ["patient_id", "age"]` was approved where `age` is
/// disallowed. Key columns are subject to the column rules, both of them.
#[test]
fn key_columns_follow_the_column_rules() {
    // `age` disallowed: refused by `disallowed_columns` (and, as a data column, by
    // `key_columns`). The study shares no `age` column, so only the key is at fault.
    let s = with_second_key("age")
        .replace("age = \"numeric\"\n", "")
        .replace("\"registry.age\", ", "");
    let p = POLICY.replace("[\"postcode\"]", "[\"postcode\", \"age\"]");
    let dir = folder("agekey");
    let r = reasons(station(&dir, &p).evaluate(&study(&dir, &s)));
    assert!(
        r.iter()
            .any(|x| x == "disallowed_columns: key column `age` of data.registry may not be used"),
        "{r:?}"
    );
    assert!(
        r.iter().any(|x| x.starts_with("key_columns: column `age`")),
        "{r:?}"
    );
    assert_eq!(r.len(), 2, "{r:?}");

    // A key column outside `allowed_columns` is refused by that rule.
    let p = POLICY.replace(
        "disallowed_columns = [\"postcode\"]",
        "allowed_columns = [\"time\", \"event\", \"age\", \"stage\"]",
    );
    refused_by(
        &p,
        STUDY,
        "allowedkey",
        "allowed_columns",
        "key column `patient_id` of data.registry is not among the allowed columns",
    );
}

/// The registry's configuration with `steps` as the normalisation of its key column.
fn station_normalising(dir: &std::path::Path, steps: &str) -> tessera_station::config::Config {
    let text = station_toml(POLICY).replace(
        "\n[policy]",
        &format!("\n[sources.cases.keys.patient_id]\nnormalise = {steps}\n\n[policy]"),
    );
    tessera_station::config::parse("station.toml", &text, dir).unwrap()
}

/// Linkage works only when every station normalises a key alike: the study's linkage
/// states the steps, and a station whose configuration differs refuses (rather than
/// finding no matches), naming both and where its steward configures them.
#[test]
fn key_normalisation_must_be_the_stations() {
    let dir = folder("norm");
    let cfg = station_normalising(&dir, "[\"trim\", \"casefold\"]");
    let r = reasons(cfg.evaluate(&study(&dir, STUDY)));
    assert_eq!(
        r,
        [
            "key_normalisation: the study normalises linkage key `patient_id` (column \
          `patient_id` of data.registry) as [], but this station normalises it as [trim, \
          casefold] (station.toml [sources.cases.keys.patient_id]); every station must \
          normalise a key alike, so the study must state this station's steps"
        ]
    );
    let same = STUDY.replace(
        "key = [{ name = \"patient_id\" }]",
        "key = [{ name = \"patient_id\", normalise = [\"trim\", \"casefold\"] }]",
    );
    assert!(matches!(
        cfg.evaluate(&study(&dir, &same)),
        Decision::NeedsPerson { .. }
    ));
    // The order of the steps is part of it.
    let swapped = same.replace("[\"trim\", \"casefold\"]", "[\"casefold\", \"trim\"]");
    let r = reasons(cfg.evaluate(&study(&dir, &swapped)));
    assert!(r[0].starts_with("key_normalisation: "), "{r:?}");
    // Dates: the order of day and month is part of the step.
    let cfg = station_normalising(&dir, "[\"date\"]\ndate_order = \"month_first\"");
    let day_first = STUDY.replace(
        "key = [{ name = \"patient_id\" }]",
        "key = [{ name = \"patient_id\", normalise = [\"date\"], date_order = \"day_first\" }]",
    );
    let r = reasons(cfg.evaluate(&study(&dir, &day_first)));
    assert!(
        r[0].contains(
            "as [date (day_first)], but this station normalises it as [date \
                       (month_first)]"
        ),
        "{r:?}"
    );
}

/// Per-station row counts reach recipients only where every station allows it: a study
/// asking for them (`[disclosure] counts = true`) is refused by the rule `allow_counts`
/// unless the policy allows them.
#[test]
fn counts_for_recipients_need_consent() {
    let s = STUDY.replace("min_rows = 100", "min_rows = 100\ncounts = true");
    refused_by(
        POLICY,
        &s,
        "counts",
        "allow_counts",
        "[disclosure] counts = true",
    );
    let dir = folder("counts-ok");
    let cfg = station(&dir, &format!("{POLICY}allow_counts = true\n"));
    assert!(matches!(
        cfg.evaluate(&study(&dir, &s)),
        Decision::NeedsPerson { .. }
    ));
}

/// A researcher who keeps every row of the registry (`[linkage] keep`, a left join) would
/// learn the registry's row count from any analysis' number of rows: the registry refuses
/// unless its policy allows counts; a station whose rows are not kept is not asked.
#[test]
fn keeping_every_row_of_a_station_needs_its_consent_to_counts() {
    let s = STUDY.replace(
        "key = [{ name = \"patient_id\" }]",
        "key = [{ name = \"patient_id\" }]\nkeep = \"registry\"",
    );
    refused_by(POLICY, &s, "keep", "allow_counts", "keep = \"registry\"");
    let dir = folder("keep-ok");
    let cfg = station(&dir, &format!("{POLICY}allow_counts = true\n"));
    assert!(matches!(
        cfg.evaluate(&study(&dir, &s)),
        Decision::NeedsPerson { .. }
    ));
    let gp = s.replace("keep = \"registry\"", "keep = \"gp\"");
    let dir = folder("keep-gp");
    let cfg = station(&dir, POLICY);
    assert!(matches!(
        cfg.evaluate(&study(&dir, &gp)),
        Decision::NeedsPerson { .. }
    ));
}

#[test]
fn unapproved_recipient() {
    let s = STUDY.replace(
        "[recipients.researcher]",
        "[recipients.researcher]\n[recipients.journalist]",
    );
    refused_by(POLICY, &s, "recipient", "recipients", "`journalist`");
}

#[test]
fn recipient_by_fingerprint() {
    // The policy names the recipient only by its certificate.
    let p = POLICY.replace(
        "recipients = [\"researcher\"]",
        &format!("recipients = [\"{RESEARCHER_FP}\"]"),
    );
    refused_by(&p, STUDY, "fp-none", "recipients", "gives no fingerprint");
    let dir = folder("fp-ok");
    let with_fp = STUDY.replace(
        "[recipients.researcher]",
        &format!("[recipients.anyname]\nfingerprint = \"{RESEARCHER_FP}\""),
    );
    let cfg = station(&dir, &p);
    assert!(matches!(
        cfg.evaluate(&study(&dir, &with_fp)),
        Decision::NeedsPerson { .. }
    ));
}

#[test]
fn analysis_kind_not_allowed() {
    let s = format!(
        "{STUDY}\n[[analysis]]\nname = \"fit\"\nkind = \"ols\"\noutcome = \"registry.age\"\ncovariates = [\"gp.smoker\"]\n"
    );
    refused_by(POLICY, &s, "kind", "analyses", "analysis `fit` is a ols");
}

#[test]
fn min_counts_weaker_than_policy() {
    let s = STUDY.replace("min_rows = 100", "min_rows = 20");
    refused_by(
        POLICY,
        &s,
        "minrows",
        "min_rows",
        "= 20 is below this station's minimum 50",
    );
    let s = STUDY.replace("min_cell = 10", "min_cell = 3");
    refused_by(
        POLICY,
        &s,
        "mincell",
        "min_cell",
        "= 3 is below this station's minimum 10",
    );
    let s = STUDY.replace("min_level_rows = 5", "min_level_rows = 1");
    refused_by(POLICY, &s, "minlevel", "min_level_rows", "= 1 is below");
    // Values the study leaves to a default below a floor must be written out (every
    // station computes with the study's rules as written); the floor says how much.
    let dir = folder("minunset");
    let cfg = station(&dir, POLICY);
    let s = study(
        &dir,
        &STUDY.replace(
            "[disclosure]\nmin_rows = 100\nmin_cell = 10\nmin_level_rows = 5\n",
            "",
        ),
    );
    match cfg.evaluate(&s) {
        Decision::Refuse { reasons } => {
            for want in [
                "min_rows: write min_rows = 50",
                "min_cell: write min_cell = 10",
                "min_level_rows: write min_level_rows = 5",
            ] {
                assert!(reasons.iter().any(|r| r.starts_with(want)), "{reasons:?}");
            }
            assert_eq!(reasons.len(), 3, "{reasons:?}");
        }
        other => panic!("{other:?}"),
    }
    let d = cfg.effective_disclosure(&s);
    assert_eq!(d.min_rows, 50);
    assert_eq!(d.min_level_rows, 5);
    assert_eq!(d.min_cell, Some(10));
}

#[test]
fn event_times_and_extremes_need_consent() {
    let s = STUDY.replace("min_rows = 100", "min_rows = 100\nallow_event_times = true");
    refused_by(
        POLICY,
        &s,
        "eventtimes",
        "allow_event_times",
        "every event time",
    );
    let p = format!("{POLICY}allow_event_times = true\n");
    let dir = folder("eventtimes-ok");
    let cfg = station(&dir, &p);
    let st = study(&dir, &s);
    assert!(matches!(cfg.evaluate(&st), Decision::NeedsPerson { .. }));
    assert!(cfg.effective_disclosure(&st).allow_event_times);
}

#[test]
fn unknown_column() {
    let s = STUDY.replace(
        "age = \"numeric\"\n",
        "age = \"numeric\"\nweight = \"numeric\"\n",
    );
    refused_by(POLICY, &s, "unknown", "unknown_column", "`weight`");
    let s = STUDY.replacen("key = [\"patient_id\"]", "key = [\"nhs_number\"]", 1);
    refused_by(
        POLICY,
        &s,
        "unknownkey",
        "unknown_column",
        "key column `nhs_number`",
    );
}

#[test]
fn schema_mismatch_and_key_columns() {
    let s = STUDY.replace(
        "age = \"numeric\"\n",
        "age = { type = \"categorical\", levels = [\"young\", \"old\"] }\n",
    );
    refused_by(
        POLICY,
        &s,
        "schema",
        "schema",
        "`age` of data.registry is categorical in the study but numeric",
    );
    let s = STUDY.replace(
        "age = \"numeric\"\n",
        "age = \"numeric\"\npatient_id = \"numeric\"\n",
    );
    refused_by(
        POLICY,
        &s,
        "keyshared",
        "schema",
        "`patient_id` of data.registry is a linkage key",
    );
}

#[test]
fn untrusted_party_and_wrong_fingerprint() {
    let s = STUDY.replace(
        "[parties.institute]\ncompute = 2",
        "[parties.stranger]\ncompute = 2",
    );
    refused_by(POLICY, &s, "untrusted", "trusted", "`stranger`");
    let s = STUDY.replace(
        "[parties.gp]\ncompute = 1",
        &format!("[parties.gp]\ncompute = 1\nfingerprint = \"{RESEARCHER_FP}\""),
    );
    refused_by(
        POLICY,
        &s,
        "wrongfp",
        "trusted",
        "party `gp` has a fingerprint other",
    );
    // The right fingerprint is fine.
    let dir = folder("rightfp");
    let s = STUDY.replace(
        "[parties.gp]\ncompute = 1",
        &format!("[parties.gp]\ncompute = 1\nfingerprint = \"{GP_FP}\""),
    );
    assert!(matches!(
        station(&dir, POLICY).evaluate(&study(&dir, &s)),
        Decision::NeedsPerson { .. }
    ));
}

#[test]
fn a_study_without_this_station() {
    let dir = folder("notme");
    let mut p = POLICY.to_string();
    p.push('\n');
    let toml = station_toml(&p).replace(
        "name = \"registry\"\nidentity",
        "name = \"hospital\"\nidentity",
    );
    let cfg = tessera_station::config::parse("station.toml", &toml, &dir).unwrap();
    let r = reasons(cfg.evaluate(&study(&dir, STUDY)));
    assert!(r[0].starts_with("station: "), "{r:?}");
}

#[test]
fn every_violation_is_listed() {
    let s = STUDY
        .replace(
            "[recipients.researcher]",
            "[recipients.researcher]\n[recipients.press]",
        )
        .replace("min_rows = 100", "min_rows = 5")
        .replace(
            "age = \"numeric\"\n",
            "age = \"numeric\"\npostcode = { type = \"categorical\", levels = [\"a\", \"b\"] }\n",
        );
    let dir = folder("many");
    let r = reasons(station(&dir, POLICY).evaluate(&study(&dir, &s)));
    let rules: Vec<&str> = r.iter().map(|x| x.split(':').next().unwrap()).collect();
    assert_eq!(
        rules,
        ["recipients", "disallowed_columns", "min_rows"],
        "{r:?}"
    );
}

const AUTO: &str = r#"
[[policy.auto_approve]]
name = "km-only"
recipients = ["researcher"]
kinds = ["kaplan_meier"]

[[policy.auto_approve]]
name = "small-models"
recipients = ["researcher"]
kinds = ["kaplan_meier", "cox"]
max_covariates = 3
"#;

#[test]
fn auto_approval_by_the_first_rule_that_covers_the_study() {
    let dir = folder("auto");
    let cfg = station(&dir, &format!("{POLICY}{AUTO}"));
    assert_eq!(
        cfg.evaluate(&study(&dir, STUDY)),
        Decision::Approve {
            rule: "small-models".into()
        }
    );
    // Without the Cox model, the first rule applies.
    let km_only = STUDY.split("[[analysis]]\nname = \"cox\"").next().unwrap();
    assert_eq!(
        cfg.evaluate(&study(&dir, km_only)),
        Decision::Approve {
            rule: "km-only".into()
        }
    );
}

#[test]
fn too_many_covariates_needs_a_person() {
    let dir = folder("auto-person");
    let cfg = station(&dir, &format!("{POLICY}{AUTO}"));
    let s = STUDY.replace(
        "[\"registry.age\", \"registry.stage\", \"gp.smoker\"]",
        "[\"registry.age\", \"registry.stage\", \"gp.smoker\", \"registry.time\"]",
    );
    match cfg.evaluate(&study(&dir, &s)) {
        Decision::NeedsPerson { why } => {
            assert!(
                why.contains("km-only: analysis `cox` is a cox, not listed"),
                "{why}"
            );
            assert!(
                why.contains("small-models: analysis `cox` has 4 covariates, at most 3"),
                "{why}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn refusal_wins_over_auto_approval() {
    let dir = folder("auto-refuse");
    let cfg = station(&dir, &format!("{POLICY}{AUTO}"));
    let s = STUDY.replace("min_rows = 100", "min_rows = 10");
    assert!(matches!(
        cfg.evaluate(&study(&dir, &s)),
        Decision::Refuse { .. }
    ));
}

#[test]
fn effective_disclosure_is_the_stricter() {
    let dir = folder("effective");
    let p = POLICY.replace("disallowed_columns = [\"postcode\"]", "allowed_columns = [\"time\", \"event\", \"stage\", \"age\"]\ndisallowed_columns = [\"postcode\"]");
    let cfg = station(&dir, &p);
    let st = study(
        &dir,
        &STUDY
            .replace("min_cell = 10", "min_cell = 12")
            .replace("min_level_rows = 5", "min_level_rows = 8"),
    );
    let d = cfg.effective_disclosure(&st);
    assert_eq!(d.min_rows, 100); // the study's, stricter
    assert_eq!(d.min_cell, Some(12));
    assert_eq!(d.min_level_rows, 8);
    assert_eq!(d.disallowed_columns, vec!["registry.postcode".to_string()]);
    // min_cell left to the analyses' defaults (5 tables, 10 survival) under a floor of 7:
    // 10 everywhere, at least as strict as both.
    let p7 = POLICY.replace("min_cell = 10", "min_cell = 7");
    let cfg7 = station(&dir, &p7);
    let st = study(&dir, &STUDY.replace("min_cell = 10\n", ""));
    assert_eq!(cfg7.effective_disclosure(&st).min_cell, Some(10));
    let p5 = POLICY.replace("min_cell = 10", "min_cell = 5");
    assert_eq!(station(&dir, &p5).effective_disclosure(&st).min_cell, None);
    let p20 = POLICY.replace("min_cell = 10", "min_cell = 20");
    assert_eq!(
        station(&dir, &p20).effective_disclosure(&st).min_cell,
        Some(20)
    );
}

#[test]
fn source_chosen_by_name() {
    let dir = folder("sources");
    std::fs::write(dir.join("cases"), "").unwrap();
    let two = station_toml(POLICY).replace(
        "[sources.cases]",
        "[sources.other]\nkind = \"csv\"\nfile = \"gp.csv\"\ncolumns = { x = \"numeric\" }\n\n[sources.cases]",
    );
    let cfg = tessera_station::config::parse("station.toml", &two, &dir).unwrap();
    // `file = "registry.csv"` names no source, and there are two.
    let r = reasons(cfg.evaluate(&study(&dir, STUDY)));
    assert!(
        r[0].starts_with("sources: data.registry.file `registry.csv` names no source"),
        "{r:?}"
    );
    // `file = "cases"` names one.
    let named = STUDY.replace("file = \"registry.csv\"", "file = \"cases\"");
    assert!(matches!(
        cfg.evaluate(&study(&dir, &named)),
        Decision::NeedsPerson { .. }
    ));
}

/// Issue 13: studies of 17,205 analyses, 259,999 grid times or 200,000 levels were approved
/// by rule. Validation caps them (`Limits::DEFAULT`); a policy lowers each cap, and a study
/// over it is refused by the rule's name, even where an automatic rule would approve it.
#[test]
fn caps_lowered_by_the_policy() {
    let times: Vec<String> = (1..=40).map(|i| i.to_string()).collect();
    let grid = STUDY.replace(
        "group = \"registry.stage\"\n",
        &format!(
            "group = \"registry.stage\"\ntimes = [{}]\n",
            times.join(", ")
        ),
    );
    let capped = |rule: &str| POLICY.replace("min_rows = 50", &format!("min_rows = 50\n{rule}"));
    // Within the defaults and with an automatic rule: approved.
    let dir = folder("caps-default");
    let cfg = station(&dir, &format!("{POLICY}{AUTO}"));
    assert!(matches!(
        cfg.evaluate(&study(&dir, &grid)),
        Decision::Approve { .. }
    ));
    let auto = |rule: &str| format!("{}{AUTO}", capped(rule));
    refused_by(
        &auto("max_grid_times = 30"),
        &grid,
        "caps-grid",
        "max_grid_times",
        "analysis \"km\" field times: 40 grid times, this station allows at most 30",
    );
    refused_by(
        &auto("max_analyses = 1"),
        STUDY,
        "caps-analyses",
        "max_analyses",
        "2 analyses, this station allows at most 1",
    );
    refused_by(
        &auto("max_levels = 3"),
        STUDY,
        "caps-levels",
        "max_levels",
        "column `stage` field levels: 4 levels",
    );
    refused_by(
        &auto("max_covariates = 4"),
        STUDY,
        "caps-covariates",
        "max_covariates",
        "analysis \"cox\" field covariates: 5 model terms",
    );
    let describe = format!(
        "{STUDY}\n[[analysis]]\nname = \"d\"\nkind = \"describe\"\ncolumns = [\"registry.age\"]\n\
         quantiles = [0.1, 0.5, 0.9]\nhistogram = [0, 50, 100]\n"
    );
    let p = capped("max_quantiles = 2").replace("\"cox\"]", "\"cox\", \"describe\"]");
    refused_by(
        &p,
        &describe,
        "caps-quantiles",
        "max_quantiles",
        "3 distinct quantiles of column `registry.age`",
    );
    let p = capped("max_histogram_edges = 2").replace("\"cox\"]", "\"cox\", \"describe\"]");
    refused_by(
        &p,
        &describe,
        "caps-edges",
        "max_histogram_edges",
        "3 histogram edges",
    );
}

/// A policy may only lower a cap: above the default (or zero) is a configuration error.
#[test]
fn caps_above_the_defaults_are_a_configuration_error() {
    let dir = folder("caps-config");
    for bad in ["max_grid_times = 501", "max_analyses = 0"] {
        let text = station_toml(&POLICY.replace("min_rows = 50", &format!("min_rows = 50\n{bad}")));
        let err = tessera_station::config::parse("station.toml", &text, &dir)
            .unwrap_err()
            .to_string();
        let field = bad.split(' ').next().unwrap();
        assert!(
            err.contains(&format!(
                "[policy] field {field}: between 1 and the default"
            )),
            "{err}"
        );
    }
}

/// `min_events` (Kaplan–Meier: events between two shown grid times) is a floor like the
/// other counts: a study below it is refused, one that leaves it to the default (5) below
/// the floor must write it out, and the effective rules take the larger.
#[test]
fn min_events_floor() {
    let p = POLICY.replace("min_rows = 50", "min_rows = 50\nmin_events = 8");
    let s = STUDY.replace("min_rows = 100", "min_rows = 100\nmin_events = 6");
    refused_by(
        &p,
        &s,
        "minevents",
        "min_events",
        "= 6 is below this station's minimum 8",
    );
    refused_by(
        &p,
        STUDY,
        "minevents-unset",
        "min_events",
        "write min_events = 8",
    );
    let dir = folder("minevents-ok");
    let cfg = station(&dir, &p);
    let s = study(
        &dir,
        &STUDY.replace("min_rows = 100", "min_rows = 100\nmin_events = 12"),
    );
    assert!(matches!(cfg.evaluate(&s), Decision::NeedsPerson { .. }));
    assert_eq!(cfg.effective_disclosure(&s).min_events, 12);
    assert_eq!(study(&dir, STUDY).disclosure.min_events, 5);
}

/// A researcher may not lower the disclosure rules below the analyses' defaults at a
/// station whose steward set no floor: `min_events = 0` let a 500-time grid walk every
/// event time, `min_cell = 1` showed single patients. The defaults (5 and 5) are the floors
/// then; a steward who wants lower writes it in `[policy]`.
#[test]
fn a_study_cannot_lower_the_defaults_at_a_station_without_floors() {
    // The standard policy without floors for these two.
    let bare = POLICY.replace("min_cell = 10\n", "");
    assert!(!bare.contains("min_events") && !bare.contains("min_cell"));
    for (rule, line, want) in [
        (
            "min_events",
            "min_events = 0",
            "= 0 is below this station's minimum 5",
        ),
        (
            "min_cell",
            "min_cell = 1",
            "= 1 is below this station's minimum 5",
        ),
    ] {
        let s = STUDY
            .replace("min_cell = 10\n", "")
            .replace("min_rows = 100", &format!("min_rows = 100\n{line}"));
        refused_by(&bare, &s, &format!("defaults-{rule}"), rule, want);
    }
    // A steward's own lower floor allows it.
    let p = bare.replace("min_rows = 50", "min_rows = 50\nmin_events = 0");
    let dir = folder("defaults-lowered");
    let cfg = station(&dir, &p);
    let s = study(
        &dir,
        &STUDY.replace("min_rows = 100", "min_rows = 100\nmin_events = 0"),
    );
    assert!(!matches!(cfg.evaluate(&s), Decision::Refuse { .. }));
}

/// `text` as the registry reads a submitted study (its data files are the stations' own).
fn received(text: &str) -> tessera_study::Study {
    tessera_study::validate::parse_at_station("study.toml", text, "registry").unwrap()
}

/// A second source of the registry, not published (`publish` not given), with declared
/// levels and a column the policy disallows; the `cases` source is published.
const HIDDEN: &str = r#"
[sources.hidden]
kind = "csv"
file = "hidden.csv"
columns = { patient_id = "key", time = "numeric", event = "binary", age = "numeric", stage = "categorical", hiv_status = "categorical", viral_load = "numeric", cd4 = "numeric" }

[sources.hidden.levels]
hiv_status = ["negative", "positive"]
"#;

/// What an unpublished source declares and no study below writes: a researcher's refusal
/// must show none of it.
const HIDDEN_SECRETS: [&str; 4] = ["cd4", "\"negative\"", "declared:", "numeric in source"];

/// The registry with `cases` published and `hidden` not; `viral_load` (of `hidden` only)
/// disallowed.
fn with_hidden(dir: &std::path::Path) -> tessera_station::Config {
    std::fs::write(dir.join("hidden.csv"), "").unwrap();
    let policy = POLICY.replace(
        "disallowed_columns = [\"postcode\"]",
        "disallowed_columns = [\"postcode\", \"viral_load\"]",
    );
    let text = station_toml(&format!("{policy}{HIDDEN}"))
        .replace("[sources.cases]\n", "[sources.cases]\npublish = true\n");
    tessera_station::config::parse("station.toml", &text, dir).unwrap()
}

/// The standard study reading source `file` of the registry, with columns probing `hidden`:
/// a level spelled otherwise, a numeric column as categorical (and disallowed), a column no
/// source declares.
fn probing(file: &str) -> String {
    STUDY
        .replace("file = \"registry.csv\"", &format!("file = \"{file}\""))
        .replace(
            "stage = { type = \"categorical\", levels = [\"1\", \"2\", \"3\", \"4\"] }\n",
            "stage = { type = \"categorical\", levels = [\"1\", \"2\", \"3\", \"4\"] }\n\
             hiv_status = { type = \"categorical\", levels = [\"neg\", \"positive\"] }\n\
             viral_load = { type = \"categorical\", levels = [\"low\", \"high\"] }\n\
             cd5 = \"numeric\"\n",
        )
}

/// A researcher probing an unpublished source by submitting studies: the steward reads every
/// reason (the source, its levels, types, disallowed columns); the researcher reads that the
/// study names no published source, exactly as for a source that does not exist, and nothing
/// of what the unpublished source declares. The verdict is the same for both.
#[test]
fn an_unpublished_source_is_not_named_to_researchers() {
    use tessera_station::policy::Audience;
    let dir = folder("unpublished");
    let cfg = with_hidden(&dir);
    let probe = received(&probing("hidden"));

    let full = reasons(cfg.evaluate(&probe));
    assert_eq!(
        cfg.evaluate_for(&probe, Audience::Steward),
        cfg.evaluate(&probe)
    );
    let all = full.join("\n");
    for want in [
        "levels: column `hiv_status` of data.registry lists level \"neg\", which source \
         `hidden` does not declare (declared: \"negative\", \"positive\")",
        "schema: column `viral_load` of data.registry is categorical in the study but numeric \
         in source `hidden`",
        "disallowed_columns: column `viral_load` of data.registry may not be shared",
        "unknown_column: column `cd5` of data.registry is not declared by source `hidden`",
    ] {
        assert!(all.contains(want), "no {want:?} in {full:?}");
    }

    let shown = reasons(cfg.evaluate_for(&probe, Audience::Researcher));
    assert_eq!(
        shown,
        [
            "sources: data.registry.file `hidden` names no published source of this station \
          (published sources: cases)"
        ],
        "{shown:?}"
    );
    // Word for word what a source that does not exist gets.
    let nosuch = received(&probing("nosuch"));
    let other = reasons(cfg.evaluate_for(&nosuch, Audience::Researcher));
    assert_eq!(
        shown.join("\n").replace("`hidden`", "`X`"),
        other.join("\n").replace("`nosuch`", "`X`")
    );
    for secret in HIDDEN_SECRETS {
        assert!(!other.join("\n").contains(secret), "{secret} in {other:?}");
    }

    // A study that fits the unpublished source is not refused, for anyone: publishing is
    // about what is shown, not what may be used.
    let fits = received(&STUDY.replace("file = \"registry.csv\"", "file = \"hidden\""));
    for audience in [Audience::Steward, Audience::Researcher] {
        assert!(
            matches!(
                cfg.evaluate_for(&fits, audience),
                Decision::NeedsPerson { .. }
            ),
            "{audience:?}"
        );
    }
}

/// A study of the published source naming a column only the unpublished source declares
/// (and the policy disallows): the researcher is told the column is not declared by the
/// published source, not that the policy has a rule about it; what the catalogue's check
/// says before submission is what the submission is told.
#[test]
fn rules_about_unpublished_columns_are_not_named_to_researchers() {
    use tessera_station::catalogue::Catalogue;
    use tessera_station::policy::Audience;
    let dir = folder("unpublished-rules");
    let cfg = with_hidden(&dir);
    // (A grid for Kaplan–Meier: the catalogue's check also puts it to the computation's.)
    let text = STUDY
        .replace(
            "group = \"registry.stage\"\n",
            "group = \"registry.stage\"\ntimes = [365]\n",
        )
        .replace("file = \"registry.csv\"", "file = \"cases\"")
        .replace(
            "age = \"numeric\"\n",
            "age = \"numeric\"\nviral_load = \"numeric\"\n",
        );
    let s = received(&text);
    let full = reasons(cfg.evaluate(&s));
    assert!(
        full.iter()
            .any(|r| r.starts_with("disallowed_columns: column `viral_load`")),
        "{full:?}"
    );
    let shown = reasons(cfg.evaluate_for(&s, Audience::Researcher));
    assert_eq!(
        shown,
        [
            "unknown_column: column `viral_load` of data.registry is not declared by source \
             `cases`"
        ],
        "{shown:?}"
    );
    // The catalogue's check (which knows only the published source) words it alike.
    let check = Catalogue::of(&cfg, &[1u8; 32]).check(&s).unwrap();
    assert_eq!(check.refused, shown);

    // Levels of a published source are the catalogue's: named to the researcher too.
    let levels = text.replace("viral_load = \"numeric\"\n", "");
    let cfg_levels = tessera_station::config::parse(
        "station.toml",
        &station_toml(&format!(
            "{POLICY}{HIDDEN}\n[sources.cases.levels]\nstage = [\"1\", \"2\", \"3\"]\n"
        ))
        .replace("[sources.cases]\n", "[sources.cases]\npublish = true\n"),
        &dir,
    )
    .unwrap();
    let s = received(&levels);
    let shown = reasons(cfg_levels.evaluate_for(&s, Audience::Researcher));
    assert_eq!(shown, reasons(cfg_levels.evaluate(&s)));
    assert!(
        shown[0].contains("(declared: \"1\", \"2\", \"3\")"),
        "{shown:?}"
    );
    assert_eq!(
        Catalogue::of(&cfg_levels, &[1u8; 32])
            .check(&s)
            .unwrap()
            .refused,
        shown
    );
}

/// A station whose only source is unpublished reads it whatever `file` a study names; a
/// researcher's refusal still names neither the source nor its declared levels.
#[test]
fn the_only_source_unpublished_is_not_named_to_researchers() {
    use tessera_station::policy::Audience;
    let dir = folder("unpublished-only");
    let text = station_toml(&format!(
        "{POLICY}\n[sources.cases.levels]\nstage = [\"1\", \"2\", \"3\"]\n"
    ));
    let cfg = tessera_station::config::parse("station.toml", &text, &dir).unwrap();
    let s = received(STUDY);
    let full = reasons(cfg.evaluate(&s));
    assert!(full.join("\n").contains("source `cases`"), "{full:?}");
    let shown = reasons(cfg.evaluate_for(&s, Audience::Researcher));
    assert_eq!(
        shown,
        [
            "sources: data.registry.file `registry.csv` names no published source of this \
          station (published sources: none)"
        ],
        "{shown:?}"
    );
}

/// A researcher asks for the Kaplan–Meier median (`median = true`, event times) at a
/// station whose rules do not allow event times: `tessera study check` (the catalogue's
/// check) refuses it before anything runs, naming the rule and what to do; with
/// `allow_event_times` in the study and the policy it passes.
#[test]
fn a_median_needs_allow_event_times() {
    use tessera_station::catalogue::Catalogue;
    let dir = folder("median");
    let cfg = station(&dir, POLICY);
    let text = STUDY.replace(
        "group = \"registry.stage\"\n",
        "group = \"registry.stage\"\nmedian = true\n",
    );
    let check = Catalogue::of(&cfg, &[1u8; 32])
        .check(&received(&text))
        .unwrap();
    let km: Vec<&String> = check
        .refused
        .iter()
        .filter(|r| r.starts_with("kaplan_meier: analysis `km`"))
        .collect();
    assert_eq!(km.len(), 1, "{:?}", check.refused);
    assert!(km[0].contains("allow_event_times"), "{km:?}");
    assert!(km[0].contains("drop `median = true`"), "{km:?}");
    let allowed = text.replace("min_rows = 100", "min_rows = 100\nallow_event_times = true");
    let cfg = station(&dir, &format!("{POLICY}allow_event_times = true\n"));
    let check = Catalogue::of(&cfg, &[1u8; 32])
        .check(&received(&allowed))
        .unwrap();
    assert!(
        !check.refused.iter().any(|r| r.starts_with("kaplan_meier")),
        "{:?}",
        check.refused
    );
}

/// A disallowed column hidden inside a model term (a product, `a*b`, `num(...)`) is refused
/// with the same rule and wording as the plain column (the steward's reasons; the
/// researcher's are the next test's); the analysis reads it (`columns()`), so the
/// computation's column rules refuse it too.
#[test]
fn a_disallowed_column_inside_a_term_is_refused_as_the_column() {
    use tessera_station::policy::Audience;
    let dir = folder("terms-disallowed");
    let cfg = station(&dir, POLICY);
    let declared = STUDY.replace(
        "age = \"numeric\"\n",
        "age = \"numeric\"\npostcode = { type = \"categorical\", levels = [\"1\", \"2\"] }\n",
    );
    let with = |term: &str| {
        declared.replace(
            "covariates = [\"registry.age\", \"registry.stage\", \"gp.smoker\"]",
            &format!("covariates = [\"registry.age\", {term:?}, \"gp.smoker\"]"),
        )
    };
    let plain = study(&dir, &with("registry.postcode"));
    for term in [
        "registry.age:registry.postcode",
        "gp.smoker*registry.postcode",
        "num(registry.postcode)",
    ] {
        let s = study(&dir, &with(term));
        let r = reasons(cfg.evaluate_for(&s, Audience::Steward));
        assert_eq!(
            r,
            reasons(cfg.evaluate_for(&plain, Audience::Steward)),
            "{term}"
        );
        assert!(
            r.iter()
                .any(|x| x.starts_with("disallowed_columns: column `postcode`")),
            "{term}: {r:?}"
        );
        let cox = &s.analyses[1].spec;
        assert!(cox.columns().contains(&"registry.postcode"), "{term}");
        let d = cfg.effective_disclosure(&s);
        let e = d.check_columns(&cox.columns()).unwrap_err().to_string();
        assert!(e.contains("disallowed_columns"), "{term}: {e}");
    }
}

/// A column only an unpublished source declares, used only inside a product: the researcher
/// reads exactly what the plain column gets (not declared by the published source), nothing
/// of the policy's rule about it.
#[test]
fn an_unpublished_column_inside_a_term_is_not_named_to_researchers() {
    use tessera_station::policy::Audience;
    let dir = folder("terms-unpublished");
    let cfg = with_hidden(&dir);
    let text = |covariate: &str| {
        STUDY
            .replace("file = \"registry.csv\"", "file = \"cases\"")
            .replace(
                "age = \"numeric\"\n",
                "age = \"numeric\"\nviral_load = \"numeric\"\n",
            )
            .replace(
                "covariates = [\"registry.age\", \"registry.stage\", \"gp.smoker\"]",
                &format!("covariates = [\"registry.age\", {covariate:?}]"),
            )
    };
    let plain = reasons(cfg.evaluate_for(
        &received(&text("registry.viral_load")),
        Audience::Researcher,
    ));
    let hidden = reasons(cfg.evaluate_for(
        &received(&text("registry.age:registry.viral_load")),
        Audience::Researcher,
    ));
    assert_eq!(hidden, plain);
    assert!(
        hidden.join("\n").contains("not declared by source `cases`")
            && !hidden.join("\n").contains("disallowed"),
        "{hidden:?}"
    );
}

/// The standard study with a follow-up derived from the registry's `diagnosis_date` and the
/// GP's `death_date`: the registry's date is read only inside `[followup]`.
fn followup_study() -> String {
    STUDY
        .replace(
            "age = \"numeric\"\n",
            "age = \"numeric\"\ndiagnosis_date = \"date\"\n",
        )
        .replace(
            "smoker = \"binary\"\n",
            "smoker = \"binary\"\ndeath_date = \"date\"\n\n[followup.os]\n\
             start = \"registry.diagnosis_date\"\nevent_date = \"gp.death_date\"\n\
             end = \"2024-12-31\"\nunit = \"months\"\n",
        )
        .replace(
            "name = \"km\"\nkind = \"kaplan_meier\"\ntime = \"registry.time\"\n\
             event = \"registry.event\"",
            "name = \"km\"\nkind = \"kaplan_meier\"\ntime = \"os.time\"\nevent = \"os.event\"",
        )
}

/// The registry's configuration with `diagnosis_date` declared `kind` in its source
/// (`None`: not declared).
fn station_with_date(dir: &std::path::Path, policy: &str, kind: Option<&str>) -> Config {
    let mut text = station_toml(policy);
    if let Some(k) = kind {
        text = text.replace(
            "postcode = \"categorical\" }",
            &format!("postcode = \"categorical\", diagnosis_date = \"{k}\" }}"),
        );
    }
    tessera_station::config::parse("station.toml", &text, dir).unwrap()
}

#[test]
fn dates_used_only_inside_followup_are_columns_of_their_station() {
    let text = followup_study();
    assert!(text.contains("time = \"os.time\"") && text.contains("[followup.os]"));
    let dir = folder("followup");
    let s = study(&dir, &text);
    // Declared as a date and allowed: only a person is needed, as for the standard study.
    let ok = station_with_date(&dir, POLICY, Some("date"));
    assert!(
        matches!(ok.evaluate(&s), Decision::NeedsPerson { .. }),
        "{:?}",
        ok.evaluate(&s)
    );
    // The policy does not let the date be shared: refused, though no analysis names it.
    let p = POLICY.replace("[\"postcode\"]", "[\"postcode\", \"diagnosis_date\"]");
    let r = reasons(station_with_date(&dir, &p, Some("date")).evaluate(&s));
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(
        r[0].starts_with("disallowed_columns: column `diagnosis_date`"),
        "{r:?}"
    );
    let p = POLICY.replace(
        "disallowed_columns = [\"postcode\"]",
        "allowed_columns = [\"patient_id\", \"time\", \"event\", \"age\", \"stage\"]",
    );
    let r = reasons(station_with_date(&dir, &p, Some("date")).evaluate(&s));
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(
        r[0].starts_with("allowed_columns: column `diagnosis_date`"),
        "{r:?}"
    );
    // Not in the source, or not a date there.
    let r = reasons(station_with_date(&dir, POLICY, None).evaluate(&s));
    assert!(
        r[0].starts_with("unknown_column: column `diagnosis_date`"),
        "{r:?}"
    );
    let r = reasons(station_with_date(&dir, POLICY, Some("numeric")).evaluate(&s));
    assert!(
        r[0].contains("column `diagnosis_date` of data.registry is date in the study but numeric"),
        "{r:?}"
    );
}

/// Delayed entry reads a column like any other: a study whose Kaplan–Meier and Cox name
/// `entry = "registry.start"` declares `start`, which this station's source does not
/// publish (refused, naming it), and which a policy can disallow.
#[test]
fn an_entry_column_is_a_column_the_policy_sees() {
    let s = STUDY
        .replace(
            "age = \"numeric\"\n",
            "age = \"numeric\"\nstart = \"numeric\"\n",
        )
        .replace(
            "event = \"registry.event\"\ngroup",
            "event = \"registry.event\"\nentry = \"registry.start\"\ngroup",
        )
        .replace(
            "event = \"registry.event\"\ncovariates",
            "event = \"registry.event\"\nentry = \"registry.start\"\ncovariates",
        );
    assert_eq!(s.matches("entry = \"registry.start\"").count(), 2);
    refused_by(POLICY, &s, "entry-unpublished", "unknown_column", "`start`");
    // Without the declaration the study itself is invalid: the entry names no column.
    let undeclared = s.replace("start = \"numeric\"\n", "");
    let dir = folder("entry-undeclared");
    let err = tessera_study::validate::parse("study.toml", &undeclared, &dir).unwrap_err();
    assert!(err.to_string().contains("start"), "{err}");
}

/// The cluster column of clustered robust errors is a column like any other: a study whose
/// Cox model names `cluster = "registry.site"` declares `site`, which this station's source
/// does not publish (refused, naming it).
#[test]
fn a_cluster_column_is_a_column_the_policy_sees() {
    let s = STUDY
        .replace(
            "age = \"numeric\"\n",
            "age = \"numeric\"\nsite = \"numeric\"\n",
        )
        .replace(
            "event = \"registry.event\"\ncovariates",
            "event = \"registry.event\"\ncluster = \"registry.site\"\ncovariates",
        );
    assert_eq!(s.matches("cluster = \"registry.site\"").count(), 1);
    refused_by(
        POLICY,
        &s,
        "cluster-unpublished",
        "unknown_column",
        "`site`",
    );
}

/// Boosted trees are a kind of their own: refused where the policy does not list
/// `boosted_trees`, and allowed (here: for a person to approve) where it does.
#[test]
fn the_policy_allows_or_refuses_boosted_trees() {
    let s = STUDY.replace(
        "[[analysis]]\nname = \"km\"",
        "[[analysis]]\nname = \"gbdt\"\nkind = \"boosted_trees\"\noutcome = \"registry.event\"\n\
         covariates = [\"registry.age\", \"registry.stage\", \"gp.smoker\"]\ntrees = 20\n\
         depth = 3\n\n[[analysis]]\nname = \"km\"",
    );
    assert!(s.contains("boosted_trees"));
    refused_by(POLICY, &s, "gbdt-refused", "analyses", "boosted_trees");
    let dir = folder("gbdt-allowed");
    let allowing = POLICY.replace("\"cox\"]", "\"cox\", \"boosted_trees\"]");
    let cfg = station(&dir, &allowing);
    match cfg.evaluate(&study(&dir, &s)) {
        Decision::NeedsPerson { why } => assert!(why.contains("no automatic approval rules")),
        other => panic!("{other:?}"),
    }
}
