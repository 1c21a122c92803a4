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
        Measured::Value(v, detail) => {
            let shown = with_unit(v, t.unit);
            let warn = t.limit.is_warning(v);
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
            } else if warn {
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
    }
    f
}
