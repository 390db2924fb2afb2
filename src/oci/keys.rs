//! RSA private keys for signing: PEM loading (PKCS#1, PKCS#8, pass-phrase protected), session key
//! generation, public key export and the OCI fingerprint.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use md5::Digest as _;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use rsa::pkcs1::DecodeRsaPublicKey as _;
use rsa::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _, LineEnding};

use super::secret::SecretString;

/// Why a key could not be used. `origin` names where the key came from (a file path, or the
/// instance metadata service) so the message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key file {origin}: {source}; check key_file in the OCI config profile")]
    Read {
        origin: String,
        source: std::io::Error,
    },
    #[error("{origin} is not a PEM private key ({detail}); point key_file at the PEM private key whose public half you uploaded")]
    NotPem { origin: String, detail: String },
    #[error("{origin} is encrypted but no pass phrase was given; add pass_phrase to the OCI config profile")]
    PassPhraseRequired { origin: String },
    #[error("cannot decrypt {origin} ({detail}); check pass_phrase in the OCI config profile")]
    Decrypt { origin: String, detail: String },
    #[error("{origin} is encrypted with {cipher}, which vipsetup cannot decrypt; re-encrypt it with `openssl pkcs8 -topk8 -v2 aes-256-cbc -in KEY -out NEW_KEY` or remove the pass phrase")]
    UnsupportedCipher { origin: String, cipher: String },
    #[error("{origin} is not a usable RSA private key ({detail}); OCI needs RSA keys of at least 2048 bits, create one with `oci setup keys`")]
    Rejected { origin: String, detail: String },
    #[error("cannot generate a session key pair: {0}; this is a bug, please report it")]
    Generate(String),
    #[error("signing failed: {0}; this is a bug, please report it")]
    Sign(String),
}

/// An RSA key pair ready to sign with rsa-sha256. Cheap to clone; `Debug` shows only the
/// fingerprint.
#[derive(Clone)]
pub struct PrivateKey {
    pair: Arc<RsaKeyPair>,
    spki_der: Arc<Vec<u8>>,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("fingerprint", &self.fingerprint())
            .field("private", &"[redacted]")
            .finish()
    }
}

impl PrivateKey {
    /// Reads a PEM key file, decrypting it with `pass_phrase` when it is protected.
    pub fn from_file(path: &Path, pass_phrase: Option<&SecretString>) -> Result<Self, KeyError> {
        let origin = format!("key file {}", path.display());
        let text = crate::bounded_read::read_io(path, crate::bounded_read::limits::KEY_FILE)
            .map_err(|source| KeyError::Read {
                origin: path.display().to_string(),
                source,
            })?;
        Self::from_pem(&text, pass_phrase, &origin)
    }

    /// Parses a PEM private key: `RSA PRIVATE KEY` (PKCS#1, optionally with OpenSSL's legacy
    /// `Proc-Type: 4,ENCRYPTED`), `PRIVATE KEY` (PKCS#8) or `ENCRYPTED PRIVATE KEY` (PKCS#8 PBES2).
    pub fn from_pem(
        pem_bytes: &[u8],
        pass_phrase: Option<&SecretString>,
        origin: &str,
    ) -> Result<Self, KeyError> {
        let parsed = pem::parse(pem_bytes).map_err(|e| KeyError::NotPem {
            origin: origin.to_string(),
            detail: e.to_string(),
        })?;
        let need_pass = || KeyError::PassPhraseRequired {
            origin: origin.to_string(),
        };
        match parsed.tag() {
            "RSA PRIVATE KEY" => {
                let der = if parsed
                    .headers()
                    .get("Proc-Type")
                    .is_some_and(|v| v.contains("ENCRYPTED"))
                {
                    let pass = pass_phrase.ok_or_else(need_pass)?;
                    let dek = parsed
                        .headers()
                        .get("DEK-Info")
                        .ok_or_else(|| KeyError::NotPem {
                            origin: origin.to_string(),
                            detail: "encrypted PEM without a DEK-Info header".into(),
                        })?;
                    legacy::decrypt(dek, pass.expose().as_bytes(), parsed.contents(), origin)?
                } else {
                    parsed.contents().to_vec()
                };
                Self::from_pkcs1_der(&der, origin)
            }
            "PRIVATE KEY" => Self::from_pkcs8_der(parsed.contents(), origin),
            "ENCRYPTED PRIVATE KEY" => {
                let pass = pass_phrase.ok_or_else(need_pass)?;
                let info =
                    pkcs8::EncryptedPrivateKeyInfo::try_from(parsed.contents()).map_err(|e| {
                        KeyError::NotPem {
                            origin: origin.to_string(),
                            detail: e.to_string(),
                        }
                    })?;
                let doc =
                    info.decrypt(pass.expose().as_bytes())
                        .map_err(|e| KeyError::Decrypt {
                            origin: origin.to_string(),
                            detail: format!(
                                "{e}: wrong pass phrase or an unsupported PKCS#8 cipher"
                            ),
                        })?;
                Self::from_pkcs8_der(doc.as_bytes(), origin)
            }
            other => Err(KeyError::NotPem {
                origin: origin.to_string(),
                detail: format!("found a `{other}` block, expected an RSA private key"),
            }),
        }
    }

