//! The room left on the file system that holds a folder: the dashboard warns before the data
//! folder fills (a full one stops every backup).

use std::path::Path;

/// A file system's room, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Room {
    /// What this process may still write (without the part kept for root).
    pub free: u64,
    pub total: u64,
}

/// The room of the file system that holds `path` (statvfs(3)).
pub fn room(path: &Path) -> std::io::Result<Room> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    // SAFETY: an all-zero statvfs is a valid value of the plain C struct, filled in below.
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a NUL-terminated string and `stats` a struct statvfs(3) may write.
    if unsafe { libc::statvfs(path.as_ptr(), &mut stats) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let block = stats.f_frsize as u64;
    Ok(Room { free: (stats.f_bavail as u64).saturating_mul(block), total: (stats.f_blocks as u64).saturating_mul(block) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_has_room_and_a_missing_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let room = room(dir.path()).unwrap();
        assert!(room.total > 0 && room.free <= room.total, "{room:?}");
        assert!(super::room(&dir.path().join("not-there")).is_err());
    }
}
