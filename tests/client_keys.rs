//! Key files as users have them: PKCS#1, PKCS#8, pass-phrase protected in each of OpenSSL's
//! formats, wrong pass phrases, too-small keys, loose permissions (fixtures: tests/fixtures/oci-keys).

use std::path::PathBuf;

use vipsetup::oci::keys::{permission_warning, KeyError};
use vipsetup::oci::{PrivateKey, SecretString};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/oci-keys")
        .join(name)
}

fn expected_fingerprint() -> String {
    std::fs::read_to_string(fixture("fingerprint.txt"))
        .unwrap()
        .trim()
        .to_string()
}

fn pass() -> SecretString {
    SecretString::from("vipsetup-test")
}

#[test]
fn plain_pkcs1_and_pkcs8_load_with_the_openssl_fingerprint() {
    for name in ["pkcs1.pem", "pkcs8.pem"] {
        let key = PrivateKey::from_file(&fixture(name), None).unwrap();
        assert_eq!(key.fingerprint(), expected_fingerprint(), "{name}");
    }
}

#[test]
fn encrypted_keys_decrypt_with_the_pass_phrase() {
    for name in [
        "pkcs1-aes128.pem",
        "pkcs1-aes256.pem",
        "pkcs1-des3.pem",
        "pkcs8-aes256.pem",
        "pkcs8-scrypt.pem",
    ] {
        let key = PrivateKey::from_file(&fixture(name), Some(&pass()))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(key.fingerprint(), expected_fingerprint(), "{name}");
    }
}

#[test]
fn encrypted_keys_without_a_pass_phrase_are_refused_naming_the_file() {
    for name in ["pkcs1-aes128.pem", "pkcs8-aes256.pem"] {
        let err = PrivateKey::from_file(&fixture(name), None).unwrap_err();
        assert!(
            matches!(err, KeyError::PassPhraseRequired { .. }),
            "{name}: {err}"
        );
        let msg = err.to_string();
        assert!(msg.contains(name), "{msg}");
        assert!(msg.contains("pass_phrase"), "{msg}");
    }
}

#[test]
fn wrong_pass_phrase_is_a_decrypt_error() {
    let wrong = SecretString::from("not-it");
    for name in ["pkcs1-aes256.pem", "pkcs8-aes256.pem"] {
        let err = PrivateKey::from_file(&fixture(name), Some(&wrong)).unwrap_err();
        // A wrong key can occasionally leave valid padding; then the DER is garbage instead.
        assert!(
            matches!(err, KeyError::Decrypt { .. } | KeyError::Rejected { .. }),
            "{name}: {err}"
        );
        assert!(!err.to_string().contains("not-it"));
    }
}

#[test]
fn small_keys_and_non_keys_are_refused() {
    let err = PrivateKey::from_file(&fixture("small-1024.pem"), None).unwrap_err();
    assert!(matches!(err, KeyError::Rejected { .. }), "{err}");
    assert!(err.to_string().contains("2048"));
    let err = PrivateKey::from_file(&fixture("README.md"), None).unwrap_err();
    assert!(matches!(err, KeyError::NotPem { .. }), "{err}");
    let err = PrivateKey::from_file(&fixture("missing.pem"), None).unwrap_err();
    assert!(matches!(err, KeyError::Read { .. }), "{err}");
}

#[test]
fn debug_never_shows_key_material() {
    let key = PrivateKey::from_file(&fixture("pkcs1.pem"), None).unwrap();
    let dbg = format!("{key:?}");
    assert!(dbg.contains("[redacted]"));
    assert!(dbg.contains(&expected_fingerprint()));
    let pem_body = std::fs::read_to_string(fixture("pkcs1.pem")).unwrap();
    let line = pem_body.lines().nth(1).unwrap();
    assert!(!dbg.contains(line));
}

#[test]
fn loose_permissions_warn_and_private_ones_do_not() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.pem");
    std::fs::copy(fixture("pkcs1.pem"), &path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let warning = permission_warning(&path).expect("0644 must warn");
    assert!(warning.contains("chmod 600"), "{warning}");
    assert!(warning.contains("0644"), "{warning}");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(permission_warning(&path), None);
}

#[test]
fn generated_session_keys_are_2048_bit_and_distinct() {
    let a = PrivateKey::generate_session_key().unwrap();
    let b = PrivateKey::generate_session_key().unwrap();
    assert_ne!(a.fingerprint(), b.fingerprint());
    // 2048-bit modulus: PKCS#1 public key DER is 270 bytes for n of 256 bytes and e = 65537.
    assert_eq!(a.public_key_pkcs1_der().len(), 270);
    assert!(a.public_key_pem().starts_with("-----BEGIN PUBLIC KEY-----"));
    let sig = a.sign_sha256(b"x").unwrap();
    assert_eq!(sig.len(), 256);
}

#[test]
fn figures_session_key_generation_and_signing() {
    // Prints figures only (no timed assertion): instance-principal federation generates one
    // 2048-bit key per token, and every request is one RSA signature.
    let start = std::time::Instant::now();
    let n = 3;
    for _ in 0..n {
        PrivateKey::generate_session_key().unwrap();
    }
    let keygen = start.elapsed() / n;
    let key = PrivateKey::from_file(&fixture("pkcs1.pem"), None).unwrap();
    let start = std::time::Instant::now();
    let m = 200;
    for i in 0..m {
        key.sign_sha256(format!("date: {i}").as_bytes()).unwrap();
    }
    let sign = start.elapsed() / m;
    println!("figures: 2048-bit session key generation {keygen:?} each, rsa-sha256 signature {sign:?} each");
}
