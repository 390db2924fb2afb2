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
