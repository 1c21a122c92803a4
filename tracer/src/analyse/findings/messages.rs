//! The text of a finding: its verdict against the threshold and the words a report shows
//! (message, meaning, advice, detail), and how figures are written (`12.3%`, `1450/s`).

use super::measure::{Measured, Measurement};
use super::thresholds::{Limit, Threshold};
use super::{Finding, Status};

/// Formats a number with sensible precision for its size.
pub fn fmt_value(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 || v == v.trunc() && a < 1e15 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// `12.3%`, `1450/s`, `3.1 ms`.
pub fn with_unit(v: f64, unit: &str) -> String {
    match unit {
        "%" | "/s" => format!("{}{unit}", fmt_value(v)),
        _ => format!("{} {unit}", fmt_value(v)),
    }
}

fn threshold_text(t: &Threshold) -> String {
    match t.limit {
        Limit::Above(x) => format!("> {}", with_unit(x, t.unit)),
        Limit::Below(x) => format!("< {}", with_unit(x, t.unit)),
        Limit::None => String::new(),
    }
}

/// The 95% confidence bound (Wilson score interval) of a share of `hits` in `samples`, in
/// percent. It treats samples as independent draws, which samples of a thread that runs in
/// bursts are not quite: the bound is, if anything, too narrow, never too wide.
pub fn share_bound(hits: u64, samples: u64) -> (f64, f64) {
    if samples == 0 {
        return (0.0, 100.0);
    }
    const Z: f64 = 1.96;
    let n = samples as f64;
    let p = hits as f64 / n;
    let centre = p + Z * Z / (2.0 * n);
    let spread = Z * (p * (1.0 - p) / n + Z * Z / (4.0 * n * n)).sqrt();
    let denom = 1.0 + Z * Z / n;
    (
        100.0 * ((centre - spread) / denom).max(0.0),
        100.0 * ((centre + spread) / denom).min(1.0),
    )
}

/// The finding of one measurement: its verdict against the threshold row `t`, and its text
/// (message, meaning, advice, detail).
pub fn finding(t: &Threshold, m: Measurement) -> Finding {
    let Measurement {
        node,
        subject,
        measured: m,
    } = m;
    let mut f = Finding {
        id: t.id,
        test: t.test,
        figure: t.figure,
        node,
        subject,
        status: Status::NotMeasured,
        value: None,
        unit: t.unit,
        threshold: threshold_text(t),
        message: String::new(),
        meaning: String::new(),
        advice: String::new(),
        detail: String::new(),
    };
    match m {
        Measured::NotMeasured(why) => {
            f.message = format!("{}: not measured — {why}", t.figure);
            f.meaning = why.clone();
            f.detail = why;
        }
        Measured::Value(v, detail) => judge(t, &mut f, v, detail),
        Measured::Share {
            hits,
            samples,
            detail,
        } => {
            let (low, high) = share_bound(hits, samples);
            let v = 100.0 * hits as f64 / samples.max(1) as f64;
            let bound = format!(
                "95% bound {}–{}",
                with_unit(low, t.unit),
                with_unit(high, t.unit)
            );
            match t.limit {
                // The bound straddles the threshold: too few samples for a verdict either way.
                Limit::Above(x) | Limit::Below(x) if low <= x && x <= high => {
                    f.status = Status::Info;
                    f.value = Some(v);
                    f.meaning = format!(
                        "too few samples for a verdict: the {bound} straddles the threshold {}",
                        f.threshold
                    );
                    f.message = format!(
                        "{} {} ({bound}): no verdict, the bound straddles the threshold {} — \
                         trace longer or sample faster (-F)",
                        t.figure,
                        with_unit(v, t.unit),
                        f.threshold
                    );
                    f.detail = format!("{detail}; {bound}");
                }
                _ => judge(t, &mut f, v, format!("{detail}; {bound}")),
            }
        }
    }
    f
}

/// The verdict of a measured value `v` against the threshold row `t`, written into `f`.
fn judge(t: &Threshold, f: &mut Finding, v: f64, detail: String) {
    let shown = with_unit(v, t.unit);
    let ok_cmp = match t.limit {
        Limit::Above(x) => format!("≤ {}", with_unit(x, t.unit)),
        Limit::Below(x) => format!("≥ {}", with_unit(x, t.unit)),
        Limit::None => String::new(),
    };
    f.value = Some(v);
    f.detail = detail;
    if t.limit == Limit::None {
        f.status = Status::Info;
        f.meaning = t.ok_meaning.into();
        f.message = format!("{} {shown}", t.figure);
    } else if t.limit.is_warning(v) {
        f.status = Status::Warning;
        f.meaning = t.meaning.into();
        f.advice = t.advice.into();
        f.message = format!(
            "{} {shown} {}: {} — {}",
            t.figure, f.threshold, t.meaning, t.advice
        );
    } else {
        f.status = Status::Ok;
        f.meaning = t.ok_meaning.into();
        f.message = format!("{} {shown} {ok_cmp}: {}", t.figure, t.ok_meaning);
    }
}
