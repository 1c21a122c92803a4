//! The session folder as an open directory: the only way tracer writes, reads back or removes
//! the files of a session.
//!
//! tracer runs as root and writes where it is told, often below shared directories such as
//! /tmp where anyone can plant a symlink at a predictable name. So:
//! - the folder is opened once, refusing a symlink at its own name, and every file and
//!   subfolder is reached relative to that descriptor, one name at a time, refusing a symlink
//!   at every step (`O_NOFOLLOW`; `..`, `.`, empty and absolute parts are refused, so nothing
//!   outside the folder can be named, whatever a renderer or a hostile `snapshot.json` asks);
//! - a file is written under a new temporary name created exclusively (`O_CREAT | O_EXCL |
//!   O_NOFOLLOW`), handed to its owner, then renamed over its final name: a symlink or hard
//!   link planted at that name is replaced, never written through;
//! - `tracer run` creates the folder fresh ([`SessionDir::create`]): a path that exists is
//!   refused (unless it is an empty folder of yours that nobody else can write: nothing is
//!   reused and nothing could have been planted), so results of two runs never mix;
//! - everything created is handed to the user who ran sudo ([`Owner`]).
//!
//! Folders *above* the session folder (the parents in `-o`) are the user's choice and may be
//! symlinks; missing ones are created and handed to the user too (`tracer_results/`).

use anyhow::{anyhow, bail, Context, Result};
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, CWD};
use rustix::io::Errno;
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use super::owner::Owner;

/// Folders and files as `mkdir` and `touch` make them under the usual umask.
const DIR_MODE: u32 = 0o755;
const FILE_MODE: u32 = 0o644;

/// A session folder, open. Cheap to clone (the descriptor is shared).
#[derive(Clone, Debug)]
pub struct SessionDir {
    fd: Arc<OwnedFd>,
    path: PathBuf,
    owner: Owner,
}

impl SessionDir {
    /// Creates the session folder of `tracer run` at `path`, fresh, handed to `owner`.
    pub fn create(path: &Path, owner: Owner) -> Result<SessionDir> {
        let cannot = |e: &dyn std::fmt::Display| {
            anyhow!(
                "cannot create output directory {}: {e}: choose a writable place with -o DIR",
                path.display()
            )
        };
        let (parent, name) = split(path).ok_or_else(|| {
            anyhow!(
                "-o {}: give the path of a new folder, e.g. -o results/run1",
                path.display()
            )
        })?;
        let parent_fd = open_parents(&parent, owner, true).map_err(|e| cannot(&e))?;
        let created = match rfs::mkdirat(&parent_fd, name, Mode::from_raw_mode(DIR_MODE)) {
            Ok(()) => true,
            Err(Errno::EXIST) => false,
            Err(e) => return Err(cannot(&e)),
        };
        let fd = open_dir_nofollow(&parent_fd, name, path, "choose a new path with -o DIR")?;
        let st = rfs::fstat(&fd)?;
        let euid = rustix::process::geteuid().as_raw();
        if created && st.st_uid != euid {
            bail!(
                "{} was swapped for someone else's folder while tracer created it: choose a \
                 place only you can write with -o DIR",
                path.display()
            );
        }
        if !created {
            let refuse = |why: &str| {
                anyhow!(
                    "{} already exists ({why}): tracer writes every session into a new folder, \
                     so two runs never mix. Remove it, or give a new path with -o DIR",
                    path.display()
                )
            };
            if !is_empty(&fd)? {
                return Err(refuse("and is not empty"));
            }
            if !owner.accepts_folder_of(st.st_uid) {
                return Err(refuse(&format!("owned by uid {}, not by you", st.st_uid)));
            }
            if st.st_mode & 0o022 != 0 {
                return Err(refuse("and others may write in it"));
            }
        }
        owner.apply(&fd, &path.display())?;
        let dir = SessionDir {
            fd: Arc::new(fd),
            path: path.to_path_buf(),
            owner,
        };
        // A read-only file system or a full disk fails here, before anything is traced.
        const PROBE: &str = ".tracer-write-test";
        dir.write(PROBE, b"ok").map_err(|e| {
            anyhow!(
                "output directory {} is not writable ({e:#}): choose a writable place with -o DIR",
                path.display()
            )
        })?;
        dir.remove(PROBE)?;
        Ok(dir)
    }

