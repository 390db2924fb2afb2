//! Flags shared by plan, apply, destroy and status.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::ops::blueprint_view;
use crate::ops::error::BlueprintError;
use crate::ops::target::TargetOptions;

#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// The pair's blueprint (YAML)
    pub blueprint: PathBuf,
    /// Where the pair's state is kept [default: <BLUEPRINT>.state.json]
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Run against the built-in OCI simulator (no cloud account needed); its world is kept in
    /// <BLUEPRINT>.sim-world.json so commands run one after another see the same cloud
    #[arg(long)]
    pub simulate: bool,
    /// Profile in the OCI config file [default: the blueprint's `oci.profile`, else DEFAULT]
    #[arg(long, env = "OCI_CLI_PROFILE")]
    pub profile: Option<String>,
    /// OCI config file [default: ~/.oci/config]
    #[arg(long, env = "OCI_CLI_CONFIG_FILE", value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// How to authenticate: api_key, security_token or instance_principal [default: api_key]
    #[arg(long, env = "OCI_CLI_AUTH", value_name = "METHOD")]
    pub auth: Option<String>,
    /// Send every OCI request to this base URL (e.g. a standalone simulator) instead of OCI
    #[arg(long, env = "VIPSETUP_OCI_ENDPOINT", value_name = "URL")]
    pub endpoint: Option<String>,
    /// Wait up to this long for another run's lock on the pair (e.g. 30s, 5m, 1h) [default: 0,
    /// fail at once naming the holder]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "0s")]
    pub lock_timeout: Duration,
    /// When the blueprint's `state:` key was added, changed or removed since this checkout last
    /// ran: move the pair's state there first (as `state push` / `state pull` do; the old place
    /// is emptied, so there is never a second copy) instead of stopping to say so
    #[arg(long)]
    pub migrate_state: bool,
}

/// `90`, `90s`, `5m`, `1h`, `1h30m`: a duration as people write it.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("`{s}` is not a duration; write e.g. 30s, 5m or 1h");
    let t = s.trim();
    if t.is_empty() {
        return Err(bad());
    }
    if let Ok(n) = t.parse::<u64>() {
        return Ok(Duration::from_secs(n));
    }
    let mut total = 0u64;
    let mut num = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().map_err(|_| bad())?;
        num.clear();
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        total = n
            .checked_mul(unit)
            .and_then(|x| total.checked_add(x))
            .ok_or_else(bad)?;
    }
    if !num.is_empty() {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

/// The node names the blueprint gives, for printing plans. Prints the blueprint's warnings
/// (e.g. both nodes in one fault domain) on stderr when `warn`, as `validate` does.
pub fn node_names(opts: &TargetOptions, warn: bool) -> [String; 2] {
    if warn {
        for w in &opts.parsed.warnings {
            eprintln!("warning: {w}");
        }
    }
    opts.parsed.nodes.clone().map(|n| n.name)
}

impl TargetArgs {
    /// The flags, with the blueprint read and checked: the one read of it in a command.
    pub fn options(&self) -> Result<TargetOptions, BlueprintError> {
        Ok(TargetOptions {
            blueprint: self.blueprint.clone(),
            parsed: blueprint_view::load(&self.blueprint)?,
            state: self.state.clone(),
            simulate: self.simulate,
            profile: self.profile.clone(),
            config_file: self.config_file.clone(),
            auth: self.auth.clone(),
            endpoint: self.endpoint.clone(),
            lock_timeout: self.lock_timeout,
            migrate_state: self.migrate_state,
        })
    }
}

/// A tokio runtime for one command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_people_write_them() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        for bad in ["", "5x", "m", "5m3", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
