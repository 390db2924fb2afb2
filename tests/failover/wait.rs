//! Polling with generous bounds: scenarios wait for a condition, never sleep and hope.

use std::time::{Duration, Instant};

/// Polls `probe` every `every` until it returns `Some`, or gives up after `limit` with the last
/// observation in the error (the caller adds the harness's diagnostics).
pub fn until<T>(
    what: &str,
    limit: Duration,
    every: Duration,
    mut probe: impl FnMut() -> Result<Option<T>, String>,
) -> Result<(T, Duration), String> {
    let start = Instant::now();
    loop {
        let last = match probe() {
            Ok(Some(v)) => return Ok((v, start.elapsed())),
            Ok(None) => "condition not met".to_string(),
            Err(e) => e,
        };
        if start.elapsed() >= limit {
            return Err(format!(
                "timed out after {:.1} s waiting for {what} (last: {last})",
                limit.as_secs_f64()
            ));
        }
        std::thread::sleep(every);
    }
}

/// The longest run without an answer, in seconds (from the first failed probe to the next
/// answered one, or to the last probe); samples are (milliseconds, answered).
pub fn longest_gap(samples: &[(u64, bool)]) -> f64 {
    let mut worst = 0u64;
    let mut down: Option<u64> = None;
    for &(t, ok) in samples {
        match (ok, down) {
            (false, None) => down = Some(t),
            (true, Some(d)) => {
                worst = worst.max(t - d);
                down = None;
            }
            _ => {}
        }
    }
    if let (Some(d), Some(&(t, _))) = (down, samples.last()) {
        worst = worst.max(t - d);
    }
    worst as f64 / 1000.0
}
