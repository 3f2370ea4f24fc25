//! Time, bytes and rounds of shuffle and sort on large tables (three threads in memory).
//! Not a test of correctness beyond a final check; run with
//! `cargo test --release -p tessera-mpc --test shuffle_sort_bench -- --ignored --nocapture`
//! (optionally `TESSERA_ROWS=100000,1000000`).

use std::time::{Duration, Instant};

use tessera_mpc::shuffle::shuffle_bytes;
use tessera_mpc::sort::{sort_bytes, sort_rounds, SortOptions, SortStats};
use tessera_mpc::testing::{input, run3_with_timeout};
use tessera_mpc::{Party, Result, Table};
use tessera_net::Stats;

fn rows() -> Vec<usize> {
    std::env::var("TESSERA_ROWS")
        .ok()
        .map(|s| {
            s.split(',')
                .map(|x| x.trim().parse().expect("row count"))
                .collect()
        })
        .unwrap_or_else(|| vec![100_000, 1_000_000])
}

/// Three Z_2^64 columns: a signed key with duplicates, two payloads.
fn columns(n: usize) -> [Vec<u64>; 3] {
    let key = (0..n as u64)
        .map(|k| (k.wrapping_mul(0x9e37_79b9_7f4a_7c15) % (n as u64 / 2 + 1)) as i64 - n as i64 / 4)
        .map(|k| k as u64)
        .collect();
    let a = (0..n as u64).collect();
    let b = (0..n as u64).map(|k| k ^ 0x5555).collect();
    [key, a, b]
}

fn share(p: &mut Party, c: &[Vec<u64>; 3]) -> Table {
    let cols = c.iter().enumerate().map(|(k, v)| input(p, k, v)).collect();
    Table::new(cols, vec![]).expect("equal lengths")
}

/// Runs `op` once in each party after a barrier; per party: seconds and traffic.
fn measure<T: Send>(
    op: impl Fn(&mut Party, &Table) -> Result<T> + Sync,
    n: usize,
    check: impl Fn(&mut Party, &T) -> Result<()> + Sync,
) -> [(f64, Stats, T); 3] {
    let c = columns(n);
    let r = run3_with_timeout(Duration::from_secs(600), |p| {
        let t = share(p, &c);
        p.barrier()?;
        let (s, t0) = (p.stats(), Instant::now());
        let out = op(p, &t)?;
        let secs = t0.elapsed().as_secs_f64();
        let st = p.stats().since(&s);
        check(p, &out)?;
        Ok((secs, st, out))
    });
    r.map(|x| x.expect("party"))
}

fn line<T>(what: &str, n: usize, r: &[(f64, Stats, T); 3], theory: u64) {
    let secs = r.iter().map(|x| x.0).fold(0.0, f64::max);
    let rounds = r.iter().map(|x| x.1.rounds).max().unwrap_or(0);
    let bytes: Vec<String> = r
        .iter()
        .map(|x| format!("{:.1}", x.1.bytes_sent as f64 / n as f64))
        .collect();
    println!(
        "{what:<26} n={n:>8}  {secs:>8.3} s  bytes/row per party [{}] (theory p0 {:.1})  rounds {rounds}",
        bytes.join(", "),
        theory as f64 / n as f64
    );
}

#[test]
#[ignore]
fn shuffle_and_sort_large_tables() {
    for n in rows() {
        let r = measure(|p, t| p.shuffle(t), n, |_, _| Ok(()));
        line("shuffle 3 x u64", n, &r, shuffle_bytes(0, n, 24));

        for pivots in [1, 2, 3] {
            let opts = SortOptions {
                pivots,
                ..SortOptions::default()
            };
            let r = measure(
                |p, t| {
                    let (s, perm) = p.sort_table(t, 0, opts)?;
                    Ok((s, perm.stats))
                },
                n,
                |p, (s, _): &(Table, SortStats)| {
                    // The keys come out in order (signed), payloads numbered stably.
                    let k = p.reveal(&s.c64[0])?;
                    let a = p.reveal(&s.c64[1])?;
                    for i in 1..k.len() {
                        let (x, y) = (k[i - 1] as i64, k[i] as i64);
                        assert!(x < y || (x == y && a[i - 1] < a[i]), "row {i}");
                    }
                    Ok(())
                },
            );
            let stats = &r[0].2 .1;
            line(
                &format!("sort 3 x u64, {pivots} pivot(s)"),
                n,
                &r,
                sort_bytes(n, 24, stats),
            );
            println!(
                "{:<26} passes {}, comparisons/row {:.2}, width {}, rounds (model) {}",
                "",
                stats.passes.len(),
                stats.comparisons() as f64 / n as f64,
                stats.width,
                sort_rounds(stats)
            );
        }
    }
}
