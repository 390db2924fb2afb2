//! `vipsetup render FILE [--out DIR]`: each node's cloud-init user data, offline.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::blueprint;
use crate::error::exit;
use crate::render::{self, Facts, METADATA_LIMIT};

#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// The blueprint to render
    pub file: PathBuf,
    /// Write DIR/<node>.cloud-init.yaml for each node (created if missing); without it the
    /// documents go to stdout
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Agent override (testing): OCI API base URL written into the agent's settings
    #[arg(long, hide = true, value_name = "URL")]
    pub agent_endpoint: Option<String>,
    /// Agent override (testing): instance principal federation endpoint
    #[arg(long, hide = true, value_name = "URL")]
    pub agent_federation_endpoint: Option<String>,
    /// Agent override (testing): instance metadata base URL, e.g. http://127.0.0.1:8080/opc/v2
    #[arg(long, hide = true, value_name = "URL")]
    pub agent_metadata_url: Option<String>,
    /// Agent override (testing): the agent's state directory
    #[arg(long, hide = true, value_name = "DIR")]
    pub agent_state_dir: Option<String>,
}

pub fn run(args: RenderArgs) -> anyhow::Result<i32> {
    let bp = match blueprint::load(&args.file) {
        Ok(bp) => bp,
        Err(diags) => {
            super::validate::print_diagnostics(&diags);
            return Ok(exit::ERROR);
        }
    };
    let mut facts = Facts::offline(&bp)?;
    let a = &mut facts.agent;
    a.endpoint = args.agent_endpoint;
    a.federation_endpoint = args.agent_federation_endpoint;
    a.metadata_base_url = args.agent_metadata_url;
    a.state_dir = args.agent_state_dir;
    let nodes = render::render(&bp, &facts)?;
    match &args.out {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            for n in &nodes {
                let path = dir.join(format!("{}.cloud-init.yaml", n.name));
                render::write_atomic(&path, n.cloud_config.as_bytes())
                    .with_context(|| format!("cannot write {}", path.display()))?;
                println!(
                    "{}: {} bytes; instance metadata {} of {METADATA_LIMIT} bytes (user data base64{} + ssh keys)",
                    path.display(),
                    n.cloud_config.len(),
                    n.metadata_bytes,
                    if n.gzipped { ", gzipped" } else { "" },
                );
            }
        }
        None => {
            for n in &nodes {
                println!("# ---- {}.cloud-init.yaml ----", n.name);
                print!("{}", n.cloud_config);
            }
        }
    }
    Ok(exit::OK)
}