    pub fn from_pkcs8_der(der: &[u8], origin: &str) -> Result<Self, KeyError> {
        let pair = RsaKeyPair::from_pkcs8(der).map_err(|e| KeyError::Rejected {
            origin: origin.to_string(),
            detail: e.to_string(),
        })?;
        Self::from_pair(pair, origin)
    }

    pub fn from_pkcs1_der(der: &[u8], origin: &str) -> Result<Self, KeyError> {
        let pair = RsaKeyPair::from_der(der).map_err(|e| KeyError::Rejected {
            origin: origin.to_string(),
            detail: e.to_string(),
        })?;
        Self::from_pair(pair, origin)
    }

    fn from_pair(pair: RsaKeyPair, origin: &str) -> Result<Self, KeyError> {
        let spki = rsa::RsaPublicKey::from_pkcs1_der(pair.public().as_ref())
            .and_then(|k| k.to_public_key_der().map_err(rsa::pkcs1::Error::from))
            .map_err(|e| KeyError::Rejected {
                origin: origin.to_string(),
                detail: format!("public key: {e}"),
            })?;
        Ok(PrivateKey {
            pair: Arc::new(pair),
            spki_der: Arc::new(spki.as_bytes().to_vec()),
        })
    }

    /// A fresh 2048-bit key (e = 65537), as the SDKs make for each instance-principal session.
    pub fn generate_session_key() -> Result<Self, KeyError> {
        let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        let der = key
            .to_pkcs8_der()
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        Self::from_pkcs8_der(der.as_bytes(), "generated session key")
    }

    /// DER SubjectPublicKeyInfo of the public half.
    pub fn public_key_spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// PKCS#1 RSAPublicKey DER of the public half (the form ring verifies with).
    pub fn public_key_pkcs1_der(&self) -> &[u8] {
        self.pair.public().as_ref()
    }

    /// `-----BEGIN PUBLIC KEY-----` PEM of the public half.
    pub fn public_key_pem(&self) -> String {
        rsa::RsaPublicKey::from_pkcs1_der(self.public_key_pkcs1_der())
            .ok()
            .and_then(|k| k.to_public_key_pem(LineEnding::LF).ok())
            .unwrap_or_default()
    }

    /// The OCI API key fingerprint: MD5 of the DER SubjectPublicKeyInfo, lowercase hex with colons.
    pub fn fingerprint(&self) -> String {
        colon_hex(&md5::Md5::digest(self.spki_der.as_slice()), false)
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256.
    pub fn sign_sha256(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut sig = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                message,
                &mut sig,
            )
            .map_err(|e| KeyError::Sign(e.to_string()))?;
        Ok(sig)
    }

    /// Base64 of [`PrivateKey::sign_sha256`].
    pub fn sign_sha256_base64(&self, message: &[u8]) -> Result<String, KeyError> {
        Ok(base64::engine::general_purpose::STANDARD.encode(self.sign_sha256(message)?))
    }
}

