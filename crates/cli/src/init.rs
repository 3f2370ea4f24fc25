//! `tessera init`: creates a station's identity — a private key that never leaves the
//! station's folder and a self-signed certificate — and prints the certificate's fingerprint,
//! which the other stations list to trust this one.

use std::path::PathBuf;

use clap::Args;
use tessera_net::identity::{fingerprint_hex, Identity};

/// Arguments of `tessera init`.
#[derive(Args, Debug)]
pub struct InitArgs {
    /// The station's name, written into its certificate (e.g. "Cancer Registry").
    #[arg(long)]
    pub name: String,
    /// Folder for the identity: station.key (mode 0600) and station.crt are created there.
    /// Existing files are never overwritten.
    #[arg(long)]
    pub out: PathBuf,
}

/// Creates the identity and tells the operator where it is and what to hand out.
pub fn run(args: &InitArgs) -> Result<(), String> {
    let identity = Identity::generate(&args.name).map_err(|e| e.to_string())?;
    let saved = identity.save(&args.out).map_err(|e| e.to_string())?;
    println!("Created the identity of station {:?}:", args.name);
    println!(
        "  private key  {}  (mode 0600; keep it on this machine, never send it)",
        saved.key.display()
    );
    println!("  certificate  {}", saved.cert.display());
    println!("Certificate fingerprint (SHA-256), for the other stations to list:");
    println!("  {}", fingerprint_hex(&identity.fingerprint()));
    Ok(())
}
