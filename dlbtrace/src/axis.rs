//! The time axis: "nice" tick steps (1, 2 or 5 times a power of ten
//! milliseconds) and their labels.

/// Ticks for the interval `[from, to]` (milliseconds): the step and the
/// tick positions inside the interval, about `target` of them.
pub fn ticks(from: f64, to: f64, target: usize) -> (f64, Vec<f64>) {
    let span = (to - from).max(f64::EPSILON);
    let rough = span / target.max(1) as f64;
    let power = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|&s| s >= rough)
        .unwrap_or(10.0 * power);
    let first = (from / step).ceil() as i64;
    let last = (to / step).floor() as i64;
    let ticks = (first..=last).map(|i| i as f64 * step).collect();
    (step, ticks)
}

/// `value` with as many decimals as `step` needs.
pub fn label(value: f64, step: f64) -> String {
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    let s = format!("{value:.decimals$}");
    // No "-0" for a tick at zero.
    if s.trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        s.trim_start_matches('-').to_owned()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_nice() {
        let (step, t) = ticks(0.0, 10.0, 10);
        assert_eq!(step, 1.0);
        assert_eq!(t.len(), 11);
        let (step, t) = ticks(0.013, 0.087, 8);
        assert!((step - 0.01).abs() < 1e-12, "{step}");
        assert_eq!(t.len(), 7);
        assert!((t[0] - 0.02).abs() < 1e-12);
        let (step, _) = ticks(3.0, 1003.0, 8);
        assert_eq!(step, 200.0);
        let (step, _) = ticks(0.0, 0.0, 8);
        assert!(step > 0.0);
    }

    #[test]
    fn labels_have_the_step_s_decimals() {
        assert_eq!(label(2.0, 1.0), "2");
        assert_eq!(label(0.25, 0.05), "0.25");
        assert_eq!(label(0.3, 0.1), "0.3");
        assert_eq!(label(-0.0, 0.1), "0.0");
        assert_eq!(label(1200.0, 200.0), "1200");
    }
}
