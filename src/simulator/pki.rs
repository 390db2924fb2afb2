//! Keys and certificates of the simulated cloud: RSA key generation and conversions, API key
//! fingerprints, the simulator's CA and intermediate, instance leaf certificates (subject names
//! carry `opc-tenant:` and `opc-instance:` as OCI's do) and session tokens shaped as JWTs.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, LineEnding};
use rsa::RsaPrivateKey;
use serde::{Deserialize, Serialize};

/// A random string of OCID-suffix characters (OCIDs, token ids, secrets, temp names).
pub fn random_suffix(len: usize) -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

/// A fresh 2048-bit RSA key: (PKCS#8 PEM, public key as PKCS#1 DER base64).
pub fn generate_rsa() -> Result<(String, String), String> {
    let key = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).map_err(|e| e.to_string())?;
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| e.to_string())?
        .to_string();
    let public = key
        .to_public_key()
        .to_pkcs1_der()
        .map_err(|e| e.to_string())?;
    Ok((pem, STANDARD.encode(public.as_bytes())))
}

fn parse_private(pem: &str) -> Result<RsaPrivateKey, String> {
    RsaPrivateKey::from_pkcs8_pem(pem)
        .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem))
        .map_err(|e| format!("cannot read the RSA private key: {e}"))
}

/// The public key (PKCS#1 DER, base64) of a PEM private key (PKCS#1 or PKCS#8).
pub fn public_key_from_private_pem(pem: &str) -> Result<String, String> {
    let key = parse_private(pem)?;
    let der = key
        .to_public_key()
        .to_pkcs1_der()
        .map_err(|e| e.to_string())?;
    Ok(STANDARD.encode(der.as_bytes()))
}

/// Re-encodes a PEM private key as PKCS#8 PEM.
pub fn to_pkcs8_pem(pem: &str) -> Result<String, String> {
    Ok(parse_private(pem)?
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| e.to_string())?
        .to_string())
}

/// PKCS#1 DER (base64) from a SubjectPublicKeyInfo given as PEM, or as its base64 body alone
/// (the federation request strips the PEM armour).
pub fn public_key_from_spki(text: &str) -> Result<String, String> {
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("");
    let der = STANDARD
        .decode(body.trim())
        .map_err(|e| format!("public key is not base64: {e}"))?;
    let key = rsa::RsaPublicKey::from_public_key_der(&der)
        .map_err(|e| format!("public key is not an RSA SubjectPublicKeyInfo: {e}"))?;
    let pkcs1 = key.to_pkcs1_der().map_err(|e| e.to_string())?;
    Ok(STANDARD.encode(pkcs1.as_bytes()))
}

/// OCI's API key fingerprint: MD5 of the SubjectPublicKeyInfo DER, lowercase hex with colons.
pub fn fingerprint_md5(public_pkcs1_b64: &str) -> Result<String, String> {
    use md5::Digest as _;
    use rsa::pkcs1::DecodeRsaPublicKey;
    use rsa::pkcs8::EncodePublicKey;
    let der = STANDARD
        .decode(public_pkcs1_b64)
        .map_err(|e| e.to_string())?;
    let key = rsa::RsaPublicKey::from_pkcs1_der(&der).map_err(|e| e.to_string())?;
    let spki = key.to_public_key_der().map_err(|e| e.to_string())?;
    let digest = md5::Md5::digest(spki.as_bytes());
    Ok(crate::oci::keys::colon_hex(&digest, false))
}

fn dn(cn: &str) -> rcgen::DistinguishedName {
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, cn);
    dn.push(rcgen::DnType::OrganizationName, "vipsetup simulator");
    dn
}

fn intermediate_params() -> rcgen::CertificateParams {
    let mut p = rcgen::CertificateParams::default();
    p.distinguished_name = dn("PKISVC Identity Intermediate (simulated)");
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    p
}

/// Creates the simulator's CA and intermediate (ECDSA P-256: fast, and only they sign).
pub fn new_pki() -> Result<Pki, String> {
    let ca_key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let mut ca_params = rcgen::CertificateParams::default();
    ca_params.distinguished_name = dn("vipsetup simulator root CA");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
    let ca = ca_params.self_signed(&ca_key).map_err(|e| e.to_string())?;
    let int_key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let int = intermediate_params()
        .signed_by(&int_key, &ca, &ca_key)
        .map_err(|e| e.to_string())?;
    Ok(Pki {
        ca_cert_pem: ca.pem(),
        intermediate_key_pem: int_key.serialize_pem(),
        intermediate_cert_pem: int.pem(),
    })
}

