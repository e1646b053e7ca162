//! Reading files a user names (the reference photo, the background plate, the models and their
//! manifest) so that no file can hang, exhaust or mislead the element:
//! - only regular files: a FIFO, a device (`/dev/zero`), a socket or a folder is refused before
//!   a byte is read. The file is opened non-blocking, so opening a FIFO cannot block either, and
//!   the kind is checked on the opened descriptor, not on the path (no race with a swap);
//! - optionally no symbolic links (the models folder: a link could lead anywhere);
//! - a size cap checked before reading, and enforced while reading (a file that grows);
//! - a time limit: a file on a hung network mount makes `read` block in the kernel. The read
//!   runs on a helper thread and the caller gets an error when the limit passes; the helper is
//!   left to finish or stay blocked on its own (a thread, not the pipeline).

use std::fs::OpenOptions;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long one user file may take to read before the element gives up on it.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum FileError {
    #[error("{path}: cannot read it: {why}")]
    Io { path: PathBuf, why: String },
    #[error("{path}: is {kind}, expected a regular file")]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("{path}: is a symbolic link, expected a regular file inside the folder")]
    Link { path: PathBuf },
    #[error("{path}: {size} bytes, more than the {cap}-byte limit")]
    TooLarge { path: PathBuf, size: u64, cap: u64 },
    #[error("{path}: not read within {} s (a hung or very slow file system?)", .limit.as_secs())]
    TimedOut { path: PathBuf, limit: Duration },
}

/// Whether a symbolic link at the path itself is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    Follow,
    Refuse,
}

fn kind_of(t: std::fs::FileType) -> &'static str {
    if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// The whole of `path`, at most `cap` bytes, within `timeout`.
pub fn read_regular(path: &Path, cap: u64, links: Links, timeout: Duration) -> Result<Vec<u8>, FileError> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let owned = path.to_path_buf();
    let spawned = std::thread::Builder::new().name("garmenttransfer-read".into()).spawn(move || {
        let _ = tx.send(read_now(&owned, cap, links));
    });
    if let Err(e) = spawned {
        return Err(FileError::Io { path: path.to_path_buf(), why: format!("cannot start a reader thread: {e}") });
    }
    match rx.recv_timeout(timeout) {
        Ok(result) => result,
        Err(_) => Err(FileError::TimedOut { path: path.to_path_buf(), limit: timeout }),
    }
}

/// `read_regular` on the calling thread, without a time limit.
pub fn read_now(path: &Path, cap: u64, links: Links) -> Result<Vec<u8>, FileError> {
    let io = |e: std::io::Error| FileError::Io { path: path.to_path_buf(), why: e.to_string() };
    let mut flags = libc::O_NONBLOCK | libc::O_CLOEXEC;
    if links == Links::Refuse {
        // Refuse before opening: O_NOFOLLOW alone reports a link as a cryptic ELOOP.
        if std::fs::symlink_metadata(path).map(|m| m.file_type().is_symlink()).unwrap_or(false) {
            return Err(FileError::Link { path: path.to_path_buf() });
        }
        flags |= libc::O_NOFOLLOW;
    }
    let mut file = OpenOptions::new().read(true).custom_flags(flags).open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.file_type().is_file() {
        return Err(FileError::NotRegular { path: path.to_path_buf(), kind: kind_of(meta.file_type()) });
    }
    if meta.len() > cap {
        return Err(FileError::TooLarge { path: path.to_path_buf(), size: meta.len(), cap });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    (&mut file).take(cap + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > cap {
        // It grew while being read.
        return Err(FileError::TooLarge { path: path.to_path_buf(), size: bytes.len() as u64, cap });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_a_regular_file_without_blocking() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_regular(&fifo, 1 << 20, Links::Follow, READ_TIMEOUT).unwrap_err();
        assert!(matches!(e, FileError::NotRegular { kind: "a FIFO", .. }), "{e}");
        let e = read_regular(Path::new("/dev/zero"), 1 << 20, Links::Follow, READ_TIMEOUT).unwrap_err();
        assert!(e.to_string().contains("/dev/zero: is a character device"), "{e}");
        let e = read_regular(tmp.path(), 1 << 20, Links::Follow, READ_TIMEOUT).unwrap_err();
        assert!(e.to_string().contains("is a folder"), "{e}");

        let file = tmp.path().join("f.bin");
        std::fs::write(&file, vec![7u8; 1000]).unwrap();
        assert_eq!(read_regular(&file, 1000, Links::Refuse, READ_TIMEOUT).unwrap().len(), 1000);
        let e = read_regular(&file, 999, Links::Follow, READ_TIMEOUT).unwrap_err();
        assert_eq!(e, FileError::TooLarge { path: file.clone(), size: 1000, cap: 999 });
        let link = tmp.path().join("link.bin");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(matches!(read_regular(&link, 1000, Links::Refuse, READ_TIMEOUT), Err(FileError::Link { .. })));
        assert_eq!(read_regular(&link, 1000, Links::Follow, READ_TIMEOUT).unwrap().len(), 1000);
    }
}
