//! Numbers written for people: axis labels, tooltips, notes.

/// `v` with at most `decimals` decimals and no trailing zeros
/// (`0.30000000000000004` with 2 decimals is `0.3`).
pub(crate) fn trim(v: f64, decimals: usize) -> String {
    let text = format!("{v:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    // Rounding a small negative number gives "-0", which reads as a typo.
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// A round step (1, 2 or 5 times a power of ten) of at least `raw`, for
/// axis ticks.
pub(crate) fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|&step| step >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * power)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims() {
        let cases = [
            (1.0, 2, "1"),
            (0.5, 2, "0.5"),
            (0.30000000000000004, 2, "0.3"),
            (12.25, 2, "12.25"),
            (0.001, 2, "0"),
            (-0.001, 2, "0"),
            (1500.0, 0, "1500"),
        ];
        for (v, decimals, want) in cases {
            assert_eq!(trim(v, decimals), want, "{v}");
        }
    }

    #[test]
    fn nice_steps() {
        let cases = [
            (0.7, 1.0),
            (1.0, 1.0),
            (1.3, 2.0),
            (3.0, 5.0),
            (7.0, 10.0),
            (0.013, 0.02),
            (0.0, 1.0),
        ];
        for (raw, want) in cases {
            let got = nice_step(raw);
            assert!((got / want - 1.0).abs() < 1e-9, "{raw}: {got}");
        }
    }
}
