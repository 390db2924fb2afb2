//! `vipsetup simulator serve|seed`: the local OCI simulator as a process (hidden from help).

use clap::{Args, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::simulator::standalone::{self, CredsOut, SeedOptions, ServeOptions};
use crate::simulator::{SeedSpec, SimConfig};

#[derive(Debug, Args)]
pub struct SimulatorArgs {
    #[command(subcommand)]
    pub command: SimulatorCommand,
}

#[derive(Debug, Subcommand)]
pub enum SimulatorCommand {
    /// Serve the simulated OCI APIs (identity, core, auth, IMDS, /_sim control) on one listener
    Serve(ServeArgs),
    /// Write a seeded world file and the credentials to use it
    Seed(SeedArgs),
}

#[derive(Debug, Args)]
pub struct SeedFlags {
    /// Home region of the seeded tenancy
    #[arg(long, default_value = "us-ashburn-1", value_name = "REGION")]
    pub home_region: String,
    /// Other subscribed regions (repeatable)
    #[arg(long = "other-region", value_name = "REGION", default_values_t = vec!["us-phoenix-1".to_string()])]
    pub other_regions: Vec<String>,
    /// CIDR of the seeded VCN
    #[arg(long, default_value = "10.0.0.0/16", value_name = "CIDR")]
    pub vcn_cidr: String,
    /// CIDR of the seeded (regional) subnet, inside the VCN
    #[arg(long, default_value = "10.0.1.0/24", value_name = "CIDR")]
    pub subnet_cidr: String,
    /// Register this PEM private key for the user instead of generating one
    #[arg(long, value_name = "FILE")]
    pub user_key: Option<PathBuf>,
    /// Write the seed output (ids, fingerprint, key) as JSON here
    #[arg(long, value_name = "FILE")]
    pub creds_out: Option<PathBuf>,
    /// Write the user's private key (PEM, mode 0600) here
    #[arg(long, value_name = "FILE")]
    pub key_out: Option<PathBuf>,
    /// Write an OCI config file ([DEFAULT] profile) here; needs --key-out
    #[arg(long, value_name = "FILE")]
    pub oci_config_out: Option<PathBuf>,
}

impl SeedFlags {
    fn spec(&self) -> anyhow::Result<(SeedSpec, CredsOut)> {
        let user_key_pem = match &self.user_key {
            Some(p) => Some(std::fs::read_to_string(p).map_err(|e| {
                anyhow::anyhow!("cannot read key {}: {e}; check the path", p.display())
            })?),
            None => None,
        };
        let spec = SeedSpec {
            home_region: self.home_region.clone(),
            other_regions: self.other_regions.clone(),
            vcn_cidr: self.vcn_cidr.clone(),
            subnet_cidr: self.subnet_cidr.clone(),
            user_key_pem,
            ..SeedSpec::default()
        };
        let creds = CredsOut {
            json: self.creds_out.clone(),
            key: self.key_out.clone(),
            oci_config: self.oci_config_out.clone(),
        };
        Ok((spec, creds))
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks one; the chosen URL is printed)
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// World file: loaded if present (else seeded), saved after every change
    #[arg(long, value_name = "FILE")]
    pub world: Option<PathBuf>,
    /// Region of requests that name none (default: the home region)
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Largest page a list call returns
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub page_size: usize,
    /// Milliseconds an instance spends PROVISIONING before RUNNING
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub provisioning_delay_ms: u64,
    /// Milliseconds an instance spends TERMINATING before TERMINATED
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub terminating_delay_ms: u64,
    /// Milliseconds before new or changed IAM applies to instance principals
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub iam_delay_ms: u64,
    /// Milliseconds before the metadata service shows metadata changed by UpdateInstance
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub metadata_delay_ms: u64,
    /// Lifetime of session tokens issued by /v1/x509
    #[arg(long, default_value_t = 1200, value_name = "SECS")]
    pub session_ttl_secs: u64,
    /// Write the world file at most every MS milliseconds (and on exit) instead of after each
    /// change: for a simulator that is its world file's only user (0 = after each change)
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub write_behind_ms: u64,
    #[command(flatten)]
    pub seed: SeedFlags,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// World file to write
    #[arg(long, value_name = "FILE")]
    pub world: PathBuf,
    #[command(flatten)]
    pub seed: SeedFlags,
}

pub fn run(args: SimulatorArgs) -> anyhow::Result<i32> {
    match args.command {
        SimulatorCommand::Serve(a) => {
            let (seed, creds) = a.seed.spec()?;
            let opts = ServeOptions {
                listen: a.listen,
                config: SimConfig {
                    region: a.region,
                    page_size: a.page_size.max(1),
                    provisioning_delay_ms: a.provisioning_delay_ms,
                    terminating_delay_ms: a.terminating_delay_ms,
                    iam_propagation_delay_ms: a.iam_delay_ms,
                    metadata_delay_ms: a.metadata_delay_ms,
                    session_ttl_secs: a.session_ttl_secs.max(1),
                    world_file: a.world,
                    write_behind_ms: a.write_behind_ms,
                    ..SimConfig::default()
                },
                seed,
                creds,
            };
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(standalone::serve(opts))?;
            Ok(crate::error::exit::OK)
        }
        SimulatorCommand::Seed(a) => {
            let (seed, creds) = a.seed.spec()?;
            let seeded = standalone::seed(&SeedOptions {
                world: a.world,
                seed,
                creds,
            })?;
            println!(
                "seeded tenancy {} (home region {}), user {}, fingerprint {}",
                seeded.tenancy_id, seeded.home_region, seeded.user_id, seeded.fingerprint
            );
            Ok(crate::error::exit::OK)
        }
    }
}
