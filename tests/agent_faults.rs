//! The failover agent under every fault at every step (issue 23): a generated matrix of the
//! agent's states x the calls it makes there x the failures OCI and the network give, each case
//! run for real (the rendered agent, the strict simulator, a fault proxy between them) and held
//! to the invariants in `agent_faults/run.rs`. `cargo test` runs a fixed sample;
//! `bench/agent-faults.sh` runs them all and prints the summary line.

mod render_support;

#[path = "agent_faults/matrix.rs"]
mod matrix;
#[path = "oldest-tools/versions.rs"]
mod oldest_tools;
#[path = "agent_faults/proxy.rs"]
mod proxy;
#[path = "agent_faults/run.rs"]
mod run;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use render_support::prereq::{all, met, tool};
use render_support::sim::{Extras, SimPair};

/// Fails under CI and prints the skip elsewhere (the shared rule, tests/support/prereq.rs).
fn prerequisites() -> bool {
    met(all([
        tool("curl", &["--version"]),
        tool("openssl", &["version"]),
        tool("setsid", &["--version"]),
        tool("mkfifo", &["--version"]),
    ]))
}

/// Runs `cases` on `jobs` threads; prints a line per case and the summary; returns the summary
/// and the failed cases' reports.
fn run_all(cases: &[matrix::Case], jobs: usize) -> (String, Vec<String>) {
    let template = SimPair::start_with(&Extras {
        ipv6: true,
        topic: true,
        ..Default::default()
    });
    // Node 2's instance certificate made now, in the world every case copies: the simulator
    // makes one on the first read (an RSA key, seconds on a loaded machine, past the agent's
    // deadline).
    template.be_node(1);
    let _ = template.imds("identity/cert.pem");
    let next = AtomicUsize::new(0);
    let failed = Mutex::new(Vec::new());
    let worst = Mutex::new(0f64);
    // Cases whose time bounds were scaled by the machine's load (run::load_factor), and by how much.
    let scaled = Mutex::new((0usize, 1f64));
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(case) = cases.get(i) else { break };
                let t0 = std::time::Instant::now();
                let out = run::run(&template, case);
                let took = t0.elapsed().as_secs_f64();
                if let Some(t) = out.claim_after_clear {
                    let mut w = worst.lock().unwrap();
                    *w = w.max(t);
                }
                if out.load_factor > 1.0 {
                    let mut sc = scaled.lock().unwrap();
                    sc.0 += 1;
                    sc.1 = sc.1.max(out.load_factor);
                }
                let claim = out
                    .claim_after_clear
                    .map(|t| format!(", claimed {t:.2} s after the fault cleared"))
                    .unwrap_or_default();
                let claim = if out.load_factor > 1.0 {
                    format!("{claim}, bounds x{:.2} (load)", out.load_factor)
                } else {
                    claim
                };
                if out.problems.is_empty() {
                    eprintln!("ok     {}{claim} ({took:.1} s)", case.label());
                } else {
                    let report = format!(
                        "FAILED {}{claim} ({took:.1} s)\n  {}",
                        case.label(),
                        out.problems.join("\n  ")
                    );
                    eprintln!("{report}");
                    failed.lock().unwrap().push(report);
                }
            });
        }
    });
    let failed = failed.into_inner().unwrap();
    let (n_scaled, max_factor) = scaled.into_inner().unwrap();
    let summary = format!(
        "agent faults: {} cases, {} failed, worst claim after the fault cleared {:.2} s \
         (time bounds scaled by load in {n_scaled} cases, at most x{max_factor:.2})",
        cases.len(),
        failed.len(),
        worst.into_inner().unwrap()
    );
    (summary, failed)
}

fn jobs(default: usize) -> usize {
    std::env::var("AGENT_FAULTS_JOBS")
        .ok()
        .and_then(|j| j.parse().ok())
        .unwrap_or(default)
}

#[test]
fn the_matrix_is_large_and_the_sample_reaches_every_failure_and_state() {
    let all = matrix::all();
    assert!(all.len() >= 300, "{} cases", all.len());
    let sample = matrix::sample(SAMPLE);
    assert!(sample.len() >= 40, "{} in the sample", sample.len());
    for f in matrix::FAILURES {
        assert!(
            sample.iter().any(|c| c.failure.name == f.name),
            "the sample has no {} case",
            f.name
        );
    }
    for s in matrix::State::ALL {
        assert!(
            sample.iter().any(|c| c.state == s),
            "the sample has no {} case",
            s.name()
        );
    }
    for count in [1, 3] {
        assert!(sample.iter().any(|c| c.count == count));
    }
}

/// Cases `cargo test` runs.
const SAMPLE: usize = 45;

#[test]
fn a_sample_of_the_fault_matrix_holds_every_invariant() {
    if !prerequisites() {
        return;
    }
    let (summary, failed) = run_all(&matrix::sample(SAMPLE), jobs(2));
    eprintln!("{summary}");
    assert!(failed.is_empty(), "{}\n{summary}", failed.join("\n"));
}

/// The whole matrix (bench/agent-faults.sh): `AGENT_FAULTS_ONLY=<id>,<id>` runs those cases,
/// `AGENT_FAULTS_PART=K/N` those whose id is K modulo N.
#[test]
#[ignore = "the whole matrix takes minutes: bench/agent-faults.sh runs it"]
fn the_whole_fault_matrix() {
    if !prerequisites() {
        return;
    }
    let mut cases = matrix::all();
    if let Ok(only) = std::env::var("AGENT_FAULTS_ONLY") {
        let ids: Vec<usize> = only
            .split(',')
            .filter_map(|i| i.trim().parse().ok())
            .collect();
        cases.retain(|c| ids.contains(&c.id));
    }
    // `AGENT_FAULTS_PART=K/N`: the cases whose id is K modulo N (a deterministic share of the
    // matrix, e.g. one lane takes the even ids and the other the odd ones).
    if let Ok(part) = std::env::var("AGENT_FAULTS_PART") {
        let (k, n) = part
            .split_once('/')
            .and_then(|(k, n)| Some((k.parse::<usize>().ok()?, n.parse::<usize>().ok()?)))
            .filter(|(k, n)| k < n)
            .unwrap_or_else(|| panic!("AGENT_FAULTS_PART={part:?}: expected K/N with K < N"));
        cases.retain(|c| c.id % n == k);
    }
    let (summary, failed) = run_all(&cases, jobs(3));
    // The bench's last line.
    println!("{summary}");
    assert!(failed.is_empty(), "{}\n{summary}", failed.join("\n"));
}

/// The tools the agent runs here, printed; under the oldest-tools lane (tests/oldest-tools/
/// run.sh), the lane's own or a failure.
#[test]
fn node_tools_are_the_lanes_under_the_lane() {
    oldest_tools::check("agent_faults", &oldest_tools::here());
}
