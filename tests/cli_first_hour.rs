//! The first hour on a tenancy (issue 22), with the real binary against the standalone
//! simulator: the README's "On your tenancy" commands run as written (init --subnet, doctor,
//! apply, destroy), the blueprint init wrote accepted by validate, doctor and apply --simulate
//! without edits, doctor making no write, `apply --doctor` refusing a tenancy with a problem
//! before any change, and an error doctor would have caught naming it.

mod engine_support;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use engine_support::standalone::Standalone;
use serde_json::Value;
use vipsetup::simulator::{world, World};

#[path = "support/cli.rs"]
mod cli;
use cli::{bin, text};

/// A seeded world in `dir` (`w.json`, `config`, `key.pem`, `creds.json`), a home with an ssh
/// key, and the seed output.
fn seed(dir: &Path) -> Value {
    let o = bin(dir)
        .args([
            "simulator",
            "seed",
            "--world",
            "w.json",
            "--home-region",
            "ap-tokyo-1",
            "--vcn-cidr",
            "10.0.0.0/16",
            "--subnet-cidr",
            "10.0.1.0/24",
            "--creds-out",
            "creds.json",
            "--key-out",
            "key.pem",
            "--oci-config-out",
            "config",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let ssh = dir.join("home/.ssh");
    std::fs::create_dir_all(&ssh).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("blueprints/keys/quickstart.pub"),
        ssh.join("id_ed25519.pub"),
    )
    .unwrap();
    serde_json::from_str(&std::fs::read_to_string(dir.join("creds.json")).unwrap()).unwrap()
}

fn serve(dir: &Path) -> Standalone {
    let mut cmd = bin(dir);
    cmd.stderr(Stdio::null());
    Standalone::serve(cmd, "w.json", &[])
}

/// The requests the simulator served since its log was last cleared that may change the cloud.
fn writes(sim: &Standalone) -> Vec<String> {
    let log: Vec<Value> = serde_json::from_str(&sim.control_body("GET", "/_sim/log", "")).unwrap();
    assert!(!log.is_empty(), "the simulator served nothing");
    log.iter()
        .filter(|e| !matches!(e["method"].as_str(), Some("GET" | "HEAD")))
        .map(|e| format!("{} {}", e["operation"], e["path"]))
        .collect()
}

/// The `vipsetup ...` lines of the README section "On your tenancy"'s first sh block.
fn readme_commands() -> Vec<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme
        .split("\n## On your tenancy\n")
        .nth(1)
        .expect("README has the section \"On your tenancy\"");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("the section opens with a sh block");
    block
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim().to_string())
        .filter(|l| l.starts_with("vipsetup "))
        .collect()
}

