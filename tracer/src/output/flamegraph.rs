//! Flamegraph SVGs from folded stack lines (see [`crate::analyse::cpu::folded`]), drawn by
//! inferno: the same interactive SVG `flamegraph.pl` draws (click to zoom, Ctrl-F to search),
//! and the red/blue differential graph of `difffolded.pl | flamegraph.pl`.
//!
//! Functions here return the SVG text; the session writer decides where files go.

use anyhow::Context as _;
use inferno::flamegraph::color::{MultiPalette, Palette};
use inferno::{differential, flamegraph};

use crate::analyse::cpu::parse_folded_line;

/// Width of the message SVG drawn when there is nothing to plot (inferno's default width).
const EMPTY_WIDTH: usize = 1200;

/// An interactive flamegraph of `folded_lines` (`root;...;leaf count`).
///
/// `title` names what is plotted, e.g. `raftkv-node (pid 1234) — node 0, leader`; `subtitle`
/// can carry the run (duration, frequency). Kernel frames are orange, C++ yellow, C red; shades
/// follow function names (flamegraph.pl's `--hash`), so the same function has the same colour
/// in every graph of a session and the output is reproducible. A profile without samples gives a small SVG saying so: a session
/// folder should hold a readable file, not an error, when a node was idle.
pub fn svg(folded_lines: &[String], title: &str, subtitle: Option<&str>) -> anyhow::Result<String> {
    if total_samples(folded_lines) == 0 {
        return Ok(message_svg(
            title,
            subtitle,
            "No CPU samples: sampling was off, the process was idle, or every stack was lost.",
        ));
    }
    let mut opts = options(title, subtitle.map(str::to_string));
    let mut out = Vec::new();
    flamegraph::from_lines(&mut opts, folded_lines.iter().map(String::as_str), &mut out)
        .context("inferno could not draw the flamegraph")?;
    String::from_utf8(out).context("inferno wrote an SVG that is not UTF-8")
}

/// A differential flamegraph: frames are as wide as in `after`, red where `after` has more
/// samples than `before`, blue where it has fewer, so a user sees what a change did.
///
/// Counts are compared as they are (no normalisation, like `difffolded.pl` without `-n`):
/// an optimisation that removes CPU time should show blue, not be scaled away. Compare runs of
/// equal duration and frequency. With no samples after, there is nothing to draw widths from
/// and a message SVG is returned.
pub fn diff_svg(before: &[String], after: &[String], title: &str) -> anyhow::Result<String> {
    let (before_total, after_total) = (total_samples(before), total_samples(after));
    let subtitle = format!(
        "before: {before_total} samples, after: {after_total} samples; \
         red = more samples after, blue = fewer"
    );
    if after_total == 0 {
        return Ok(message_svg(
            title,
            Some(&subtitle),
            "No CPU samples in the 'after' profile: nothing to compare.",
        ));
    }
    let mut two_count_lines = Vec::new();
    differential::from_readers(
        differential::Options::default(),
        folded_text(before).as_bytes(),
        folded_text(after).as_bytes(),
        &mut two_count_lines,
    )
    .context("inferno could not pair the before and after stacks")?;
    let mut opts = options(title, Some(subtitle));
    let mut out = Vec::new();
    flamegraph::from_reader(&mut opts, two_count_lines.as_slice(), &mut out)
        .context("inferno could not draw the differential flamegraph")?;
    String::from_utf8(out).context("inferno wrote an SVG that is not UTF-8")
}

/// The folded lines as a file's contents (one per line, newline-terminated): the `.folded`
/// file users feed to `flamegraph.pl`, speedscope or `inferno-flamegraph`.
pub fn folded_text(lines: &[String]) -> String {
    let mut text = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// Sum of the counts of the lines that parse.
fn total_samples(lines: &[String]) -> u64 {
    lines
        .iter()
        .filter_map(|l| parse_folded_line(l))
        .map(|(_, count)| count)
        .sum()
}

fn options(title: &str, subtitle: Option<String>) -> flamegraph::Options<'static> {
    let mut opts = flamegraph::Options::default();
    opts.title = title.to_string();
    opts.subtitle = subtitle;
    opts.count_name = "samples".to_string();
    // flamegraph.pl's `--colors java`, the palette for annotated stacks: kernel frames
    // (`_[k]`, whose suffix the SVG does not display) orange, C++ (`::`) yellow, C red.
    opts.colors = Palette::Multi(MultiPalette::Java);
    opts.hash = true;
    opts
}

/// A minimal SVG with the title, the subtitle and one line of explanation.
fn message_svg(title: &str, subtitle: Option<&str>, message: &str) -> String {
    let centre = EMPTY_WIDTH / 2;
    let mut svg = format!(
        "<?xml version=\"1.0\" standalone=\"no\"?>\n\
         <svg version=\"1.1\" width=\"{EMPTY_WIDTH}\" height=\"110\" \
         viewBox=\"0 0 {EMPTY_WIDTH} 110\" xmlns=\"http://www.w3.org/2000/svg\">\n\
         <rect x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" fill=\"#eeeeee\"/>\n\
         <text x=\"{centre}\" y=\"24\" text-anchor=\"middle\" font-family=\"Verdana\" \
         font-size=\"17\">{}</text>\n",
        escape_xml(title)
    );
    if let Some(subtitle) = subtitle {
        svg.push_str(&format!(
            "<text x=\"{centre}\" y=\"48\" text-anchor=\"middle\" font-family=\"Verdana\" \
             font-size=\"12\" fill=\"#a0a0a0\">{}</text>\n",
            escape_xml(subtitle)
        ));
    }
    svg.push_str(&format!(
        "<text x=\"{centre}\" y=\"80\" text-anchor=\"middle\" font-family=\"Verdana\" \
         font-size=\"14\">{}</text>\n</svg>\n",
        escape_xml(message)
    ));
    svg
}

fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn draws_the_functions_with_the_title() {
        let svg = svg(
            &lines(&["applier;start_thread;Raft::applier() 7", "raft;main 3"]),
            "raftkv-node (pid 1234) — node 0, leader",
            Some("60 s at 99 Hz"),
        )
        .unwrap();
        assert!(svg.contains("Raft::applier()"));
        assert!(svg.contains("raftkv-node (pid 1234) — node 0, leader"));
        assert!(svg.contains("60 s at 99 Hz"));
    }

    #[test]
    fn an_empty_profile_gives_a_message_not_an_error() {
        let svg = svg(&[], "node <1> & co", None).unwrap();
        assert!(svg.contains("No CPU samples"));
        assert!(svg.contains("node &lt;1&gt; &amp; co"));
    }

    #[test]
    fn the_same_input_draws_the_same_svg() {
        let input = lines(&["t;a;b 2", "t;a;c 5"]);
        assert_eq!(
            svg(&input, "x", None).unwrap(),
            svg(&input, "x", None).unwrap()
        );
    }

    #[test]
    fn folded_text_ends_every_line() {
        assert_eq!(folded_text(&lines(&["a 1", "b 2"])), "a 1\nb 2\n");
        assert_eq!(folded_text(&[]), "");
    }

    #[test]
    fn diff_without_samples_after_is_a_message() {
        let svg = diff_svg(&lines(&["t;a 3"]), &[], "before/after").unwrap();
        assert!(svg.contains("nothing to compare"));
        assert!(svg.contains("before: 3 samples, after: 0 samples"));
    }
}