    /// Opens the existing session folder at `path` (`tracer report`, `tracer diff`); files
    /// written into it are handed to `owner`. A symlink at `path` is refused like one at `-o`.
    pub fn open(path: &Path, owner: Owner) -> Result<SessionDir> {
        let fd = match split(path) {
            Some((parent, name)) => {
                let parent_fd = open_parents(&parent, owner, false)?;
                open_dir_nofollow(
                    &parent_fd,
                    name,
                    path,
                    "give the folder itself (`readlink -f` shows where it points)",
                )?
            }
            // `.`, `..`, `/`: names that cannot be symlinks.
            None => rfs::openat(CWD, path, dir_flags(), Mode::empty())
                .with_context(|| format!("cannot open folder {}", path.display()))?,
        };
        Ok(SessionDir {
            fd: Arc::new(fd),
            path: path.to_path_buf(),
            owner,
        })
    }

    /// The folder's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Who the files written here are handed to.
    pub fn owner(&self) -> Owner {
        self.owner
    }

    /// Writes `bytes` as `rel` (`a/b/file.txt`, created with its folders), replacing whatever
    /// is at that name without following it. Returns the file's path.
    pub fn write(&self, rel: &str, bytes: &[u8]) -> Result<PathBuf> {
        let path = self.path.join(rel);
        let (dirs, name) = parts(rel)?;
        let sub = self.walk(&dirs, true)?;
        let dirfd = sub.as_ref().map_or(self.fd.as_fd(), |f| f.as_fd());
        write_at(dirfd, name, bytes, self.owner, &path)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    /// Reads the regular file `rel`: a symlink, a FIFO or a device at that name is refused
    /// (a hostile folder could otherwise make `tracer report` block or read forever).
    pub fn read(&self, rel: &str) -> Result<Vec<u8>> {
        let path = self.path.join(rel);
        let (dirs, name) = parts(rel)?;
        let sub = self.walk(&dirs, false)?;
        let dirfd = sub.as_ref().map_or(self.fd.as_fd(), |f| f.as_fd());
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
        let fd = match rfs::openat(dirfd, name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::LOOP) => bail!(
                "{} is a symbolic link: tracer does not follow links inside a session folder",
                path.display()
            ),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        if FileType::from_raw_mode(rfs::fstat(&fd)?.st_mode) != FileType::RegularFile {
            bail!("{} is not a regular file", path.display());
        }
        let mut bytes = Vec::new();
        std::fs::File::from(fd)
            .read_to_end(&mut bytes)
            .with_context(|| format!("reading {}", path.display()))?;
        Ok(bytes)
    }

    /// Removes the file `rel` (the name itself: a symlink is removed, never followed).
    /// A file that is not there is no error; a folder on the way that is not there is.
    pub fn remove(&self, rel: &str) -> Result<()> {
        let (dirs, name) = parts(rel)?;
        let sub = self.walk(&dirs, false)?;
        let dirfd = sub.as_ref().map_or(self.fd.as_fd(), |f| f.as_fd());
        match rfs::unlinkat(dirfd, name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(e).with_context(|| format!("removing {}", self.path.join(rel).display())),
        }
    }

    /// Opens (and with `create`, makes) the folders `dirs` below the session folder, one
    /// name at a time, refusing symlinks. `None`: the session folder itself.
    fn walk(&self, dirs: &[&str], create: bool) -> Result<Option<OwnedFd>> {
        let mut cur: Option<OwnedFd> = None;
        let mut so_far = self.path.clone();
        for name in dirs {
            so_far.push(name);
            let at = cur.as_ref().map_or(self.fd.as_fd(), |f| f.as_fd());
            let created = create
                && match rfs::mkdirat(at, *name, Mode::from_raw_mode(DIR_MODE)) {
                    Ok(()) => true,
                    Err(Errno::EXIST) => false,
                    Err(e) => {
                        return Err(e).with_context(|| format!("creating {}", so_far.display()))
                    }
                };
            let fd = open_dir_nofollow(at, OsStr::new(name), &so_far, "not written")?;
            if created {
                self.owner.apply(&fd, &so_far.display())?;
            }
            cur = Some(fd);
        }
        Ok(cur)
    }
}

/// Writes the single file `path` outside any session folder (`tracer diff -o FILE`): its
/// folders are the user's choice and may be symlinks, its own name is replaced, never
/// followed, like a file of a session; handed to `owner`.
pub fn write_file(path: &Path, bytes: &[u8], owner: Owner) -> Result<()> {
    let (parent, name) = split(path)
        .with_context(|| format!("{}: give the path of a file to write", path.display()))?;
    let name = name
        .to_str()
        .with_context(|| format!("{}: the file name is not UTF-8", path.display()))?;
    let dir = open_parents(&parent, owner, false)?;
    write_at(dir.as_fd(), name, bytes, owner, path)
        .with_context(|| format!("writing {}", path.display()))
}

/// Read-only directory descriptors, not inherited by the traced command.
fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC
}

