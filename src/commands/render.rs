//! `vipsetup render FILE [--out DIR]`: each node's cloud-init user data, offline.

use std::path::PathBuf;

use anyhow::Context as _;

use super::output::Ctx;
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
    /// Only this node; without --out, stdout is then exactly its cloud-config
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
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

/// One node in `--output json`.
#[derive(serde::Serialize)]
struct RenderedJson {
    node: String,
    /// The file written (with `--out`).
    file: Option<String>,
    bytes: usize,
    metadata_bytes: usize,
    metadata_limit: usize,
    gzipped: bool,
    /// The cloud-config itself (without `--out`).
    cloud_config: Option<String>,
}

pub fn run(args: RenderArgs, ctx: &Ctx) -> anyhow::Result<i32> {
    let bp = blueprint::load(&args.file)?;
    let mut facts = Facts::offline(&bp)?;
    let a = &mut facts.agent;
    a.endpoint = args.agent_endpoint;
    a.federation_endpoint = args.agent_federation_endpoint;
    a.metadata_base_url = args.agent_metadata_url;
    a.state_dir = args.agent_state_dir;
    let mut nodes = render::render(&bp, &facts)?;
    if let Some(name) = &args.node {
        nodes.retain(|n| &n.name == name);
        if nodes.is_empty() {
            anyhow::bail!(
                "--node {name}: the blueprint has no node of that name; use {} or {}",
                bp.nodes[0].name,
                bp.nodes[1].name
            );
        }
    }
    let mut json = Vec::new();
    for n in &nodes {
        let file = match &args.out {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                let path = dir.join(format!("{}.cloud-init.yaml", n.name));
                render::write_atomic(&path, n.cloud_config.as_bytes())
                    .with_context(|| format!("cannot write {}", path.display()))?;
                if !ctx.json() {
                    println!(
                        "{}: {} bytes; instance metadata {} of {METADATA_LIMIT} bytes (user data base64{} + ssh keys)",
                        path.display(),
                        n.cloud_config.len(),
                        n.metadata_bytes,
                        if n.gzipped { ", gzipped" } else { "" },
                    );
                }
                Some(path.display().to_string())
            }
            None => {
                if !ctx.json() {
                    if args.node.is_none() {
                        // Two documents: say which is which. With --node the output is the one
                        // cloud-config as it is, ready to pipe.
                        println!("# ---- {}.cloud-init.yaml ----", n.name);
                    }
                    print!("{}", n.cloud_config);
                }
                None
            }
        };
        json.push(RenderedJson {
            node: n.name.clone(),
            cloud_config: file.is_none().then(|| n.cloud_config.clone()),
            file,
            bytes: n.cloud_config.len(),
            metadata_bytes: n.metadata_bytes,
            metadata_limit: METADATA_LIMIT,
            gzipped: n.gzipped,
        });
    }
    if ctx.json() {
        ctx.print_json(&serde_json::json!({ "nodes": json }))?;
    }
    Ok(exit::OK)
}
