//! The signer against every shared OCI signing vector (tests/vectors/oci-signing/README.md).

use std::path::PathBuf;

use base64::Engine as _;
use ring::signature::{UnparsedPublicKey, RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY};
use serde_json::Value;
use url::Url;
use vipsetup::oci::signer::{self, HeaderSet, RequestParts};
use vipsetup::oci::PrivateKey;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/oci-signing")
}

fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(dir().join("vectors.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["cases"].as_array().unwrap().clone()
}

fn s<'a>(case: &'a Value, key: &str) -> &'a str {
    case[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing in {}", case["name"]))
}

fn parts_of<'a>(case: &'a Value, url: &'a Url) -> RequestParts<'a> {
    RequestParts {
        method: s(case, "method"),
        url,
        date: s(case, "date"),
        content_type: "application/json",
        body: case["body"].as_str().map(str::as_bytes),
    }
}

/// The public key (PKCS#1 RSAPublicKey DER) of a 1024-bit PEM private key, parsed with the
/// `rsa` crate because ring refuses to load keys that small.
fn legacy_public_key(pem_text: &str) -> Vec<u8> {
    use rsa::pkcs1::{DecodeRsaPrivateKey as _, EncodeRsaPublicKey as _};
    let key = rsa::RsaPrivateKey::from_pkcs1_pem(pem_text).unwrap();
    key.to_public_key()
        .to_pkcs1_der()
        .unwrap()
        .as_bytes()
        .to_vec()
}

#[test]
fn the_vector_set_is_complete() {
    let names: Vec<String> = cases().iter().map(|c| s(c, "name").to_string()).collect();
    // Guards against a silently truncated vectors.json making the other tests vacuous.
    assert!(names.len() >= 6, "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("go-sdk")));
    assert!(names.iter().any(|n| n.starts_with("python-sdk")));
}

#[test]
fn signing_strings_match_every_vector() {
    for case in cases() {
        let url = Url::parse(s(&case, "url")).unwrap();
        let ss = signer::signing_string(&parts_of(&case, &url), HeaderSet::Api);
        assert_eq!(
            ss.to_string(),
            s(&case, "signing_string"),
            "{}",
            case["name"]
        );
        assert_eq!(
            ss.header_names(),
            s(&case, "signed_headers"),
            "{}",
            case["name"]
        );
    }
}

#[test]
fn oracle_1024_bit_signatures_verify() {
    let mut checked = 0;
    for case in cases() {
        if s(&case, "key") != "go-sdk-1024.pem" {
            continue;
        }
        let pem_text = std::fs::read_to_string(dir().join(s(&case, "key"))).unwrap();
        let public = legacy_public_key(&pem_text);
        let url = Url::parse(s(&case, "url")).unwrap();
        let ss = signer::signing_string(&parts_of(&case, &url), HeaderSet::Api).to_string();
        let sig = base64::engine::general_purpose::STANDARD
            .decode(s(&case, "signature"))
            .unwrap();
        UnparsedPublicKey::new(&RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY, &public)
            .verify(ss.as_bytes(), &sig)
            .unwrap_or_else(|_| panic!("{} does not verify", case["name"]));
        // A changed signing string must not verify, or the check above proves nothing.
        let tampered = ss.replace("21:31:40", "21:31:41");
        assert!(
            UnparsedPublicKey::new(&RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY, &public)
                .verify(tampered.as_bytes(), &sig)
                .is_err()
        );
        let authorization = signer::authorization(
            s(&case, "key_id"),
            s(&case, "signed_headers"),
            s(&case, "signature"),
        );
        assert!(authorization.starts_with("Signature "));
        checked += 1;
    }
    assert_eq!(checked, 3);
}

#[test]
fn python_2048_bit_signatures_are_reproduced_byte_for_byte() {
    let mut checked = 0;
    for case in cases() {
        if s(&case, "key") != "python-sdk-2048.pem" {
            continue;
        }
        let key = PrivateKey::from_file(&dir().join(s(&case, "key")), None).unwrap();
        assert_eq!(key.fingerprint(), s(&case, "key_fingerprint"));
        let url = Url::parse(s(&case, "url")).unwrap();
        let signed = signer::sign(
            &parts_of(&case, &url),
            HeaderSet::Api,
            s(&case, "key_id"),
            &key,
        )
        .unwrap();
        assert_eq!(signed.signature, s(&case, "signature"), "{}", case["name"]);
        assert_eq!(
            signed.authorization.expose(),
            s(&case, "authorization"),
            "{}",
            case["name"]
        );
        // Every header the SDK sent that we sign must carry the same value.
        let sent = case["headers"].as_object().unwrap();
        for (name, value) in &signed.headers {
            if let Some(expected) = sent.get(name) {
                assert_eq!(
                    value,
                    expected.as_str().unwrap(),
                    "{} header {name}",
                    case["name"]
                );
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 3);
}

#[test]
fn fingerprint_of_the_go_key_is_md5_of_its_spki() {
    // ring will not load the 1024-bit key, so compute the SPKI with the rsa crate and compare
    // with the fingerprint other ports publish for it.
    use md5::Digest as _;
    use rsa::pkcs1::DecodeRsaPrivateKey as _;
    use rsa::pkcs8::EncodePublicKey as _;
    let pem_text = std::fs::read_to_string(dir().join("go-sdk-1024.pem")).unwrap();
    let key = rsa::RsaPrivateKey::from_pkcs1_pem(&pem_text).unwrap();
    let spki = key.to_public_key().to_public_key_der().unwrap();
    let fp = vipsetup::oci::keys::colon_hex(&md5::Md5::digest(spki.as_bytes()), false);
    assert_eq!(fp, "73:61:a2:21:67:e0:df:be:7e:4b:93:1e:15:98:a5:b7");
}
