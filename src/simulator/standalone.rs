//! Running the simulator as its own process (`vipsetup simulator serve|seed`): seeding a world
//! file and writing the credentials a client needs (key PEM, seed JSON, an OCI config profile).

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::{SeedSpec, Seeded, SimConfig, SimError, Simulator, World, WorldError};

/// Where to write the seeded credentials (each optional).
#[derive(Debug, Clone, Default)]
pub struct CredsOut {
    /// seed output as JSON (ids, fingerprint, private key)
    pub json: Option<PathBuf>,
    /// the user's private key, PEM, mode 0600
    pub key: Option<PathBuf>,
    /// an OCI config file with a `[DEFAULT]` profile for the seeded user (needs `key`)
    pub oci_config: Option<PathBuf>,
}

/// Options of `vipsetup simulator serve`.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub config: SimConfig,
    pub seed: SeedSpec,
    pub creds: CredsOut,
}

/// Options of `vipsetup simulator seed`.
#[derive(Debug, Clone)]
pub struct SeedOptions {
    pub world: PathBuf,
    pub seed: SeedSpec,
    pub creds: CredsOut,
}

fn write_private(path: &Path, text: &str) -> Result<(), WorldError> {
    let err = |source| WorldError::Write {
        path: path.display().to_string(),
        source,
    };
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        o.mode(0o600);
    }
    let mut f = o.open(path).map_err(err)?;
    f.write_all(text.as_bytes()).map_err(err)
}

/// Writes the credentials files asked for.
pub fn write_creds(seeded: &Seeded, out: &CredsOut) -> Result<(), WorldError> {
    if let Some(p) = &out.json {
        write_private(
            p,
            &serde_json::to_string_pretty(seeded).expect("serialises"),
        )?;
    }
    if let Some(k) = &out.key {
        write_private(k, &seeded.private_key_pem)?;
        if let Some(c) = &out.oci_config {
            let key_path = std::fs::canonicalize(k).unwrap_or_else(|_| k.clone());
            write_private(c, &seeded.oci_config(&key_path.display().to_string()))?;
        }
    } else if out.oci_config.is_some() {
        return Err(WorldError::Seed(
            "an OCI config file needs a key file too (--key-out)".into(),
        ));
    }
    Ok(())
}

/// Seeds a world file and writes the credentials.
pub fn seed(opts: &SeedOptions) -> Result<Seeded, WorldError> {
    let (mut world, seeded) = World::seed(&opts.seed)?;
    world.pki = Some(super::pki::new_pki().map_err(WorldError::Key)?);
    world.save(&opts.world)?;
    write_creds(&seeded, &opts.creds)?;
    Ok(seeded)
}

/// Serves until Ctrl-C or SIGTERM. Seeds a new world unless `config.world_file` exists.
/// Prints `listening on http://ADDR` once ready.
pub async fn serve(opts: ServeOptions) -> Result<(), SimError> {
    let world = match opts.config.world_file.as_ref().filter(|p| p.exists()) {
        Some(p) => World::load(p)?,
        None => World::seed(&opts.seed)?.0,
    };
    // credentials are written for a loaded world too, so a restarted harness can find them
    if let Some(s) = &world.seeded {
        write_creds(s, &opts.creds)?;
    }
    let handle = Simulator::serve_on(opts.listen, opts.config, world).await?;
    println!("listening on {}", handle.base_url());
    let _ = std::io::stdout().flush();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|source| SimError::Bind {
                addr: "signal handler".into(),
                source,
            })?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    handle.shutdown().await;
    Ok(())
}
