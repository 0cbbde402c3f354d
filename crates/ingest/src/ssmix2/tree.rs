//! Listing a standardized storage and reading its message files.
//!
//! A storage has about two folders per message (patient, date, data type),
//! so system calls dominate the walk. On Unix each folder is opened relative
//! to its parent's descriptor and each file relative to the root's
//! (`openat`), so the kernel resolves one or a few path components per call
//! instead of the whole path, and no `stat` is needed per folder or file.
//! Elsewhere `std::fs` is used with full paths. Both list in the same order.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::report::{Entry, Level};

fn rejected(label: &str, reason: String) -> Entry {
    Entry { level: Level::Rejected, file: Some(label.to_string()), message: None, segment: None, field: None, reason }
}

/// A file found under the root.
pub(crate) struct Found {
    /// Its path relative to the root, `/`-separated, converted lossily to
    /// UTF-8 (with `\` written as `/`, as relative paths always were).
    pub(crate) rel: String,
    /// Its own name, or `None` when that is not valid UTF-8.
    pub(crate) name: Option<String>,
}

impl Found {
    fn new(rel: String, name: &[u8]) -> Self {
        let name = std::str::from_utf8(name).ok().map(str::to_string);
        Found { rel, name }
    }
}

/// `prefix/name` with the name converted lossily (and `\` written as `/`).
fn join(prefix: &str, name: &[u8]) -> String {
    let name = String::from_utf8_lossy(name);
    let name = if name.contains('\\') { name.replace('\\', "/").into() } else { name };
    if prefix.is_empty() { name.into_owned() } else { format!("{prefix}/{name}") }
}

/// The files and problems of a folder's entries (in entry order), after the
/// problems of the folder itself.
fn gather(parts: Vec<(Vec<Found>, Vec<Entry>)>, mut problems: Vec<Entry>) -> (Vec<Found>, Vec<Entry>) {
    let mut files = Vec::new();
    for (f, e) in parts {
        files.extend(f);
        problems.extend(e);
    }
    (files, problems)
}

/// An opened storage root.
pub(crate) struct Tree {
    root: PathBuf,
    #[cfg(unix)]
    fd: rustix::fd::OwnedFd,
}

