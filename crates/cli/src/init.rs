//! `tessera init`: creates a station's (or a researcher's) identity — a private key that never
//! leaves its folder and a self-signed certificate — and prints the certificate's fingerprint,
//! which the other stations list to trust this one. `tessera init --show DIR` prints the
//! fingerprint of an identity made earlier.
//!
//! Fingerprints are printed as `sha256:` and 64 hex digits, the form every file and option
//! of tessera takes (`[[trusted]] fingerprint`, `[policy] recipients`, a study's
//! `[parties.NAME] fingerprint`, `--pin`).

use std::path::PathBuf;

use clap::Args;
use tessera_net::identity::{fingerprint_hex, Identity};

/// Arguments of `tessera init`.
#[derive(Args, Debug)]
pub struct InitArgs {
    /// The station's name as its station.toml `[station] name` will say it, or a
    /// researcher's name as stations list it (a-z, 0-9 and _, e.g. "registry"); written into
    /// the certificate.
    #[arg(long, required_unless_present = "show", conflicts_with = "show")]
    pub name: Option<String>,
    /// Folder for the identity: station.key (mode 0600) and station.crt are created there.
    /// Existing files are never overwritten.
    #[arg(long, required_unless_present = "show", conflicts_with = "show")]
    pub out: Option<PathBuf>,
    /// Print the fingerprint of the identity in this folder (made earlier) and
    /// create nothing.
    #[arg(long, value_name = "DIR")]
    pub show: Option<PathBuf>,
}

/// Creates the identity (or shows one) and tells the operator where it is and what to
/// hand out.
pub fn run(args: &InitArgs) -> Result<(), String> {
    if let Some(dir) = &args.show {
        let identity = Identity::load(dir).map_err(|e| e.to_string())?;
        println!("Identity in {}:", dir.display());
        println!("Certificate fingerprint (SHA-256), for the other stations to list:");
        println!("  sha256:{}", fingerprint_hex(&identity.fingerprint()));
        return Ok(());
    }
    let (Some(name), Some(out)) = (&args.name, &args.out) else {
        return Err("--name and --out are needed (or --show DIR)".to_string());
    };
    if !is_name(name) {
        return Err(format!(
            "--name {name:?}: a station's or researcher's name is made of a-z, 0-9 and _ \
             (as station.toml's [station] name and [[researchers]] name), e.g. {:?}",
            suggest(name)
        ));
    }
    let identity = Identity::generate(name).map_err(|e| e.to_string())?;
    let saved = identity.save(out).map_err(|e| e.to_string())?;
    println!("Created the identity of {name:?}:");
    println!(
        "  private key  {}  (mode 0600; keep it on this machine, never send it)",
        saved.key.display()
    );
    println!("  certificate  {}", saved.cert.display());
    println!("Certificate fingerprint (SHA-256), for the other stations to list:");
    println!("  sha256:{}", fingerprint_hex(&identity.fingerprint()));
    Ok(())
}

/// The names station.toml accepts for stations and researchers.
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// `name` made into an accepted one ("Cancer Registry" → "cancer_registry").
fn suggest(name: &str) -> String {
    let s: String = name
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if s.trim_matches('_').is_empty() {
        "registry".to_string()
    } else {
        s
    }
}
