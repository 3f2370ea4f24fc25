//! The researcher's profile: the stations' addresses and certificate pins and the
//! researcher's own identity, written once so that `tessera study …` calls need neither
//! `--at`, `--pin` nor `--identity`:
//!
//! ```toml
//! identity = "me"                  # a folder `tessera init` wrote (relative: to this file)
//! default = "registry"             # the station used when --at / --to is left out
//!
//! [stations.registry]
//! at = "registry.example.org:8443"
//! pin = "sha256:…"                 # as the study's [parties.registry] fingerprint
//!
//! [stations.gp]
//! at = "gp.example.org:8443"
//! pin = "sha256:…"
//! ```
//!
//! Where it is read: `--profile FILE`, else `$TESSERA_PROFILE`, else
//! `$XDG_CONFIG_HOME/tessera/profile.toml` (`~/.config/tessera/profile.toml`) when that file
//! exists. What is given on the command line wins: `--at NAME` picks a station of the
//! profile by name, `--at HOST:PORT` takes the pin of the profile's station at that address
//! unless `--pin` is given, and `--identity` replaces the profile's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::connect::StationAddr;

/// The profile as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    /// The researcher's identity folder.
    identity: Option<PathBuf>,
    /// The station used when no address is given.
    default: Option<String>,
    /// The stations by name.
    #[serde(default)]
    stations: BTreeMap<String, Station>,
}

/// One station of the profile.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Station {
    /// Its API address (`host:port`).
    at: String,
    /// Its certificate fingerprint.
    pin: String,
}

/// A loaded profile (with the file it came from, for messages and relative paths).
#[derive(Debug)]
pub struct Profile {
    path: PathBuf,
    file: ProfileFile,
}

/// The default location: `$XDG_CONFIG_HOME/tessera/profile.toml`, or under `~/.config`.
fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("tessera").join("profile.toml"))
}