#[test]
fn the_readme_commands_take_a_subnet_to_a_pair_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let creds = seed(d);
    let subnet = creds["subnet_id"].as_str().unwrap();
    let server = serve(d);
    let commands = readme_commands();
    let verbs: Vec<&str> = commands
        .iter()
        .map(|c| c.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(
        verbs,
        ["init", "doctor", "apply", "destroy"],
        "{commands:?}"
    );
    let blueprint: PathBuf = d.join("my-vip.yaml");
    for cmd in &commands {
        let cmd = cmd.replace("ocid1.subnet.oc1.REGION.YOUR-SUBNET", subnet);
        let mut args: Vec<String> = cmd.split_whitespace().skip(1).map(String::from).collect();
        // No terminal here to confirm on: what a person types at the prompt.
        if matches!(args[0].as_str(), "apply" | "destroy") {
            args.push("--auto-approve".into());
        }
        server.control("DELETE", "/_sim/log", "");
        let o = bin(d)
            .args(&args)
            .env("OCI_CLI_CONFIG_FILE", d.join("config"))
            .env("VIPSETUP_OCI_ENDPOINT", &server.base)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{cmd}: {}", text(&o));
        match args[0].as_str() {
            "init" => {
                assert!(
                    text(&o).contains("next: `vipsetup doctor my-vip.yaml`"),
                    "{}",
                    text(&o)
                );
                assert!(writes(&server).is_empty(), "init wrote");
                // validate accepts it without edits.
                let v = bin(d).args(["validate", "my-vip.yaml"]).output().unwrap();
                assert_eq!(v.status.code(), Some(0), "{}", text(&v));
                let bp = std::fs::read_to_string(&blueprint).unwrap();
                for want in [
                    "  region: ap-tokyo-1\n",
                    &format!("  subnet: {subnet}\n"),
                    &format!(
                        "  compartment: {}\n",
                        creds["compartment_id"].as_str().unwrap()
                    ),
                    "  vip: 10.0.1.2/24\n",
                    "    private_ip: 10.0.1.3\n",
                    "    private_ip: 10.0.1.4\n",
                    "  shape: VM.Standard.E4.Flex\n",
                    "    version: \"9\"\n",
                    "    - ~/.ssh/id_ed25519.pub\n",
                ] {
                    assert!(bp.contains(want), "{want:?} not in\n{bp}");
                }
                assert!(!bp.contains("REPLACEME"), "{bp}");
            }
            "doctor" => {
                assert!(
                    text(&o).contains("doctor: every check passed"),
                    "{}",
                    text(&o)
                );
                assert_eq!(writes(&server), Vec::<String>::new(), "doctor wrote");
            }
            "apply" => {
                let w = writes(&server);
                assert!(w.iter().any(|x| x.contains("LaunchInstance")), "{w:?}");
            }
            _ => {}
        }
    }
    let o = bin(d)
        .args(["plan", "my-vip.yaml", "--destroy", "--detailed-exitcode"])
        .env("OCI_CLI_CONFIG_FILE", d.join("config"))
        .env("VIPSETUP_OCI_ENDPOINT", &server.base)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "something is left: {}", text(&o));
    drop(server);

    // The same blueprint against the built-in simulator, unedited.
    let o = bin(d)
        .args(["apply", "my-vip.yaml", "--simulate", "--auto-approve"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn apply_doctor_refuses_a_subnet_without_a_route_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let creds = seed(d);
    let subnet = creds["subnet_id"].as_str().unwrap();
    let mut w = World::load(&d.join("w.json")).unwrap();
    for rt in w
        .resources
        .get_mut(world::ROUTE_TABLE)
        .unwrap()
        .values_mut()
    {
        rt.insert("routeRules".into(), Value::Array(vec![]));
    }
    w.save(&d.join("w.json")).unwrap();
    let server = serve(d);
    let run = |args: &[&str]| {
        bin(d)
            .args(args)
            .args(["--config-file", "config", "--endpoint", &server.base])
            .output()
            .unwrap()
    };
    let o = run(&["init", "my-vip.yaml", "--subnet", subnet]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    server.control("DELETE", "/_sim/log", "");
    let o = run(&["doctor", "my-vip.yaml", "--output", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["exit_code"], 1);
    let routing = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "routing")
        .unwrap();
    assert_eq!(routing["status"], "problem", "{doc}");
    assert!(
        routing["fix"].as_str().unwrap().contains("service gateway"),
        "{doc}"
    );
    assert_eq!(writes(&server), Vec::<String>::new(), "doctor wrote");

    server.control("DELETE", "/_sim/log", "");
    let o = run(&[
        "apply",
        "my-vip.yaml",
        "--doctor",
        "--auto-approve",
        "--output",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["error"]["code"], "doctor_problems", "{doc}");
    assert!(
        text(&o).contains("doctor found 1 problem(s), so nothing was changed"),
        "{}",
        text(&o)
    );
    assert!(
        text(&o).contains("- routing: the nodes can't reach the OCI API"),
        "{}",
        text(&o)
    );
    assert_eq!(
        writes(&server),
        Vec::<String>::new(),
        "apply --doctor wrote"
    );
}

#[test]
fn an_error_doctor_would_have_caught_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let bp = engine_support::quickstart_in(dir.path(), |t| t);
    std::fs::create_dir_all(dir.path().join("home")).unwrap();
    // The first run makes the simulated world; then the shape leaves the AD.
    let o = bin(dir.path())
        .args(["doctor", "quickstart.yaml", "--simulate"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let wpath = vipsetup::ops::simulate::world_path(&bp);
    let mut w = World::load(&wpath).unwrap();
    let ad = w.availability_domains(&w.home_region.clone())[0].clone();
    vipsetup::simulator::withdraw_shape(&mut w, &ad, "VM.Standard.E4.Flex");
    w.save(&wpath).unwrap();

    let o = bin(dir.path())
        .args(["apply", "quickstart.yaml", "--simulate", "--auto-approve"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("shape VM.Standard.E4.Flex is not offered in"),
        "{}",
        text(&o)
    );
    assert!(
        text(&o).contains("hint: `vipsetup doctor BLUEPRINT` checks this"),
        "{}",
        text(&o)
    );
    let o = bin(dir.path())
        .args(["doctor", "quickstart.yaml", "--simulate"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("PROBLEM shape"), "{}", text(&o));
}

#[test]
fn a_limit_reached_at_launch_names_doctor_which_would_have_said_so() {
    let dir = tempfile::tempdir().unwrap();
    let bp = engine_support::quickstart_in(dir.path(), |t| t);
    std::fs::create_dir_all(dir.path().join("home")).unwrap();
    let o = bin(dir.path())
        .args(["doctor", "quickstart.yaml", "--simulate"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let wpath = vipsetup::ops::simulate::world_path(&bp);
    let mut w = World::load(&wpath).unwrap();
    let region = w.home_region.clone();
    let ad = w.availability_domains(&region)[0].clone();
    // Room for one node of the two.
    vipsetup::simulator::set_limit(&mut w, &region, &ad, "standard-e4-core-count", 1);
    w.save(&wpath).unwrap();

    let o = bin(dir.path())
        .args(["doctor", "quickstart.yaml", "--simulate"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("PROBLEM limits"), "{}", text(&o));
    let o = bin(dir.path())
        .args(["apply", "quickstart.yaml", "--simulate", "--auto-approve"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("LimitExceeded"), "{}", text(&o));
    assert!(
        text(&o).contains("hint: `vipsetup doctor BLUEPRINT` checks this"),
        "{}",
        text(&o)
    );
}
