//! `vipsetup init [FILE]`: write a commented starter blueprint (or print it); with `--subnet`,
//! one filled in from the user's own subnet (read-only calls, see `ops::init_subnet`).

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;

use super::output::Ctx;
use super::target_args::runtime;
use crate::error::exit;
use crate::ops::init_subnet::{init_from_subnet, InitSubnetOptions};
use crate::ops::starter::STARTER_NAME;
pub use crate::ops::starter::{starter, STARTER};

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Where to write it; prints to stdout when left out
    pub file: Option<PathBuf>,
    /// Overwrite FILE if it exists
    #[arg(long)]
    pub force: bool,
    /// The pair's name; the nodes, dynamic group and policy are named after it
    /// [default: FILE's name without .yaml when it is a valid pair name, else web-vip]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Fill the blueprint in from this subnet (read-only): region, compartment, free
    /// addresses, availability and fault domains, a shape with room, the newest Oracle Linux
    /// image, your ssh key
    #[arg(long, value_name = "OCID")]
    pub subnet: Option<String>,
    /// With --subnet: profile in the OCI config file [default: DEFAULT]
    #[arg(long, env = "OCI_CLI_PROFILE", requires = "subnet")]
    pub profile: Option<String>,
    /// With --subnet: OCI config file [default: ~/.oci/config]
    #[arg(
        long,
        env = "OCI_CLI_CONFIG_FILE",
        value_name = "FILE",
        requires = "subnet"
    )]
    pub config_file: Option<PathBuf>,
    /// With --subnet: api_key, security_token or instance_principal [default: api_key]
    #[arg(long, env = "OCI_CLI_AUTH", value_name = "METHOD", requires = "subnet")]
    pub auth: Option<String>,
    /// With --subnet: send every OCI request to this base URL (e.g. a standalone simulator)
    #[arg(
        long,
        env = "VIPSETUP_OCI_ENDPOINT",
        value_name = "URL",
        requires = "subnet"
    )]
    pub endpoint: Option<String>,
}

pub fn run(args: InitArgs, ctx: &Ctx) -> anyhow::Result<i32> {
    let from_file = args
        .file
        .as_ref()
        .and_then(|f| f.file_stem())
        .and_then(|s| s.to_str())
        .filter(|s| crate::blueprint::is_pair_name(s));
    let name = match &args.name {
        Some(n) if !crate::blueprint::is_pair_name(n) => anyhow::bail!(
            "--name {n}: a pair name is 1-40 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen; choose another"
        ),
        Some(n) => n.as_str(),
        None => from_file.unwrap_or(STARTER_NAME),
    };
    if let Some(path) = args.file.as_ref().filter(|p| p.exists() && !args.force) {
        anyhow::bail!(
            "{} already exists; choose another name, or pass --force to overwrite it",
            path.display()
        );
    }
    let (text, chosen) = match &args.subnet {
        None => (starter(name), None),
        Some(subnet) => {
            let opts = InitSubnetOptions {
                subnet_id: subnet.clone(),
                name: name.to_string(),
                profile: args.profile.clone(),
                config_file: args.config_file.clone(),
                auth: args.auth.clone(),
                endpoint: args.endpoint.clone(),
                home: std::env::var_os("HOME").map(PathBuf::from),
            };
            let (text, chosen) = runtime()?.block_on(init_from_subnet(&opts))?;
            (text, Some(chosen))
        }
    };
    let Some(path) = args.file else {
        if ctx.json() {
            ctx.print_json(&with_chosen(
                serde_json::json!({ "blueprint": text }),
                &chosen,
            ))?;
        } else {
            std::io::stdout().write_all(text.as_bytes())?;
        }
        return Ok(exit::OK);
    };
    crate::render::write_atomic(&path, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    if ctx.json() {
        ctx.print_json(&with_chosen(
            serde_json::json!({ "file": path.display().to_string() }),
            &chosen,
        ))?;
    }
    match &chosen {
        None => eprintln!(
            "wrote {}: fill in your OCIDs and ssh key, then run `vipsetup validate {}`",
            path.display(),
            path.display()
        ),
        Some(c) => {
            eprintln!(
                "wrote {} from subnet {}: VIP {}, nodes {} and {}, {} in {}, {}",
                path.display(),
                c.subnet,
                c.vip,
                c.node_ips[0],
                c.node_ips[1],
                c.shape,
                c.availability_domain,
                c.image
            );
            if c.ssh_key.is_none() {
                eprintln!(
                    "note: no ssh public key was found in ~/.ssh; make one (ssh-keygen -t ed25519) or put yours in `instance.ssh_keys`"
                );
            }
            eprintln!(
                "next: `vipsetup doctor {}`, then `vipsetup apply {}`",
                path.display(),
                path.display()
            );
        }
    }
    Ok(exit::OK)
}

/// `--output json`: what `--subnet` chose, under `chosen` (offline init has no such key).
fn with_chosen(
    mut doc: serde_json::Value,
    chosen: &Option<crate::ops::init_subnet::Chosen>,
) -> serde_json::Value {
    if let (Some(c), Some(m)) = (chosen, doc.as_object_mut()) {
        m.insert(
            "chosen".into(),
            serde_json::to_value(c).unwrap_or(serde_json::Value::Null),
        );
    }
    doc
}
