//! IPv4 and IPv6 CIDR blocks as the simulated network checks them (containment, OCI's
//! reserved addresses).

/// An IPv4 CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: u32,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Cidr> {
        let (a, p) = s.split_once('/')?;
        let addr: std::net::Ipv4Addr = a.parse().ok()?;
        let prefix: u8 = p.parse().ok()?;
        if prefix > 32 {
            return None;
        }
        Some(Cidr {
            addr: u32::from(addr) & Self::mask(prefix),
            prefix,
        })
    }
    fn mask(prefix: u8) -> u32 {
        if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        }
    }
    pub fn contains(&self, ip: std::net::Ipv4Addr) -> bool {
        u32::from(ip) & Self::mask(self.prefix) == self.addr
    }
    pub fn network(&self) -> u32 {
        self.addr
    }
    pub fn broadcast(&self) -> u32 {
        self.addr | !Self::mask(self.prefix)
    }
    /// OCI reserves the network address, the first two host addresses and the broadcast address.
    pub fn is_usable(&self, ip: std::net::Ipv4Addr) -> bool {
        let v = u32::from(ip);
        self.contains(ip) && v > self.network() + 1 && v < self.broadcast()
    }
}

/// An IPv6 prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr6 {
    pub addr: u128,
    pub prefix: u8,
}

impl Cidr6 {
    pub fn parse(s: &str) -> Option<Cidr6> {
        let (a, p) = s.split_once('/')?;
        let addr: std::net::Ipv6Addr = a.parse().ok()?;
        let prefix: u8 = p.parse().ok()?;
        if prefix > 128 {
            return None;
        }
        Some(Cidr6 {
            addr: u128::from(addr) & Self::mask(prefix),
            prefix,
        })
    }
    fn mask(prefix: u8) -> u128 {
        if prefix == 0 {
            0
        } else {
            u128::MAX << (128 - prefix)
        }
    }
    pub fn contains(&self, ip: std::net::Ipv6Addr) -> bool {
        u128::from(ip) & Self::mask(self.prefix) == self.addr
    }
    pub fn within(&self, outer: &Cidr6) -> bool {
        self.prefix >= outer.prefix && outer.contains(self.addr.into())
    }
}

impl std::fmt::Display for Cidr6 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", std::net::Ipv6Addr::from(self.addr), self.prefix)
    }
}
