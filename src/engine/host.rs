//! Facts about this machine and process for a lock holder's record (host name, user, whether a
//! process is alive, a time in local time), on every platform Rust builds for: Unix through
//! libc, elsewhere from the environment, and "unknown" rather than a guess where neither says.

use std::time::{SystemTime, UNIX_EPOCH};

/// This machine's host name.
pub fn hostname() -> String {
    os::hostname()
        .or_else(|| {
            ["COMPUTERNAME", "HOSTNAME"]
                .iter()
                .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The user running vipsetup (the login name, as `whoami` would say).
pub fn user() -> String {
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .or_else(os::user)
        .unwrap_or_else(|| "unknown".into())
}

/// Whether process `pid` on this machine is alive: `Some(false)` only when the OS says it does
/// not exist, `None` when this platform cannot tell.
pub fn process_alive(pid: u32) -> Option<bool> {
    os::process_alive(pid)
}

/// Seconds since the Unix epoch, now.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `2026-12-01 19:03:05 +0100`: `secs` (since the epoch) in this machine's time zone, or in UTC
/// where the platform gives no zone.
pub fn local_time(secs: u64) -> String {
    os::local_time(secs).unwrap_or_else(|| utc_time(secs))
}

#[cfg(unix)]
mod os {
    pub fn hostname() -> Option<String> {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for its length; the name is NUL-terminated on success
        // (or truncated, which the search for NUL below tolerates).
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc != 0 {
            return None;
        }
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        let name = String::from_utf8_lossy(&buf[..end]).trim().to_string();
        (!name.is_empty()).then_some(name)
    }

    pub fn user() -> Option<String> {
        // SAFETY: getuid cannot fail.
        Some(format!("uid {}", unsafe { libc::getuid() }))
    }

    pub fn process_alive(pid: u32) -> Option<bool> {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return Some(false);
        };
        if pid <= 0 {
            return Some(false);
        }
        // SAFETY: signal 0 only checks that the process exists and may be signalled.
        if unsafe { libc::kill(pid, 0) } == 0 {
            return Some(true);
        }
        // EPERM: it exists but belongs to someone else.
        Some(std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH))
    }

    pub fn local_time(secs: u64) -> Option<String> {
        let t = libc::time_t::try_from(secs).ok()?;
        // SAFETY: tm is plain data; localtime_r fills it and returns null on failure.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        if unsafe { libc::localtime_r(&t, &mut tm) }.is_null() {
            return None;
        }
        let off = tm.tm_gmtoff / 60;
        let sign = if off < 0 { '-' } else { '+' };
        Some(format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} {sign}{:02}{:02}",
            tm.tm_year + 1900,
            tm.tm_mon + 1,
            tm.tm_mday,
            tm.tm_hour,
            tm.tm_min,
            tm.tm_sec,
            off.abs() / 60,
            off.abs() % 60
        ))
    }
}

/// Platforms without libc's process and time calls: what the environment says, else nothing
/// (a lock's holder is then never judged dead, only forced).
#[cfg(not(unix))]
mod os {
    pub fn hostname() -> Option<String> {
        None
    }

    pub fn user() -> Option<String> {
        None
    }

    pub fn process_alive(_pid: u32) -> Option<bool> {
        None
    }

    pub fn local_time(_secs: u64) -> Option<String> {
        None
    }
}

/// `2026-12-01 18:03:05 UTC`.
pub fn utc_time(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm), proleptic Gregorian calendar.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `4m12s`, `2h05m`, `3d04h`: how long ago, for people.
pub fn age(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        s => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates_are_civil_dates() {
        assert_eq!(utc_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_time(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc_time(1_796_150_585), "2026-12-01 18:43:05 UTC");
    }

    #[test]
    fn this_process_is_alive_and_an_impossible_pid_is_not() {
        if cfg!(unix) {
            assert_eq!(process_alive(std::process::id()), Some(true));
            // Above Linux's pid_max limit (2^22) and macOS's 99999.
            assert_eq!(process_alive(4_194_999), Some(false));
        }
        assert!(!hostname().is_empty());
        assert!(!user().is_empty());
    }

    #[test]
    fn ages_read_naturally() {
        assert_eq!(age(5), "5s");
        assert_eq!(age(252), "4m12s");
        assert_eq!(age(7_500), "2h05m");
        assert_eq!(age(273_600), "3d04h");
    }

    #[test]
    fn local_time_has_a_zone() {
        let t = local_time(1_796_150_585);
        assert!(t.starts_with("2026-12-0"), "{t}");
        assert!(
            t.ends_with("UTC") || t.contains(" +") || t.contains(" -"),
            "{t}"
        );
    }
}