#[cfg(unix)]
mod imp {
    use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
    use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};
    use std::ffi::CString;
    use std::io::Read;

    use super::*;

    fn open_dir(parent: BorrowedFd<'_>, name: &std::ffi::CStr) -> rustix::io::Result<OwnedFd> {
        rustix::fs::openat(parent, name, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
    }

    impl Tree {
        /// Opens the root; fails when it cannot be read as a folder.
        pub(crate) fn open(root: &Path) -> Result<Tree> {
            let io = |e: rustix::io::Errno| Error::Io { path: root.display().to_string(), source: e.into() };
            let fd = rustix::fs::open(root, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).map_err(io)?;
            Ok(Tree { root: root.to_path_buf(), fd })
        }

        /// The files under the root in path order, and the folders or
        /// entries that could not be read.
        pub(crate) fn files(&self) -> Result<(Vec<Found>, Vec<Entry>)> {
            let fd = rustix::io::dup(&self.fd).map_err(|e| Error::Io { path: self.root.display().to_string(), source: e.into() })?;
            Ok(self.list(fd, ""))
        }

        /// Lists one folder (`fd`, at `prefix` under the root); sub-folders
        /// are listed in parallel, the order does not depend on it.
        fn list(&self, fd: OwnedFd, prefix: &str) -> (Vec<Found>, Vec<Entry>) {
            let label = || if prefix.is_empty() { self.root.display().to_string() } else { self.root.join(prefix).display().to_string() };
            let mut problems = Vec::new();
            let mut entries: Vec<(CString, bool)> = Vec::new();
            let mut dir = match Dir::new(fd) {
                Ok(d) => d,
                Err(e) => return (Vec::new(), vec![rejected(&label(), format!("unreadable directory: {}", std::io::Error::from(e)))]),
            };
            while let Some(e) = dir.read() {
                match e {
                    Ok(e) => {
                        let name = e.file_name();
                        if matches!(name.to_bytes(), b"." | b"..") {
                            continue;
                        }
                        // The entry's own type needs no extra system call; a
                        // symbolic link (or a file system that does not give
                        // types) is followed.
                        let is_dir = match e.file_type() {
                            FileType::Directory => true,
                            FileType::Symlink | FileType::Unknown => dir
                                .fd()
                                .and_then(|d| rustix::fs::statat(d, name, AtFlags::empty()))
                                .is_ok_and(|st| FileType::from_raw_mode(st.st_mode).is_dir()),
                            _ => false,
                        };
                        entries.push((name.to_owned(), is_dir));
                    }
                    Err(err) => problems.push(rejected(&label(), format!("unreadable directory entry: {}", std::io::Error::from(err)))),
                }
            }
            entries.sort();
            if entries.iter().all(|(_, is_dir)| !is_dir) {
                // A folder of message files (most folders): nothing to fan out.
                let files = entries.into_iter().map(|(name, _)| Found::new(join(prefix, name.to_bytes()), name.to_bytes())).collect();
                return (files, problems);
            }
            let parent = match dir.fd() {
                Ok(p) => p,
                Err(e) => return (Vec::new(), vec![rejected(&label(), format!("unreadable directory: {}", std::io::Error::from(e)))]),
            };
            let parts: Vec<(Vec<Found>, Vec<Entry>)> = entries
                .into_par_iter()
                .map(|(name, is_dir)| {
                    let rel = join(prefix, name.to_bytes());
                    if !is_dir {
                        return (vec![Found::new(rel, name.to_bytes())], Vec::new());
                    }
                    match open_dir(parent.as_fd(), &name) {
                        Ok(fd) => self.list(fd, &rel),
                        Err(e) => (Vec::new(), vec![rejected(&self.root.join(&rel).display().to_string(), format!("unreadable directory: {}", std::io::Error::from(e)))]),
                    }
                })
                .collect();
            gather(parts, problems)
        }

        /// Reads the file at `rel` (a path from [`Tree::files`]).
        pub(crate) fn read(&self, rel: &str) -> std::io::Result<Vec<u8>> {
            let fd = rustix::fs::openat(&self.fd, rel, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
            let mut buf = Vec::with_capacity(8192);
            std::fs::File::from(fd).read_to_end(&mut buf)?;
            Ok(buf)
        }
    }
}

#[cfg(not(unix))]
mod imp {
    use super::*;

    impl Tree {
        /// Opens the root; fails when it cannot be read as a folder.
        pub(crate) fn open(root: &Path) -> Result<Tree> {
            std::fs::read_dir(root).map_err(|source| Error::Io { path: root.display().to_string(), source })?;
            Ok(Tree { root: root.to_path_buf() })
        }

        /// The files under the root in path order, and the folders or
        /// entries that could not be read.
        pub(crate) fn files(&self) -> Result<(Vec<Found>, Vec<Entry>)> {
            let rd = std::fs::read_dir(&self.root).map_err(|source| Error::Io { path: self.root.display().to_string(), source })?;
            Ok(self.list(rd, &self.root, ""))
        }

        fn list(&self, rd: std::fs::ReadDir, dir: &Path, prefix: &str) -> (Vec<Found>, Vec<Entry>) {
            let mut entries: Vec<(PathBuf, bool)> = Vec::new();
            let mut problems = Vec::new();
            for e in rd {
                match e {
                    Ok(e) => {
                        let p = e.path();
                        let is_dir = match e.file_type() {
                            Ok(t) if t.is_symlink() => p.is_dir(),
                            Ok(t) => t.is_dir(),
                            Err(_) => p.is_dir(),
                        };
                        entries.push((p, is_dir));
                    }
                    Err(err) => problems.push(rejected(&dir.display().to_string(), format!("unreadable directory entry: {err}"))),
                }
            }
            entries.sort();
            let parts: Vec<(Vec<Found>, Vec<Entry>)> = entries
                .into_par_iter()
                .map(|(p, is_dir)| {
                    let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                    let rel = join(prefix, name.as_bytes());
                    if !is_dir {
                        let found = Found { rel, name: p.file_name().and_then(|n| n.to_str()).map(str::to_string) };
                        return (vec![found], Vec::new());
                    }
                    match std::fs::read_dir(&p) {
                        Ok(rd) => self.list(rd, &p, &rel),
                        Err(source) => (Vec::new(), vec![rejected(&p.display().to_string(), format!("unreadable directory: {source}"))]),
                    }
                })
                .collect();
            gather(parts, problems)
        }

        /// Reads the file at `rel` (a path from [`Tree::files`]).
        pub(crate) fn read(&self, rel: &str) -> std::io::Result<Vec<u8>> {
            std::fs::read(self.root.join(rel))
        }
    }
}