/// Bytes as two-digit hex joined by colons (`ab:cd:...`).
pub fn colon_hex(bytes: &[u8], upper: bool) -> String {
    bytes
        .iter()
        .map(|b| {
            if upper {
                format!("{b:02X}")
            } else {
                format!("{b:02x}")
            }
        })
        .collect::<Vec<_>>()
        .join(":")
}

/// A warning for a key file that group or others can read (what ssh and the OCI CLI complain
/// about), or `None` when the mode is private or cannot be read.
pub fn permission_warning(path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Some(format!(
                "key file {} is accessible by group or others (mode {:04o}); run `chmod 600 {}`",
                path.display(),
                mode,
                path.display()
            ));
        }
        None
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// OpenSSL's traditional encrypted PEM (`Proc-Type: 4,ENCRYPTED`, `DEK-Info: CIPHER,IV`): the key
/// comes from EVP_BytesToKey (MD5, one round, salt = first 8 bytes of the IV).
mod legacy {
    use cbc::cipher::{block_padding::Pkcs7, BlockDecryptMut, KeyIvInit};
    use md5::Digest as _;

    use super::KeyError;

    pub(super) fn decrypt(
        dek_info: &str,
        pass: &[u8],
        data: &[u8],
        origin: &str,
    ) -> Result<Vec<u8>, KeyError> {
        let (cipher, iv_hex) = dek_info.split_once(',').unwrap_or((dek_info, ""));
        let cipher = cipher.trim().to_ascii_uppercase();
        let iv = hex_decode(iv_hex.trim()).ok_or_else(|| KeyError::NotPem {
            origin: origin.to_string(),
            detail: format!("bad IV in DEK-Info `{dek_info}`"),
        })?;
        let key_len = match cipher.as_str() {
            "AES-128-CBC" => 16,
            "AES-192-CBC" | "DES-EDE3-CBC" => 24,
            "AES-256-CBC" => 32,
            _ => {
                return Err(KeyError::UnsupportedCipher {
                    origin: origin.to_string(),
                    cipher,
                })
            }
        };
        if iv.len() < 8 {
            return Err(KeyError::NotPem {
                origin: origin.to_string(),
                detail: "IV shorter than 8 bytes".into(),
            });
        }
        let key = bytes_to_key(pass, &iv[..8], key_len);
        let mut buf = data.to_vec();
        let bad = |detail: String| KeyError::Decrypt {
            origin: origin.to_string(),
            detail,
        };
        let plain_len = {
            let out = match cipher.as_str() {
                "AES-128-CBC" => cbc::Decryptor::<aes::Aes128>::new_from_slices(&key, &iv)
                    .map_err(|e| bad(e.to_string()))?
                    .decrypt_padded_mut::<Pkcs7>(&mut buf),
                "AES-192-CBC" => cbc::Decryptor::<aes::Aes192>::new_from_slices(&key, &iv)
                    .map_err(|e| bad(e.to_string()))?
                    .decrypt_padded_mut::<Pkcs7>(&mut buf),
                "AES-256-CBC" => cbc::Decryptor::<aes::Aes256>::new_from_slices(&key, &iv)
                    .map_err(|e| bad(e.to_string()))?
                    .decrypt_padded_mut::<Pkcs7>(&mut buf),
                _ => cbc::Decryptor::<des::TdesEde3>::new_from_slices(&key, &iv)
                    .map_err(|e| bad(e.to_string()))?
                    .decrypt_padded_mut::<Pkcs7>(&mut buf),
            };
            out.map_err(|_| bad("wrong pass phrase".into()))?.len()
        };
        buf.truncate(plain_len);
        Ok(buf)
    }

    fn bytes_to_key(pass: &[u8], salt: &[u8], len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 16);
        let mut prev: Vec<u8> = Vec::new();
        while out.len() < len {
            let mut h = md5::Md5::new();
            h.update(&prev);
            h.update(pass);
            h.update(salt);
            prev = h.finalize().to_vec();
            out.extend_from_slice(&prev);
        }
        out.truncate(len);
        out
    }

    fn hex_decode(s: &str) -> Option<Vec<u8>> {
        if !s.len().is_multiple_of(2) {
            return None;
        }
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
            .collect()
    }
}
