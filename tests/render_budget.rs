//! OCI's 32,000-byte instance metadata limit (user data as base64, the ssh keys and, from the
//! first change of settings on, the `vipsetup-settings` key): the quickstart leaves room for a
//! user's own keys, because the shipped scripts lose their comment lines (the templates keep
//! them).

mod render_support;

use base64::Engine as _;
use render_support::*;
use vipsetup::render::{self, paths, Facts};

/// A well-formed 4096-bit RSA public key line (`ssh-keygen -t rsa -b 4096` gives the same
/// length: e = 65537 and a 513-byte modulus with its sign byte), made without ssh-keygen.
fn rsa_4096_public_key(seed: u8, comment: &str) -> String {
    let mut blob = Vec::new();
    let mut put = |b: &[u8]| {
        blob.extend_from_slice(&(b.len() as u32).to_be_bytes());
        blob.extend_from_slice(b);
    };
    put(b"ssh-rsa");
    put(&[0x01, 0x00, 0x01]);
    let mut n = vec![0u8];
    n.extend((0..512u32).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) | 0x80));
    put(&n);
    format!(
        "ssh-rsa {} {comment}",
        base64::engine::general_purpose::STANDARD.encode(&blob)
    )
}

#[test]
fn quickstart_with_three_rsa_4096_keys_leaves_4_kb_to_spare() {
    let keys: Vec<String> = (1..=3)
        .map(|i| rsa_4096_public_key(i, &format!("someone{i}@workstation-{i}.example.com")))
        .collect();
    assert!(keys.iter().all(|k| k.len() > 740), "{}", keys[0].len());
    let list: String = keys.iter().map(|k| format!("    - {k}\n")).collect();
    let bp = load_variant(
        "blueprints/quickstart.yaml",
        &[(
            "    - keys/quickstart.pub   # DEMO key (private half discarded): replace with ~/.ssh/id_ed25519.pub\n",
            &list,
        )],
    );
    assert_eq!(bp.instance.ssh_keys.len(), 3);
    let facts = Facts::offline(&bp).unwrap();
    let nodes = render::render(&bp, &facts).unwrap();
    for n in &nodes {
        let keys_bytes = bp.instance.ssh_authorized_keys().len();
        // The settings key counts too once the first change sends it (render::user_data).
        let settings_bytes = n.update_bytes - n.metadata_bytes;
        let spare = render::METADATA_LIMIT - n.update_bytes;
        println!(
            "{}: cloud-config {} bytes, user data {} bytes{}, ssh keys {keys_bytes} bytes, \
             settings key {settings_bytes} bytes, metadata {} of {} bytes, {spare} to spare",
            n.name,
            n.cloud_config.len(),
            n.user_data.len(),
            if n.gzipped { " (gzipped, base64)" } else { "" },
            n.update_bytes,
            render::METADATA_LIMIT
        );
        assert!(spare >= 4096, "{}: only {spare} bytes to spare", n.name);
    }
}

#[test]
fn shipped_scripts_have_no_comment_lines_but_keep_shebang_and_directives() {
    for (variant, _, nodes) in rendered() {
        for n in nodes {
            for f in &n.files {
                let is_script = [
                    paths::AGENT,
                    paths::SIGN_LIB,
                    paths::INSTALLER,
                    paths::HEALTH_CHECK,
                ]
                .contains(&f.path.as_str());
                if !is_script {
                    continue;
                }
                let template = match f.path.as_str() {
                    p if p == paths::AGENT => render::AGENT_SCRIPT,
                    p if p == paths::SIGN_LIB => render::SIGN_LIB_SCRIPT,
                    p if p == paths::INSTALLER => render::INSTALLER_SCRIPT,
                    _ => "",
                };
                for (i, line) in f.content.lines().enumerate() {
                    let t = line.trim_start();
                    assert!(
                        !t.is_empty()
                            && (!t.starts_with('#')
                                || (i == 0 && t.starts_with("#!"))
                                || t.contains("shellcheck ")),
                        "{variant}/{}: {} line {} was shipped: {line:?}",
                        n.name,
                        f.path,
                        i + 1
                    );
                }
                if !template.is_empty() {
                    // Stripping only removes lines and the indentation of code lines: every
                    // shipped line is a template line, in order, less its leading blanks at
                    // most, and every directive survives.
                    let mut rest = template.lines();
                    for line in f.content.lines() {
                        assert!(
                            rest.any(|t| t == line || t.trim_start_matches([' ', '\t']) == line),
                            "{}: {line:?} is not a template line",
                            f.path
                        );
                    }
                    let directives = |s: &str| s.matches("# shellcheck ").count();
                    assert_eq!(directives(&f.content), directives(template), "{}", f.path);
                    assert!(f.content.len() < template.len(), "{}", f.path);
                }
            }
        }
    }
}
