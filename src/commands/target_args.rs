//! Flags shared by plan, apply, destroy and status.

use std::path::PathBuf;

use clap::Args;

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
}

impl TargetArgs {
    /// The node names the blueprint gives, for printing plans (role names if it does not
    /// load: the operation itself then reports why). Prints the blueprint's warnings (e.g.
    /// both nodes in one fault domain) on stderr when `warn`, as `validate` does.
    pub fn node_names(&self, warn: bool) -> [String; 2] {
        match crate::blueprint::load(&self.blueprint) {
            Ok(bp) => {
                if warn {
                    for w in &bp.warnings {
                        eprintln!("warning: {w}");
                    }
                }
                bp.nodes.map(|n| n.name)
            }
            Err(_) => ["node1".to_string(), "node2".to_string()],
        }
    }

    pub fn options(&self) -> TargetOptions {
        TargetOptions {
            blueprint: self.blueprint.clone(),
            state: self.state.clone(),
            simulate: self.simulate,
            profile: self.profile.clone(),
            config_file: self.config_file.clone(),
            auth: self.auth.clone(),
            endpoint: self.endpoint.clone(),
        }
    }
}

/// A tokio runtime for one command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}