/// `path` as its parent folders and its last name; `None` when the last part is not a name
/// (`.`, `..`, `/`).
fn split(path: &Path) -> Option<(PathBuf, &OsStr)> {
    let mut comps = path.components();
    match comps.next_back()? {
        Component::Normal(name) => Some((comps.as_path().to_path_buf(), name)),
        _ => None,
    }
}

/// A path inside the session folder as its folders and its file name. Only plain names:
/// `..`, `.`, empty parts and absolute paths could name something outside.
fn parts(rel: &str) -> Result<(Vec<&str>, &str)> {
    let all: Vec<&str> = rel.split('/').collect();
    if all
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == ".." || p.contains('\0'))
    {
        bail!(
            "`{rel}` is not a plain path inside the session folder (it has an empty, `.` or \
             `..` part, or is absolute): not written"
        );
    }
    let (name, dirs) = all.split_last().context("empty file name")?;
    Ok((dirs.to_vec(), name))
}

/// Opens the folders of `parent` (relative to the current directory unless absolute),
/// following symlinks: the parents are the user's choice. With `create`, missing folders are
/// made and handed to `owner` (the default `tracer_results/`).
fn open_parents(parent: &Path, owner: Owner, create: bool) -> Result<OwnedFd> {
    let start = if parent.has_root() { "/" } else { "." };
    let mut cur = rfs::openat(CWD, start, dir_flags(), Mode::empty())
        .with_context(|| format!("cannot open {start}"))?;
    let mut so_far = PathBuf::from(start);
    for comp in parent.components() {
        let name = match comp {
            Component::Normal(n) => n,
            Component::ParentDir => OsStr::new(".."),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => continue,
        };
        so_far.push(name);
        cur = match rfs::openat(&cur, name, dir_flags(), Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) if create => {
                match rfs::mkdirat(&cur, name, Mode::from_raw_mode(DIR_MODE)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => {
                        return Err(e).with_context(|| format!("creating {}", so_far.display()))
                    }
                }
                let fd = open_dir_nofollow(&cur, name, &so_far, "not written")?;
                owner.apply(&fd, &so_far.display())?;
                fd
            }
            Err(e) => return Err(e).with_context(|| format!("cannot open {}", so_far.display())),
        };
    }
    Ok(cur)
}

/// Opens folder `name` of `at` without following a symlink there; the error says what was
/// found and ends with `hint`.
fn open_dir_nofollow(at: impl AsFd, name: &OsStr, path: &Path, hint: &str) -> Result<OwnedFd> {
    let at = at.as_fd();
    match rfs::openat(at, name, dir_flags() | OFlags::NOFOLLOW, Mode::empty()) {
        Ok(fd) => Ok(fd),
        Err(e @ (Errno::LOOP | Errno::NOTDIR)) => {
            let is_link = rfs::statat(at, name, AtFlags::SYMLINK_NOFOLLOW)
                .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Symlink);
            if is_link {
                let target = rfs::readlinkat(at, name, Vec::new())
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_else(|_| "?".into());
                bail!(
                    "{} is a symbolic link (to {target}): tracer never writes through a symlink, \
                     which someone else may have planted to make root write where they chose; {hint}",
                    path.display()
                );
            }
            Err(e).with_context(|| format!("{} exists and is not a folder; {hint}", path.display()))
        }
        Err(e) => Err(e).with_context(|| format!("cannot open {}", path.display())),
    }
}