impl Profile {
    /// The profile named by `--profile`, else by `$TESSERA_PROFILE` (each must exist), else
    /// the one at the default location if there is one; `None` without any.
    pub fn load(given: Option<&Path>) -> Result<Option<Profile>, String> {
        let named = given
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("TESSERA_PROFILE").map(PathBuf::from));
        let path = match named {
            Some(p) => p,
            None => match default_path().filter(|p| p.is_file()) {
                Some(p) => p,
                None => return Ok(None),
            },
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("profile {}: {e}", path.display()))?;
        Self::parse(&path, &text).map(Some)
    }

    /// Reads a profile's text (`path` names it in messages and anchors relative paths).
    pub fn parse(path: &Path, text: &str) -> Result<Profile, String> {
        let file: ProfileFile =
            toml::from_str(text).map_err(|e| format!("profile {}: {e}", path.display()))?;
        if let Some(d) = &file.default {
            if !file.stations.contains_key(d) {
                return Err(format!(
                    "profile {}: default = \"{d}\" names no [stations.{d}]",
                    path.display()
                ));
            }
        }
        Ok(Profile {
            path: path.to_path_buf(),
            file,
        })
    }

    /// The name of the profile's station at `addr`, if there is one (for messages naming a
    /// station rather than an address).
    pub fn name_of(&self, addr: &str) -> Option<&str> {
        self.file
            .stations
            .iter()
            .find(|(_, s)| s.at == addr)
            .map(|(n, _)| n.as_str())
    }

    /// The station to use and how to reach it: `at` (a profile station's name, or an
    /// address) or the profile's default, with the pin and identity from the command line
    /// where given, else from the profile.
    pub fn resolve(
        profile: Option<&Profile>,
        at: Option<&str>,
        given: &StationAddr,
    ) -> Result<(String, StationAddr), String> {
        let named = |name: &str| profile.and_then(|p| p.file.stations.get(name));
        let station = match at {
            Some(a) => named(a)
                .or_else(|| profile.and_then(|p| p.file.stations.values().find(|s| s.at == a))),
            None => match profile {
                Some(p) => match (&p.file.default, p.file.stations.len()) {
                    (Some(d), _) => named(d),
                    (None, 1) => p.file.stations.values().next(),
                    _ => {
                        return Err(format!(
                            "--at is needed: the profile {} has no `default` station",
                            p.path.display()
                        ))
                    }
                },
                None => {
                    return Err(
                        "--at is needed (or a profile naming the stations: --profile FILE, \
                         $TESSERA_PROFILE or ~/.config/tessera/profile.toml)"
                            .into(),
                    )
                }
            },
        };
        let addr = match (station, at) {
            (Some(s), _) => s.at.clone(),
            (None, Some(a)) => a.to_string(),
            (None, None) => unreachable!("no station without an address is returned above"),
        };
        let pin = match (&given.pin, station) {
            (Some(p), _) => p.clone(),
            (None, Some(s)) => s.pin.clone(),
            (None, None) => {
                return Err(format!(
                    "--pin is needed: the station at {addr} is not in {}",
                    profile.map_or("a profile".into(), |p| format!(
                        "the profile {}",
                        p.path.display()
                    ))
                ))
            }
        };
        let identity = given.identity.clone().or_else(|| {
            let p = profile?;
            let id = p.file.identity.as_ref()?;
            Some(match p.path.parent() {
                Some(dir) if id.is_relative() => dir.join(id),
                _ => id.clone(),
            })
        });
        Ok((
            addr,
            StationAddr {
                pin: Some(pin),
                identity,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIN_A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const PIN_B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn profile(text: &str) -> Profile {
        Profile::parse(Path::new("/home/r/.config/tessera/profile.toml"), text).unwrap()
    }

    fn two() -> Profile {
        profile(&format!(
            "identity = \"me\"\ndefault = \"registry\"\n\
             [stations.registry]\nat = \"reg:8443\"\npin = \"{PIN_A}\"\n\
             [stations.gp]\nat = \"gp:8443\"\npin = \"{PIN_B}\"\n"
        ))
    }

    fn none() -> StationAddr {
        StationAddr {
            pin: None,
            identity: None,
        }
    }

    #[test]
    fn names_addresses_and_the_default_resolve_with_their_pins() {
        let p = two();
        let (addr, s) = Profile::resolve(Some(&p), None, &none()).unwrap();
        assert_eq!((addr.as_str(), s.pin.as_deref()), ("reg:8443", Some(PIN_A)));
        assert_eq!(
            s.identity,
            Some(PathBuf::from("/home/r/.config/tessera/me")),
            "relative to the profile"
        );
        let (addr, s) = Profile::resolve(Some(&p), Some("gp"), &none()).unwrap();
        assert_eq!((addr.as_str(), s.pin.as_deref()), ("gp:8443", Some(PIN_B)));
        let (addr, s) = Profile::resolve(Some(&p), Some("gp:8443"), &none()).unwrap();
        assert_eq!((addr.as_str(), s.pin.as_deref()), ("gp:8443", Some(PIN_B)));
    }

    #[test]
    fn the_command_line_wins() {
        let p = two();
        let given = StationAddr {
            pin: Some(PIN_B.into()),
            identity: Some(PathBuf::from("/elsewhere")),
        };
        let (addr, s) = Profile::resolve(Some(&p), Some("registry"), &given).unwrap();
        assert_eq!(addr, "reg:8443");
        assert_eq!(s.pin.as_deref(), Some(PIN_B));
        assert_eq!(s.identity, Some(PathBuf::from("/elsewhere")));
        // An address the profile does not know, with its pin: no profile needed.
        let (addr, s) = Profile::resolve(None, Some("other:1"), &given).unwrap();
        assert_eq!((addr.as_str(), s.pin.as_deref()), ("other:1", Some(PIN_B)));
    }

    #[test]
    fn what_is_missing_is_named() {
        let err = Profile::resolve(None, None, &none()).unwrap_err();
        assert!(err.contains("--at is needed"), "{err}");
        let err = Profile::resolve(Some(&two()), Some("other:1"), &none()).unwrap_err();
        assert!(
            err.contains("--pin is needed: the station at other:1 is not in the profile"),
            "{err}"
        );
        let no_default = profile(&format!(
            "[stations.a]\nat = \"a:1\"\npin = \"{PIN_A}\"\n[stations.b]\nat = \"b:1\"\npin = \"{PIN_B}\"\n"
        ));
        let err = Profile::resolve(Some(&no_default), None, &none()).unwrap_err();
        assert!(err.contains("has no `default` station"), "{err}");
        // One station is the default without saying so.
        let one = profile(&format!("[stations.a]\nat = \"a:1\"\npin = \"{PIN_A}\"\n"));
        assert_eq!(
            Profile::resolve(Some(&one), None, &none()).unwrap().0,
            "a:1"
        );
    }

    #[test]
    fn a_malformed_profile_names_its_file_and_field() {
        let path = Path::new("/p/profile.toml");
        let err = Profile::parse(path, "default = \"x\"\n").unwrap_err();
        assert!(
            err.contains("/p/profile.toml") && err.contains("[stations.x]"),
            "{err}"
        );
        let err = Profile::parse(path, "[stations.a]\nat = \"a:1\"\npn = \"x\"\n").unwrap_err();
        assert!(
            err.contains("/p/profile.toml") && err.contains("pn"),
            "{err}"
        );
        let err = Profile::parse(path, "[stations.a]\nat = \"a:1\"\n").unwrap_err();
        assert!(err.contains("pin"), "{err}");
    }
}
