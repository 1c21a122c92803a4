//! Errors the kernel gives while attaching, turned into advice: an errno alone ("os error
//! 524") tells a user nothing; these say what it means for tracing and what happens next.
//! Each `explain_*` takes the error as attaching returned it and gives the text to show.

/// `ENOTSUPP` (524, kernel-internal): the uprobe cannot be placed at that address.
const ENOTSUPP: &str = "os error 524";

/// Why a function could not be probed, for the warning that says so (one function that
/// cannot be probed never costs the run: it is attributed by stack instead).
pub fn explain_attach_error(err: &anyhow::Error) -> String {
    let text = format!("{err:#}");
    if text.contains(ENOTSUPP) {
        // x86 uprobes single-step the instruction they replace, which the kernel refuses for
        // some (LOCK-prefixed atomics among them).
        return "the kernel cannot place a uprobe on its first instruction (e.g. a \
                LOCK-prefixed atomic); it is attributed by stack only"
            .to_string();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enotsupp_says_why_and_what_happens_instead() {
        let err = anyhow::Error::new(std::io::Error::from_raw_os_error(524))
            .context("attaching a uprobe at offset 0x1234 of /bin/node");
        let text = explain_attach_error(&err);
        assert!(
            text.contains("first instruction") && text.contains("stack only"),
            "{text}"
        );
    }

    #[test]
    fn other_errors_keep_their_cause_chain() {
        let err = anyhow::Error::new(std::io::Error::from_raw_os_error(libc::ENOENT))
            .context("attaching a uprobe at offset 0x1234 of /bin/node");
        let text = explain_attach_error(&err);
        assert!(
            text.starts_with("attaching a uprobe at offset 0x1234"),
            "{text}"
        );
        assert!(text.contains("No such file"), "{text}");
    }
}
