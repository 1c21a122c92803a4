//! Errors the kernel gives while attaching, turned into advice: an errno alone ("os error
//! 524") tells a user nothing; these say what it means for tracing and what happens next.
//! Each `explain_*` takes what failed (the error, or the request the kernel refused) and gives
//! the text to show.

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

/// Where the kernel caps the sampling frequency of perf events.
const MAX_SAMPLE_RATE: &str = "/proc/sys/kernel/perf_event_max_sample_rate";

/// Why a `freq_hz` cpu-clock perf event could not be opened on `cpu`: the kernel refuses
/// frequencies above `kernel.perf_event_max_sample_rate` (and lowers that cap by itself when
/// sampling interrupts take too long), so the cap read now is named with the fix.
pub fn explain_sampling_error(freq_hz: u64, cpu: u32) -> String {
    let cap = std::fs::read_to_string(MAX_SAMPLE_RATE)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    sampling_advice(freq_hz, cpu, cap)
}

fn sampling_advice(freq_hz: u64, cpu: u32, cap: Option<u64>) -> String {
    let what = format!("opening a {freq_hz} Hz cpu-clock perf event on CPU {cpu} failed");
    match cap {
        Some(cap) if freq_hz > cap => format!(
            "{what}: -F {freq_hz} is above kernel.perf_event_max_sample_rate ({cap}); give \
             -F {cap} or less, or raise the limit with \
             `sysctl kernel.perf_event_max_sample_rate={freq_hz}`"
        ),
        Some(cap) => format!("{what} (kernel.perf_event_max_sample_rate is {cap})"),
        None => format!("{what} (is kernel.perf_event_max_sample_rate lower?)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frequency_over_the_kernels_cap_names_the_cap_and_the_fix() {
        let text = sampling_advice(999, 3, Some(500));
        assert!(text.contains("CPU 3") && text.contains("999 Hz"), "{text}");
        assert!(
            text.contains("above kernel.perf_event_max_sample_rate (500)"),
            "{text}"
        );
        assert!(text.contains("-F 500 or less"), "{text}");
        let text = sampling_advice(99, 0, Some(100_000));
        assert!(
            text.ends_with("(kernel.perf_event_max_sample_rate is 100000)"),
            "{text}"
        );
        assert!(sampling_advice(99, 0, None).contains("lower?"));
    }

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
