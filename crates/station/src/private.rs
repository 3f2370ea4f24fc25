//! Files only the station's own account may read: the audit database (approvals, run
//! states, the recipients' token hashes and result shares) and the steward's token. They
//! are created with mode 0600, and a station refuses to start on one that others can read,
//! naming the file and the fix (the identity's key is checked the same way by
//! `tessera_net::identity`).

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Creates `path` (which must not exist) readable and writable by its owner only.
pub fn create(path: &Path) -> io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

/// `Err` with what to do when others than the owner may read or write `path` (Unix; any
/// file passes elsewhere).
pub fn check(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let name = path.display();
        let mode = std::fs::metadata(path)
            .map_err(|e| format!("{name}: cannot inspect: {e}"))?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "{name} can be read or written by others (mode {mode:o}); it holds what decides \
                 who sees results: run `chmod 600 {name}`"
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
