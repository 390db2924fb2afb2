//! The `instance` section: shape, size, availability domain and image.

use super::Cx;
use crate::blueprint::yaml::Node;
use crate::blueprint::{ImageSpec, InstanceSpec};

const INSTANCE_KEYS: &[&str] = &[
    "shape",
    "ocpus",
    "memory_gb",
    "availability_domain",
    "image",
    "ssh_keys",
];

const IMAGE_KEYS: &[&str] = &["ocid", "os", "version"];

impl Cx {
    pub(super) fn instance(&mut self, node: &Node, path: &str) -> Option<InstanceSpec> {
        let f = self.fields(node, path, INSTANCE_KEYS)?;
        let shape_node = self.required(&f, "shape", "VM.Standard.E4.Flex");
        let shape =
            shape_node.and_then(|n| self.string(n, &f.path("shape"), "VM.Standard.E4.Flex"));
        let mut ok = true;
        if let (Some(s), Some(n)) = (&shape, shape_node) {
            if s.is_empty()
                || !s
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
            {
                self.err(
                    n.pos,
                    f.path("shape"),
                    format!("`{s}` is not an OCI shape name"),
                    "use a shape name such as VM.Standard.E4.Flex",
                );
                ok = false;
            }
        }
        let flex = shape.as_deref().is_some_and(|s| s.ends_with(".Flex"));
        let amount = |cx: &mut Cx, key: &str, example: &str| -> Option<Option<f64>> {
            match f.get(key) {
                Some(n) => {
                    let v = cx.number(n, &f.path(key), example)?;
                    if v <= 0.0 {
                        cx.err(
                            n.pos,
                            f.path(key),
                            format!("{key} must be above zero, found {v}"),
                            format!("use e.g. `{key}: {example}`"),
                        );
                        return None;
                    }
                    if shape.is_some() && !flex {
                        cx.err(
                            n.pos,
                            f.path(key),
                            format!(
                                "{key} only applies to flex shapes, and `{}` is not one",
                                shape.as_deref().unwrap_or_default()
                            ),
                            format!("remove `{key}`, or use a shape whose name ends in .Flex"),
                        );
                        return None;
                    }
                    Some(Some(v))
                }
                None if flex => {
                    let what = format!(
                        "the flex shape `{}` needs `{key}`",
                        shape.as_deref().unwrap_or_default()
                    );
                    cx.err(
                        f.pos,
                        f.path(key),
                        what,
                        format!("add e.g. `{key}: {example}`"),
                    );
                    None
                }
                None => Some(None),
            }
        };
        let ocpus = amount(self, "ocpus", "1");
        let memory_gb = amount(self, "memory_gb", "8");
        let availability_domain = match f.get("availability_domain") {
            Some(n) => self
                .string(n, &f.path("availability_domain"), "Uocm:AP-TOKYO-1-AD-1")
                .map(Some),
            None => Some(None),
        };
        let image = self
            .required(&f, "image", "{ os: Oracle Linux, version: \"9\" }")
            .and_then(|n| self.image(n, &f.path("image")));
        let ssh_keys = self
            .required(&f, "ssh_keys", "[ ~/.ssh/id_ed25519.pub ]")
            .and_then(|n| self.ssh_keys(n, &f.path("ssh_keys")));
        if !ok {
            return None;
        }
        Some(InstanceSpec {
            shape: shape?,
            ocpus: ocpus?,
            memory_gb: memory_gb?,
            availability_domain: availability_domain?,
            image: image?,
            ssh_keys: ssh_keys?,
        })
    }

    pub(super) fn image(&mut self, node: &Node, path: &str) -> Option<ImageSpec> {
        let f = self.fields(node, path, IMAGE_KEYS)?;
        match (f.get("ocid"), f.get("os"), f.get("version")) {
            (Some(n), None, None) => self
                .ocid(n, &f.path("ocid"), &["image"], true)
                .map(ImageSpec::Ocid),
            (None, Some(os_node), Some(ver_node)) => {
                let os = self.string(os_node, &f.path("os"), "Oracle Linux");
                let version = self.string(ver_node, &f.path("version"), "\"9\"");
                let (os, version) = (os?, version?);
                let supported = match os.as_str() {
                    "Oracle Linux" => {
                        if !matches!(version.as_str(), "8" | "9") {
                            self.err(ver_node.pos, f.path("version"), format!("Oracle Linux `{version}` is not supported by the failover agent's installer"), "use version \"8\" or \"9\"");
                            return None;
                        }
                        true
                    }
                    "Canonical Ubuntu" => {
                        let ok = version.len() == 5
                            && version.as_bytes()[2] == b'.'
                            && version
                                .chars()
                                .filter(|c| *c != '.')
                                .all(|c| c.is_ascii_digit());
                        if !ok {
                            self.err(
                                ver_node.pos,
                                f.path("version"),
                                format!("`{version}` is not an Ubuntu release number"),
                                "quote it and use the YY.MM form, e.g. \"24.04\"",
                            );
                            return None;
                        }
                        true
                    }
                    _ => false,
                };
                if !supported {
                    self.err(os_node.pos, f.path("os"), format!("operating system `{os}` is not supported by the failover agent's installer"), "use `Oracle Linux` (8 or 9) or `Canonical Ubuntu`, spelled as OCI lists them");
                    return None;
                }
                Some(ImageSpec::Lookup {
                    operating_system: os,
                    version,
                })
            }
            (None, Some(_), None) | (None, None, Some(_)) => {
                let missing = if f.get("os").is_some() {
                    "version"
                } else {
                    "os"
                };
                self.err(
                    f.pos,
                    f.path(missing),
                    format!("`os` and `version` go together, and `{missing}` is missing"),
                    "give both, e.g. `os: Oracle Linux` and `version: \"9\"`, or an `ocid`",
                );
                None
            }
            (Some(n), _, _) => {
                self.err(
                    n.pos,
                    f.path("ocid"),
                    "give either `ocid` or `os` + `version`, not both",
                    "remove `ocid`, or remove `os` and `version`",
                );
                None
            }
            (None, None, None) => {
                self.err(
                    f.pos,
                    path,
                    "no image given",
                    "add `ocid: ocid1.image.oc1...`, or `os: Oracle Linux` and `version: \"9\"`",
                );
                None
            }
        }
    }
}