/// Whether the open folder `fd` has no entries.
fn is_empty(fd: &OwnedFd) -> Result<bool> {
    for entry in rfs::Dir::read_from(fd)? {
        let name = entry?.file_name().to_bytes().to_vec();
        if name != b"." && name != b".." {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Writes `name` in folder `dirfd`: a temporary file created exclusively (a leftover of a
/// crashed run, or anything planted at that name, is removed first: unlinking never follows),
/// handed to `owner`, renamed over `name`.
fn write_at(
    dirfd: BorrowedFd<'_>,
    name: &str,
    bytes: &[u8],
    owner: Owner,
    path: &Path,
) -> Result<()> {
    let tmp = format!(".{name}.tracer-{}.tmp", std::process::id());
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mode = Mode::from_raw_mode(FILE_MODE);
    let fd = match rfs::openat(dirfd, &tmp, flags, mode) {
        Err(Errno::EXIST) => {
            rfs::unlinkat(dirfd, &tmp, AtFlags::empty())?;
            rfs::openat(dirfd, &tmp, flags, mode)?
        }
        other => other?,
    };
    let mut file = std::fs::File::from(fd);
    let done = file
        .write_all(bytes)
        .map_err(anyhow::Error::from)
        .and_then(|()| owner.apply(&file, &path.display()))
        .and_then(|()| rfs::renameat(dirfd, &tmp, dirfd, name).map_err(Into::into));
    if done.is_err() {
        let _ = rfs::unlinkat(dirfd, &tmp, AtFlags::empty());
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn paths_inside_are_plain_names_only() {
        assert_eq!(parts("a/b/c.txt").unwrap(), (vec!["a", "b"], "c.txt"));
        assert_eq!(parts("c.txt").unwrap(), (vec![], "c.txt"));
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "a/.",
            "a/",
            "a\0b",
        ] {
            let e = parts(bad).unwrap_err().to_string();
            assert!(e.contains("not written"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_last_part_of_the_output_path_must_be_a_name() {
        let (p, n) = split(Path::new("tracer_results/session_1")).unwrap();
        assert_eq!(
            (p.as_path(), n),
            (Path::new("tracer_results"), OsStr::new("session_1"))
        );
        let (p, n) = split(Path::new("out/.")).unwrap();
        assert_eq!((p.as_path(), n), (Path::new(""), OsStr::new("out")));
        assert!(split(Path::new("..")).is_none());
        assert!(split(Path::new("/")).is_none());
        assert!(split(Path::new(".")).is_none());
    }

    #[test]
    fn a_fresh_folder_is_created_with_its_parents_and_written_through_its_descriptor() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("results/session");
        let dir = SessionDir::create(&path, Owner::default()).unwrap();
        dir.write("a/b/file.txt", b"one").unwrap();
        dir.write("a/b/file.txt", b"two").unwrap();
        assert_eq!(std::fs::read(path.join("a/b/file.txt")).unwrap(), b"two");
        assert_eq!(dir.read("a/b/file.txt").unwrap(), b"two");
        // No temporary file or write probe is left behind.
        let names: Vec<_> = std::fs::read_dir(path.join("a/b"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["file.txt"]);
        assert!(std::fs::read_dir(&path).unwrap().count() == 1);
        dir.remove("a/b/file.txt").unwrap();
        dir.remove("a/b/file.txt").unwrap();
        assert!(dir.remove("no/such/file").is_err());
        assert!(!path.join("a/b/file.txt").exists());
    }

    #[test]
    fn an_existing_folder_is_refused_unless_empty_and_private() {
        let tmp = tempfile::tempdir().unwrap();
        // Empty, ours, 0700: nothing to mix, nothing planted.
        let empty = tmp.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o700)).unwrap();
        SessionDir::create(&empty, Owner::default()).unwrap();

        let used = tmp.path().join("used");
        std::fs::create_dir(&used).unwrap();
        std::fs::write(used.join("snapshot.json"), "{}").unwrap();
        let e = SessionDir::create(&used, Owner::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("already exists") && e.contains("-o DIR"), "{e}");

        let shared = tmp.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = SessionDir::create(&shared, Owner::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("others may write"), "{e}");

        let file = tmp.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let e = format!(
            "{:#}",
            SessionDir::create(&file, Owner::default()).unwrap_err()
        );
        assert!(e.contains("not a folder"), "{e}");
    }

    #[test]
    fn symlinks_at_the_folder_or_inside_are_never_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let elsewhere = tmp.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        let link = tmp.path().join("out");
        std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
        let e = SessionDir::create(&link, Owner::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("symbolic link") && e.contains("-o DIR"), "{e}");
        let e = SessionDir::open(&link, Owner::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("symbolic link"), "{e}");

        let dir = SessionDir::create(&tmp.path().join("s"), Owner::default()).unwrap();
        // A symlink at a subfolder's name: refused, nothing written through it.
        std::os::unix::fs::symlink(&elsewhere, tmp.path().join("s/sub")).unwrap();
        let e = dir.write("sub/f.txt", b"x").unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
        // A symlink at a file's name: replaced by the file, its target untouched.
        let victim = elsewhere.join("victim");
        std::fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, tmp.path().join("s/f.txt")).unwrap();
        dir.write("f.txt", b"data").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        let meta = std::fs::symlink_metadata(tmp.path().join("s/f.txt")).unwrap();
        assert!(meta.is_file());
        // Reading one is refused; removing one removes the link only.
        std::os::unix::fs::symlink(&victim, tmp.path().join("s/g.txt")).unwrap();
        assert!(dir
            .read("g.txt")
            .unwrap_err()
            .to_string()
            .contains("symbolic link"));
        dir.remove("g.txt").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 1);
    }

    #[test]
    fn a_fifo_is_not_read() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = SessionDir::create(&tmp.path().join("s"), Owner::default()).unwrap();
        rustix::fs::mknodat(
            CWD,
            tmp.path().join("s/snapshot.json"),
            FileType::Fifo,
            Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        let e = dir.read("snapshot.json").unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
    }
}
