use std::time::Duration;

/// Median and 95th percentile of samples, in microseconds.
pub struct Summary {
    pub p50_us: f64,
    pub p95_us: f64,
}

pub fn summarise(samples: &mut [Duration]) -> Summary {
    samples.sort();
    let at = |q: f64| {
        if samples.is_empty() {
            return 0.0;
        }
        let i = ((samples.len() - 1) as f64 * q).round() as usize;
        samples[i].as_secs_f64() * 1e6
    };
    Summary {
        p50_us: at(0.5),
        p95_us: at(0.95),
    }
}

/// `a / b`, rounded to two decimals (0 when `b` is 0).
pub fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        (a / b * 100.0).round() / 100.0
    }
}

/// The median of `values` (NaN when there are none); sorts them.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}