/// Issues an instance's identity certificate under the intermediate, with a fresh RSA key.
pub fn issue_leaf(
    pki: &Pki,
    tenancy_id: &str,
    compartment_id: &str,
    instance_id: &str,
) -> Result<LeafCert, String> {
    let int_key = rcgen::KeyPair::from_pem(&pki.intermediate_key_pem).map_err(|e| e.to_string())?;
    // rcgen needs the issuer as a Certificate only for its name and key id: rebuild it from the
    // same parameters and key, so a world reloaded in another process can keep issuing.
    let issuer = intermediate_params()
        .self_signed(&int_key)
        .map_err(|e| e.to_string())?;
    let (key_pem, public) = generate_rsa()?;
    let leaf_key = rcgen::KeyPair::from_pem(&key_pem).map_err(|e| e.to_string())?;
    let mut p = rcgen::CertificateParams::default();
    let mut name = rcgen::DistinguishedName::new();
    name.push(rcgen::DnType::CommonName, instance_id);
    name.push(
        rcgen::DnType::OrganizationalUnitName,
        format!("opc-instance:{instance_id}"),
    );
    // a second OU (rcgen keys names by type, so the custom OID form carries it)
    name.push(
        rcgen::DnType::CustomDnType(vec![2, 5, 4, 11]),
        format!("opc-compartment:{compartment_id}"),
    );
    name.push(
        rcgen::DnType::OrganizationName,
        format!("opc-tenant:{tenancy_id}"),
    );
    p.distinguished_name = name;
    p.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyEncipherment,
    ];
    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let cert = p
        .signed_by(&leaf_key, &issuer, &int_key)
        .map_err(|e| e.to_string())?;
    let der = cert.der().as_ref().to_vec();
    let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &der);
    let sha256 = ring::digest::digest(&ring::digest::SHA256, &der);
    Ok(LeafCert {
        cert_pem: cert.pem(),
        key_pem,
        public_key: public,
        sha1: crate::oci::keys::colon_hex(sha1.as_ref(), true),
        sha256: crate::oci::keys::colon_hex(sha256.as_ref(), false),
    })
}

/// The DER of a certificate given as PEM or as its base64 body alone.
pub fn cert_der(text: &str) -> Option<Vec<u8>> {
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    STANDARD.decode(body).ok()
}

/// A JWT-shaped session token (HS256 under the world's secret) with `iat`/`exp`.
pub fn session_token(
    secret: &str,
    tenancy_id: &str,
    instance_id: &str,
    iat: i64,
    exp: i64,
) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT","kid":"sim"}"#);
    let claims = serde_json::json!({
        "sub": instance_id, "iss": "authService.oracle.com", "aud": "oci",
        "ttype": "x509", "opc-certtype": "instance", "opc-instance": instance_id,
        "opc-tenant": tenancy_id, "iat": iat, "exp": exp, "jti": random_suffix(24),
    });
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let sig = ring::hmac::sign(&key, format!("{header}.{payload}").as_bytes());
    format!(
        "{header}.{payload}.{}",
        URL_SAFE_NO_PAD.encode(sig.as_ref())
    )
}

/// The SubjectPublicKeyInfo PEM of a PEM private key (what `/_sim/sessions` takes).
pub fn public_spki_pem(private_pem: &str) -> Result<String, String> {
    use rsa::pkcs8::EncodePublicKey;
    parse_private(private_pem)?
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| e.to_string())
}

/// The simulator's certificate authority and intermediate (the intermediate signs leafs).
#[derive(Clone, Serialize, Deserialize)]
pub struct Pki {
    pub ca_cert_pem: String,
    pub intermediate_key_pem: String,
    pub intermediate_cert_pem: String,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pki([redacted])")
    }
}

/// An instance's identity certificate and key, served by IMDS.
#[derive(Clone, Serialize, Deserialize)]
pub struct LeafCert {
    pub cert_pem: String,
    pub key_pem: String,
    /// leaf public key, PKCS#1 DER in base64 (verifies the federation request)
    pub public_key: String,
    /// SHA-1 of the certificate DER, uppercase hex with colons (keyId `fed-x509`)
    pub sha1: String,
    /// SHA-256 of the certificate DER, lowercase hex with colons (keyId `fed-x509-sha256`)
    pub sha256: String,
}

impl std::fmt::Debug for LeafCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LeafCert([redacted])")
    }
}
