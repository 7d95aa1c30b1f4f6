//! The key files the server keeps for itself in its data folder (`link.key`, `master.key`):
//! made owner-only (0600) from their first byte, never seen half-written, and made
//! owner-only again at start if someone loosened them.

use std::io::{ErrorKind, Write};
use std::path::Path;

/// The key in `path`, made on first use. `decode` reads a key from the file's bytes.
pub fn load_or_create(path: &Path, decode: impl Fn(&[u8]) -> Option<[u8; 32]>) -> std::io::Result<[u8; 32]> {
    let invalid = || std::io::Error::new(ErrorKind::InvalidData, format!("{} does not hold a 32-byte key", path.display()));
    match read_private(path) {
        Ok(bytes) => return decode(&bytes).ok_or_else(invalid),
        Err(error) if error.kind() == ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let fresh: [u8; 32] = rand::random();
    // Written in full under a name of its own, then linked into place (which fails if the key
    // exists): of two servers starting at once, the first key wins and both use it.
    let temporary = path.with_extension(format!("new-{}", hex::encode(rand::random::<[u8; 8]>())));
    let placed = write_new_private(&temporary, &fresh).and_then(|()| std::fs::hard_link(&temporary, path));
    let _ = std::fs::remove_file(&temporary);
    match placed {
        Ok(()) => Ok(fresh),
        Err(error) if error.kind() == ErrorKind::AlreadyExists => decode(&read_private(path)?).ok_or_else(invalid),
        Err(error) => Err(error),
    }
}

/// Creates `path` (it must not exist) readable and writable by the owner only, with `bytes`.
pub fn write_new_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Reads a key file of ours, first taking away what group and others may do with it.
fn read_private(path: &Path) -> std::io::Result<zeroize::Zeroizing<Vec<u8>>> {
    let file = std::fs::File::open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file.metadata()?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(file = %path.display(), mode = format!("{:o}", mode & 0o777), "a key file was readable by other users: made owner-only (0600); take the key as known to them (a new one means entering every saved password and token again)");
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
    }
    let mut bytes = zeroize::Zeroizing::new(Vec::new());
    std::io::Read::read_to_end(&mut &file, &mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_key_file_stops_the_start_and_nothing_is_left_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys").join("link.key");
        let decode = |bytes: &[u8]| bytes.try_into().ok();
        let made = load_or_create(&path, decode).unwrap();
        assert_eq!(load_or_create(&path, decode).unwrap(), made, "made once");
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["link.key"], "no temporary file left");
        std::fs::write(&path, b"short").unwrap();
        assert!(load_or_create(&path, decode).is_err(), "a damaged key is not replaced silently");
    }
}
