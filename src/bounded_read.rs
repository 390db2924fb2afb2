//! Reading a file a user named (blueprint, ssh key, API key) without trusting it: regular files
//! only, up to a size limit, and errors that say what the path is, never what it holds.
//!
//! `validate` runs in CI on pull requests, so a path may name `/dev/zero`, a FIFO nobody writes
//! to, a directory or a huge file. The file type is checked before the file is opened for
//! reading; the open itself is non-blocking (a FIFO swapped in after the check cannot hang it),
//! the opened handle is checked again, and at most `limit + 1` bytes are ever read.

use std::fmt;
use std::fs;
use std::io::Read;
use std::path::Path;

/// Why a file was refused. `Display` names the kind of thing found, never its content.
#[derive(Debug)]
pub enum ReadError {
    /// Not there (kept apart so callers can say where they looked).
    NotFound,
    /// Something other than a regular file: "a directory", "a named pipe (FIFO)", ...
    NotRegular(&'static str),
    /// Larger than the limit; `size` is what the file system reported (or what was read).
    TooLarge {
        size: u64,
        limit: u64,
    },
    Io(std::io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::NotFound => write!(f, "no such file"),
            ReadError::NotRegular(kind) => write!(f, "it is {kind}, not a regular file"),
            ReadError::TooLarge { size, limit } => {
                write!(
                    f,
                    "it is {size} bytes, more than the limit of {limit} bytes"
                )
            }
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ReadError {}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::NotFound {
            ReadError::NotFound
        } else {
            ReadError::Io(e)
        }
    }
}

/// What a non-regular file is, in words.
fn kind_of(ft: fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if ft.is_char_device() {
            return "a character device";
        }
        if ft.is_block_device() {
            return "a block device";
        }
        if ft.is_socket() {
            return "a socket";
        }
    }
    if ft.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

fn check(meta: &fs::Metadata, limit: u64) -> Result<(), ReadError> {
    if !meta.is_file() {
        return Err(ReadError::NotRegular(kind_of(meta.file_type())));
    }
    if meta.len() > limit {
        return Err(ReadError::TooLarge {
            size: meta.len(),
            limit,
        });
    }
    Ok(())
}

/// Reads at most `limit` bytes of the regular file at `path` (symlinks followed).
pub fn read(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    // stat first: a device or FIFO is refused without being opened at all.
    check(&fs::metadata(path)?, limit)?;
    let mut opts = fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NONBLOCK);
    }
    let file = opts.open(path)?;
    // The path may have been swapped between the stat and the open: check what was opened.
    check(&file.metadata()?, limit)?;
    let mut buf = Vec::new();
    file.take(limit + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > limit {
        // The file grew after the check.
        return Err(ReadError::TooLarge {
            size: buf.len() as u64,
            limit,
        });
    }
    Ok(buf)
}

/// [`read`] for callers whose errors hold an `io::Error`: "not found" keeps its kind, the
/// other refusals become `InvalidInput` with the same words.
pub fn read_io(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    read(path, limit).map_err(|e| match e {
        ReadError::Io(e) => e,
        ReadError::NotFound => std::io::Error::from(std::io::ErrorKind::NotFound),
        other => std::io::Error::new(std::io::ErrorKind::InvalidInput, other.to_string()),
    })
}

/// Limits for the OCI files vipsetup reads (config, API key, session token): each is a few
/// kilobytes; these are far above any real one.
pub mod limits {
    pub const OCI_CONFIG: u64 = 1024 * 1024;
    pub const KEY_FILE: u64 = 64 * 1024;
    pub const TOKEN_FILE: u64 = 64 * 1024;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_a_small_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"hello").unwrap();
        assert_eq!(read(&f, 5).unwrap(), b"hello");
        let e = read(&f, 4).unwrap_err();
        assert_eq!(
            e.to_string(),
            "it is 5 bytes, more than the limit of 4 bytes"
        );
        assert_eq!(
            read(dir.path(), 10).unwrap_err().to_string(),
            "it is a directory, not a regular file"
        );
        assert!(matches!(
            read(&dir.path().join("nope"), 10),
            Err(ReadError::NotFound)
        ));
        #[cfg(unix)]
        assert_eq!(
            read(Path::new("/dev/zero"), 10).unwrap_err().to_string(),
            "it is a character device, not a regular file"
        );
        let e = read_io(&f, 4).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
        assert_eq!(
            e.to_string(),
            "it is 5 bytes, more than the limit of 4 bytes"
        );
        assert_eq!(
            read_io(&dir.path().join("nope"), 10).unwrap_err().kind(),
            std::io::ErrorKind::NotFound
        );
    }
}
