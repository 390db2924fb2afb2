//! Node addresses: fixed in the blueprint, or free ones picked in the subnet before launch (each
//! node's agent must know its peer when its user data is rendered). OCI reserves the subnet's
//! first two addresses and its last; the VIP and every address in use are skipped too.

use std::net::Ipv4Addr;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AddressError {
    #[error(
        "the vip {vip} is outside the subnet {cidr}; use an address inside the subnet for `vip`"
    )]
    VipOutsideSubnet { vip: Ipv4Addr, cidr: String },
    #[error("node address {ip} is outside the subnet {cidr}; fix the node's `private_ip`")]
    NodeOutsideSubnet { ip: Ipv4Addr, cidr: String },
    #[error("{ip} is one of the addresses OCI reserves in {cidr} (the first two and the last); pick another address")]
    Reserved { ip: Ipv4Addr, cidr: String },
    #[error("the subnet {cidr} has no free address left for {needed} node(s); free some or use a bigger subnet")]
    SubnetFull { cidr: String, needed: usize },
}

/// An IPv4 subnet (address + prefix length).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub network: Ipv4Addr,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Cidr> {
        let (a, p) = s.split_once('/')?;
        let prefix: u8 = p.parse().ok().filter(|p| *p <= 32)?;
        let addr: Ipv4Addr = a.parse().ok()?;
        let mask = Cidr::mask_of(prefix);
        Some(Cidr {
            network: Ipv4Addr::from(u32::from(addr) & mask),
            prefix,
        })
    }

    fn mask_of(prefix: u8) -> u32 {
        if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        }
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & Cidr::mask_of(self.prefix) == u32::from(self.network)
    }

    fn first(&self) -> u32 {
        u32::from(self.network)
    }

    fn last(&self) -> u32 {
        self.first() | !Cidr::mask_of(self.prefix)
    }

    /// OCI reserves the first two addresses and the last one of every subnet.
    pub fn is_reserved(&self, ip: Ipv4Addr) -> bool {
        let n = u32::from(ip);
        n < self.first() + 2 || n == self.last()
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// Checks the VIP and fixed addresses, and fills each `None` with the lowest free address.
/// `used` are the addresses already taken in the subnet (by anyone, this pair included).
pub fn choose_node_ips(
    cidr: Cidr,
    vip: Ipv4Addr,
    fixed: [Option<Ipv4Addr>; 2],
    used: &[Ipv4Addr],
) -> Result<[Ipv4Addr; 2], AddressError> {
    let c = cidr.to_string();
    if !cidr.contains(vip) {
        return Err(AddressError::VipOutsideSubnet { vip, cidr: c });
    }
    if cidr.is_reserved(vip) {
        return Err(AddressError::Reserved { ip: vip, cidr: c });
    }
    for ip in fixed.iter().flatten() {
        if !cidr.contains(*ip) {
            return Err(AddressError::NodeOutsideSubnet { ip: *ip, cidr: c });
        }
        if cidr.is_reserved(*ip) {
            return Err(AddressError::Reserved { ip: *ip, cidr: c });
        }
    }
    let needed = fixed.iter().filter(|f| f.is_none()).count();
    let mut free = (cidr.first() + 2..cidr.last())
        .map(Ipv4Addr::from)
        .filter(|ip| *ip != vip && !used.contains(ip) && !fixed.contains(&Some(*ip)));
    let mut pick = |f: Option<Ipv4Addr>| {
        f.or_else(|| free.next()).ok_or(AddressError::SubnetFull {
            cidr: cidr.to_string(),
            needed,
        })
    };
    Ok([pick(fixed[0])?, pick(fixed[1])?])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn cidr_parse_and_contains() {
        let c = Cidr::parse("172.16.2.77/24").unwrap();
        assert_eq!(c.to_string(), "172.16.2.0/24");
        assert!(c.contains(ip("172.16.2.255")));
        assert!(!c.contains(ip("172.16.3.1")));
        assert!(
            c.is_reserved(ip("172.16.2.0"))
                && c.is_reserved(ip("172.16.2.1"))
                && c.is_reserved(ip("172.16.2.255"))
        );
        assert!(!c.is_reserved(ip("172.16.2.2")));
        assert!(Cidr::parse("172.16.2.0/33").is_none());
        assert!(Cidr::parse("nope").is_none());
    }

    #[test]
    fn table() {
        let c = Cidr::parse("10.0.0.0/29").unwrap(); // .0-.7: free are .2-.6
        type Row = (
            &'static str,
            Ipv4Addr,
            [Option<Ipv4Addr>; 2],
            Vec<Ipv4Addr>,
            Result<[Ipv4Addr; 2], AddressError>,
        );
        let rows: Vec<Row> = vec![
            (
                "fixed kept",
                ip("10.0.0.2"),
                [Some(ip("10.0.0.5")), Some(ip("10.0.0.6"))],
                vec![],
                Ok([ip("10.0.0.5"), ip("10.0.0.6")]),
            ),
            (
                "lowest free, skipping vip and used",
                ip("10.0.0.2"),
                [None, None],
                vec![ip("10.0.0.3")],
                Ok([ip("10.0.0.4"), ip("10.0.0.5")]),
            ),
            (
                "one fixed, one picked around it",
                ip("10.0.0.6"),
                [None, Some(ip("10.0.0.2"))],
                vec![],
                Ok([ip("10.0.0.3"), ip("10.0.0.2")]),
            ),
            (
                "vip outside",
                ip("10.0.1.2"),
                [None, None],
                vec![],
                Err(AddressError::VipOutsideSubnet {
                    vip: ip("10.0.1.2"),
                    cidr: "10.0.0.0/29".into(),
                }),
            ),
            (
                "vip reserved",
                ip("10.0.0.1"),
                [None, None],
                vec![],
                Err(AddressError::Reserved {
                    ip: ip("10.0.0.1"),
                    cidr: "10.0.0.0/29".into(),
                }),
            ),
            (
                "node outside",
                ip("10.0.0.2"),
                [Some(ip("10.0.0.9")), None],
                vec![],
                Err(AddressError::NodeOutsideSubnet {
                    ip: ip("10.0.0.9"),
                    cidr: "10.0.0.0/29".into(),
                }),
            ),
            (
                "full",
                ip("10.0.0.2"),
                [None, None],
                vec![ip("10.0.0.3"), ip("10.0.0.4"), ip("10.0.0.5")],
                Err(AddressError::SubnetFull {
                    cidr: "10.0.0.0/29".into(),
                    needed: 2,
                }),
            ),
        ];
        for (name, vip, fixed, used, want) in rows {
            assert_eq!(choose_node_ips(c, vip, fixed, &used), want, "{name}");
        }
    }
}
