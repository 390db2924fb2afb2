//! Assembles the agent's two shipped scripts from their parts (templates/agent/<script>/*.sh,
//! concatenated in file-name order), so each job has a file small enough to read in one sitting
//! while a node still receives the same two files. `cat templates/agent/oci-sign/*.sh` gives the
//! same bytes (the shell's glob sorts the same way), for scripts outside cargo.

use std::fs;
use std::path::Path;

fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    for script in ["oci-sign", "vip-agent"] {
        let dir = Path::new("templates/agent").join(script);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut parts: Vec<_> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("a readable directory entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "sh"))
            .collect();
        parts.sort();
        let mut text = String::new();
        for p in &parts {
            println!("cargo:rerun-if-changed={}", p.display());
            text.push_str(
                &fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
            );
        }
        fs::write(Path::new(&out).join(format!("{script}.sh")), text).expect("OUT_DIR is writable");
    }
}
