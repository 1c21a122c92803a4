//! Who owns what tracer writes. tracer runs as root (`sudo tracer run`), but its results are
//! the user's: under sudo every folder and file it creates is handed to the user who typed
//! `sudo` (`SUDO_UID` / `SUDO_GID`, which sudo sets), so they can read, move and delete their
//! results without sudo. Without sudo, files belong to whoever ran tracer, as created.

use anyhow::{Context, Result};
use rustix::fs::{Gid, Uid};
use std::os::fd::AsFd;

/// The user (and group) the files tracer creates are handed to; `None` parts are left as the
/// kernel created them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Owner {
    uid: Option<u32>,
    gid: Option<u32>,
}

impl Owner {
    /// The invoking user under sudo: `SUDO_UID` / `SUDO_GID` when running as root. Nobody
    /// (files stay the caller's) without root or without sudo.
    pub fn invoking() -> Owner {
        let var = |name| std::env::var(name).ok();
        Owner::from_sudo(
            rustix::process::geteuid().as_raw(),
            var("SUDO_UID").as_deref(),
            var("SUDO_GID").as_deref(),
        )
    }

    /// The owner given the effective uid and sudo's variables. Only root can give files away;
    /// a value that is not a plain id (or is root's, or -1, which chown reads as "unchanged")
    /// is ignored: the files then stay root's, which is what happened before sudo set them.
    pub fn from_sudo(euid: u32, sudo_uid: Option<&str>, sudo_gid: Option<&str>) -> Owner {
        if euid != 0 {
            return Owner::default();
        }
        let id = |v: Option<&str>| {
            v.and_then(|s| s.trim().parse::<u32>().ok())
                .filter(|&n| n != 0 && n != u32::MAX)
        };
        Owner {
            uid: id(sudo_uid),
            gid: id(sudo_gid),
        }
    }

    /// Files handed to `uid`:`gid` (tests, and callers that know the user).
    pub fn of(uid: u32, gid: u32) -> Owner {
        Owner::from_sudo(0, Some(&uid.to_string()), Some(&gid.to_string()))
    }

    /// The uid files are handed to, if any.
    pub fn uid(&self) -> Option<u32> {
        self.uid
    }

    /// Whether files are handed over at all.
    pub fn hands_over(&self) -> bool {
        self.uid.is_some() || self.gid.is_some()
    }

    /// Whether a folder owned by `uid` may hold a session: ours, or the invoking user's.
    pub fn accepts_folder_of(&self, uid: u32) -> bool {
        uid == rustix::process::geteuid().as_raw() || Some(uid) == self.uid
    }

    /// Hands the open file or folder `fd` (`what` names it in errors) to the owner.
    pub fn apply(&self, fd: impl AsFd, what: &dyn std::fmt::Display) -> Result<()> {
        if !self.hands_over() {
            return Ok(());
        }
        rustix::fs::fchown(fd, self.uid.map(Uid::from_raw), self.gid.map(Gid::from_raw))
            .with_context(|| {
                format!(
                    "cannot hand {what} to the user who ran sudo (uid {}, gid {})",
                    self.describe_uid(),
                    self.describe_gid()
                )
            })
    }

    fn describe_uid(&self) -> String {
        self.uid.map_or("unchanged".into(), |u| u.to_string())
    }

    fn describe_gid(&self) -> String {
        self.gid.map_or("unchanged".into(), |g| g.to_string())
    }

    /// ", owned by uid 1000 (gid 1000)" for the end-of-run summary; empty without a handover.
    pub fn describe(&self) -> String {
        if !self.hands_over() {
            return String::new();
        }
        format!(
            ", owned by uid {} (gid {}), who ran sudo",
            self.describe_uid(),
            self.describe_gid()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sudo_variables_name_the_owner_only_for_root() {
        assert_eq!(
            Owner::from_sudo(0, Some("1000"), Some("100")),
            Owner {
                uid: Some(1000),
                gid: Some(100)
            }
        );
        // Not root: nothing can be given away.
        assert!(!Owner::from_sudo(1000, Some("1000"), Some("1000")).hands_over());
        // Plain root, no sudo.
        assert!(!Owner::from_sudo(0, None, None).hands_over());
        // sudo from root, junk, and -1 (chown's "unchanged") are ignored, never a panic.
        for junk in [
            "0",
            "abc",
            "",
            "-5",
            "4294967295",
            "99999999999",
            "1000 ; rm",
        ] {
            assert_eq!(Owner::from_sudo(0, Some(junk), None).uid(), None, "{junk}");
        }
        assert_eq!(
            Owner::from_sudo(0, Some(" 65534\n"), None).uid(),
            Some(65534)
        );
    }
}
