//! Oracle Cloud IDs (`ocid1.<type>.<realm>.<region>.<unique>`): shape checks only.

use std::fmt;

/// A syntactically valid OCID. The resource type is checked against the field it fills.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Ocid(String);

/// Why a string is not an acceptable OCID for a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OcidError {
    /// Not of the form `ocid1.<type>.<realm>.<region>.<unique>`.
    Malformed(String),
    /// Well formed, but names another kind of resource.
    WrongType { found: String },
    /// The region part is empty for a regional resource.
    MissingRegion,
}

impl Ocid {
    /// Checks the OCID's form and that its type is one of `types`. `regional` resources (subnets,
    /// images, instances...) must carry a region; tenancies and compartments never do.
    pub fn parse(s: &str, types: &[&str], regional: bool) -> Result<Ocid, OcidError> {
        let parts: Vec<&str> = s.split('.').collect();
        // ocid1 . type . realm . region [. future-use] . unique
        if parts.len() < 5 || parts.len() > 6 || parts[0] != "ocid1" {
            return Err(OcidError::Malformed(
                "does not have the form ocid1.<type>.<realm>.<region>.<unique-id>".into(),
            ));
        }
        let (kind, realm, region, unique) = (parts[1], parts[2], parts[3], parts[parts.len() - 1]);
        let lower_alnum = |p: &str| {
            p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        };
        if kind.is_empty() || !lower_alnum(kind) {
            return Err(OcidError::Malformed(
                "its resource type part is empty or invalid".into(),
            ));
        }
        if realm.is_empty() || !lower_alnum(realm) {
            return Err(OcidError::Malformed(
                "its realm part (e.g. oc1) is empty or invalid".into(),
            ));
        }
        if !lower_alnum(region) {
            return Err(OcidError::Malformed("its region part is invalid".into()));
        }
        if unique.is_empty() || !unique.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(OcidError::Malformed(
                "its unique id (the last part) is empty or has characters other than letters and digits"
                    .into(),
            ));
        }
        if !types.contains(&kind) {
            return Err(OcidError::WrongType {
                found: kind.to_string(),
            });
        }
        if regional && region.is_empty() {
            return Err(OcidError::MissingRegion);
        }
        Ok(Ocid(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The resource type, e.g. `subnet`.
    pub fn kind(&self) -> &str {
        self.0.split('.').nth(1).unwrap_or_default()
    }
}

impl fmt::Display for Ocid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_regional_and_global_forms() {
        assert!(Ocid::parse("ocid1.subnet.oc1.ap-tokyo-1.aaaa1234", &["subnet"], true).is_ok());
        assert!(Ocid::parse(
            "ocid1.tenancy.oc1..aaaa1234",
            &["tenancy", "compartment"],
            false
        )
        .is_ok());
        assert!(Ocid::parse("ocid1.image.oc1.phx.xyz.aaaa", &["image"], true).is_ok());
    }

    #[test]
    fn rejects_bad_forms() {
        use OcidError::*;
        assert!(matches!(
            Ocid::parse("subnet-1", &["subnet"], true),
            Err(Malformed(_))
        ));
        assert!(matches!(
            Ocid::parse("ocid1.subnet.oc1.ap-tokyo-1.", &["subnet"], true),
            Err(Malformed(_))
        ));
        assert_eq!(
            Ocid::parse("ocid1.vcn.oc1.ap-tokyo-1.aaaa", &["subnet"], true),
            Err(WrongType {
                found: "vcn".into()
            })
        );
        assert_eq!(
            Ocid::parse("ocid1.subnet.oc1..aaaa", &["subnet"], true),
            Err(MissingRegion)
        );
    }
}
