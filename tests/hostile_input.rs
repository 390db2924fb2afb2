//! Hostile blueprints and key files (issue 11): each must be refused with its exact error, by the
//! real binary running under an address-space limit, well inside a generous wall-clock guard.
//! The guard only stops a hung run; the figures (time, peak memory) are printed, not asserted.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Address-space limit for every run: a few times what `validate` needs (about 20 MB resident),
/// far below what the alias bomb took (8 GB) before the limits.
const MEMORY_LIMIT: u64 = 512 * 1024 * 1024;
/// Kills a run that hangs (a FIFO read used to block forever); not a speed target.
const GUARD: Duration = Duration::from_secs(60);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `vipsetup ARGS` in `dir` under the memory limit and the guard; prints time and peak RSS.
fn run_limited(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vipsetup"));
    cmd.args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: MEMORY_LIMIT,
                rlim_max: MEMORY_LIMIT,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let started = Instant::now();
    // Reaped by the wait4 below (which also gives its peak RSS), not by `Child::wait`.
    #[allow(clippy::zombie_processes)]
    let mut child = cmd.spawn().unwrap();
    let pid = child.id() as libc::pid_t;
    let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
    loop {
        // SAFETY: plain syscall on our own child with valid out-pointers.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        assert!(r == 0, "wait4 failed: {}", std::io::Error::last_os_error());
        if started.elapsed() > GUARD {
            let _ = child.kill();
            let _ = child.wait();
            panic!("vipsetup {args:?} still running after {GUARD:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let (mut stdout, mut stderr) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    eprintln!(
        "vipsetup {:?}: {} ms, peak RSS {} KiB",
        args,
        started.elapsed().as_millis(),
        usage.ru_maxrss
    );
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Run {
        code,
        stdout,
        stderr,
    }
}

fn quickstart() -> String {
    std::fs::read_to_string(repo().join("blueprints/quickstart.yaml")).unwrap()
}

/// A temp dir with the quickstart's key under `keys/`.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("keys")).unwrap();
    std::fs::copy(
        repo().join("blueprints/keys/quickstart.pub"),
        dir.path().join("keys/quickstart.pub"),
    )
    .unwrap();
    dir
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// The quickstart with its ssh key list replaced by one path.
fn with_key_path(path: &str) -> String {
    quickstart().replace("keys/quickstart.pub", path)
}

/// The classic "billion laughs", nine levels of ten: 400 bytes that expand to 10^9 values.
fn alias_bomb() -> String {
    let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..=9 {
        let p = format!("*a{}", i - 1);
        s.push_str(&format!(
            "a{i}: &a{i} [{}]\n",
            std::iter::repeat_n(p.as_str(), 10)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    s
}

enum Content {
    Text(String),
    Bytes(Vec<u8>),
    /// The blueprint path given is this absolute path (a device), not a file in the dir.
    Path(&'static str),
    Fifo,
    Dir,
}

struct Case {
    name: &'static str,
    blueprint: Content,
    /// Extra files made in the dir before the run.
    setup: fn(&Path),
    /// Lines the error output must hold, exactly.
    want: &'static [&'static str],
}

fn nothing(_: &Path) {}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "alias bomb",
            blueprint: Content::Text(alias_bomb()),
            setup: nothing,
            want: &["error: bp.yaml:4:45: this alias takes the blueprint past 10000 values (aliases count at their expanded size); this looks like an alias bomb"],
        },
        Case {
            name: "many small aliases",
            blueprint: Content::Text(format!(
                "a: &a x\nb: [{}]\n",
                std::iter::repeat_n("*a", 101).collect::<Vec<_>>().join(", ")
            )),
            setup: nothing,
            want: &["error: bp.yaml:2:405: more than 100 aliases (`*name`) in the blueprint"],
        },
        Case {
            name: "3000 nested flow lists",
            blueprint: Content::Text("[".repeat(3000) + &"]".repeat(3000)),
            setup: nothing,
            want: &["error: bp.yaml:1:256: brackets nest more than 255 levels deep here"],
        },
        Case {
            name: "3000 nested block lists",
            blueprint: Content::Text("- ".repeat(3000) + "x\n"),
            setup: nothing,
            want: &["error: bp.yaml:1:65: lists and mappings nest more than 32 levels deep here"],
        },
        Case {
            name: "a 2 MiB file",
            blueprint: Content::Text(format!("name: x\n#{}\n", "a".repeat(2 * 1024 * 1024))),
            setup: nothing,
            want: &["error: bp.yaml:1:1: cannot read the blueprint: it is 2097162 bytes, more than the limit of 1048576 bytes"],
        },
        Case {
            name: "/dev/zero as the blueprint",
            blueprint: Content::Path("/dev/zero"),
            setup: nothing,
            want: &["error: /dev/zero:1:1: cannot read the blueprint: it is a character device, not a regular file"],
        },
        Case {
            name: "a FIFO as the blueprint",
            blueprint: Content::Fifo,
            setup: nothing,
            want: &["error: bp.yaml:1:1: cannot read the blueprint: it is a named pipe (FIFO), not a regular file"],
        },
        Case {
            name: "a directory as the blueprint",
            blueprint: Content::Dir,
            setup: nothing,
            want: &["error: bp.yaml:1:1: cannot read the blueprint: it is a directory, not a regular file"],
        },
        Case {
            name: "a NUL byte",
            blueprint: Content::Text(quickstart().replace("  preempt: false", "  preempt: false\0")),
            setup: nothing,
            want: &["error: bp.yaml:33:17: the blueprint contains a NUL byte (0x00) here; a blueprint is plain text"],
        },
        Case {
            name: "an escape character",
            blueprint: Content::Text(quickstart().replacen("name: ", "name: \u{1b}[31m", 1)),
            setup: nothing,
            want: &["error: bp.yaml:4:7: the blueprint contains a control character (U+001B) here; a blueprint is plain text"],
        },
        Case {
            name: "not UTF-8",
            blueprint: Content::Bytes({
                let mut b = b"name: web\nnetwork: ".to_vec();
                b.extend_from_slice(&[0xff, 0xfe, 0x00]);
                b
            }),
            setup: nothing,
            want: &["error: bp.yaml:2:10: the blueprint is not UTF-8 text: byte 0xff here cannot start or continue a character"],
        },
        Case {
            name: "ssh key /dev/zero",
            blueprint: Content::Text(with_key_path("/dev/zero")),
            setup: nothing,
            want: &["instance.ssh_keys[0]: cannot read ssh key file /dev/zero: it is a character device, not a regular file"],
        },
        Case {
            name: "ssh key FIFO",
            blueprint: Content::Text(with_key_path("keys/fifo")),
            setup: |d| mkfifo(&d.join("keys/fifo")),
            want: &["it is a named pipe (FIFO), not a regular file"],
        },
        Case {
            name: "ssh key directory",
            blueprint: Content::Text(with_key_path("keys")),
            setup: nothing,
            want: &["it is a directory, not a regular file"],
        },
        Case {
            name: "ssh key too large",
            blueprint: Content::Text(with_key_path("keys/big.pub")),
            setup: |d| std::fs::write(d.join("keys/big.pub"), "ssh-ed25519 A\n".repeat(10_000)).unwrap(),
            want: &["it is 140000 bytes, more than the limit of 65536 bytes"],
        },
        Case {
            name: "ssh key names a secret",
            blueprint: Content::Text(with_key_path("keys/shadow")),
            setup: |d| std::fs::write(d.join("keys/shadow"), "root:$6$SECRETSALT$SECRETHASH:19000:0:99999:7:::\n").unwrap(),
            want: &["error: bp.yaml:29:7: instance.ssh_keys[0]: a line that does not start with a key type in keys/shadow is not an OpenSSH public key of a type OCI accepts"],
        },
        Case {
            name: "ssh key is binary",
            blueprint: Content::Text(with_key_path("keys/bin")),
            setup: |d| std::fs::write(d.join("keys/bin"), [0x7f, b'E', b'L', b'F', 0xff, 0x00]).unwrap(),
            want: &["holds binary data, not an OpenSSH public key"],
        },
    ]
}

#[test]
fn hostile_inputs_are_refused_cheaply_with_their_exact_error() {
    let mut failures = Vec::new();
    for case in cases() {
        let dir = workdir();
        let bp = dir.path().join("bp.yaml");
        let arg = match &case.blueprint {
            Content::Text(t) => {
                std::fs::write(&bp, t).unwrap();
                "bp.yaml"
            }
            Content::Bytes(b) => {
                std::fs::write(&bp, b).unwrap();
                "bp.yaml"
            }
            Content::Path(p) => p,
            Content::Fifo => {
                mkfifo(&bp);
                "bp.yaml"
            }
            Content::Dir => {
                std::fs::create_dir(&bp).unwrap();
                "bp.yaml"
            }
        };
        (case.setup)(dir.path());
        let out = run_limited(dir.path(), &["validate", arg]);
        let ok = out.code == Some(1)
            && out.stdout.is_empty()
            && case.want.iter().all(|w| out.stderr.contains(w))
            && !out.stderr.contains("SECRET")
            && !out.stderr.contains("root:");
        if !ok {
            failures.push(format!(
                "{}: exit {:?}\nstdout: {}\nstderr: {}",
                case.name, out.code, out.stdout, out.stderr
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));
}

#[test]
fn a_bom_and_crlf_line_ends_are_fine() {
    let dir = workdir();
    let crlf = quickstart().replace('\n', "\r\n");
    for (name, text) in [
        ("bom", format!("\u{feff}{}", quickstart())),
        ("crlf", crlf.clone()),
        ("bom+crlf", format!("\u{feff}{crlf}")),
    ] {
        std::fs::write(dir.path().join("bp.yaml"), text).unwrap();
        let out = run_limited(dir.path(), &["validate", "bp.yaml"]);
        assert_eq!(out.code, Some(0), "{name}: {}", out.stderr);
        assert!(
            out.stdout.contains(": ok (pair quickstart"),
            "{name}: {}",
            out.stdout
        );
    }
    // A BOM leaves positions as the user's editor shows them.
    std::fs::write(
        dir.path().join("bp.yaml"),
        format!(
            "\u{feff}{}",
            quickstart().replace("  preempt: false", "  preempt: maybe")
        ),
    )
    .unwrap();
    let out = run_limited(dir.path(), &["validate", "bp.yaml"]);
    assert!(
        out.stderr.contains("bp.yaml:33:12: failover.preempt"),
        "{}",
        out.stderr
    );
}

#[test]
fn oci_files_are_refused_the_same_way_without_echoing_them() {
    let dir = workdir();
    let d = dir.path();
    std::fs::write(d.join("bp.yaml"), quickstart()).unwrap();
    let profile = |key_file: &str| {
        format!(
            "[DEFAULT]\nuser=ocid1.user.oc1..aaaaaaaau\nfingerprint=11:22\n\
             tenancy=ocid1.tenancy.oc1..aaaaaaaat\nregion=ap-tokyo-1\nkey_file={key_file}\n"
        )
    };
    std::fs::write(d.join("zero-key"), profile("/dev/zero")).unwrap();
    mkfifo(&d.join("fifo-key.pem"));
    std::fs::write(d.join("fifo-key"), profile("fifo-key.pem")).unwrap();
    std::fs::write(d.join("token"), "SECRETTOKENVALUE\n").unwrap();
    let cases: &[(&str, &str)] = &[
        (
            "/dev/zero",
            "cannot read OCI config file /dev/zero: it is a character device, not a regular file",
        ),
        (
            "zero-key",
            "cannot read key file /dev/zero: it is a character device, not a regular file",
        ),
        (
            "fifo-key",
            "fifo-key.pem: it is a named pipe (FIFO), not a regular file",
        ),
        (
            "token",
            "token:1: a value before the first [section] header",
        ),
    ];
    for (config, want) in cases {
        let out = run_limited(
            d,
            &[
                "plan",
                "bp.yaml",
                "--config-file",
                config,
                "--endpoint",
                "http://127.0.0.1:9",
            ],
        );
        assert_eq!(out.code, Some(1), "{config}: {}", out.stderr);
        assert!(
            out.stderr.contains(want),
            "{config}: want {want:?} in {}",
            out.stderr
        );
        assert!(!out.stderr.contains("SECRET"), "{}", out.stderr);
    }
}
