//! Where clocking in is allowed from: the organisation's networks (`ip_range` records), as CIDR
//! blocks of IPv4 or IPv6 (`192.168.1.0/24`, `2001:db8:8::/48`) or single addresses. Pure: the
//! matcher and the rule are tested natively; the page that edits the ranges is `networks_page`.
//!
//! An IPv4 address the browser reaches the server with over IPv6 (`::ffff:192.168.1.20`) is
//! matched as the IPv4 address it is.

use std::fmt;
use std::net::IpAddr;

/// A block of addresses: the network and how many leading bits of it are fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Reads `a.b.c.d/n`, `x:y::/n` or a single address (a block of one). Host bits set
    /// beside the prefix (`192.168.1.7/24`) are refused, because the admin who wrote it most
    /// likely meant something else than the network it denotes.
    pub fn parse(text: &str) -> Result<Cidr, CidrError> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let written: IpAddr = address.parse().map_err(|_| CidrError::Address)?;
        let network = written.to_canonical();
        let max = max_prefix(written);
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().ok().filter(|p| *p <= max).ok_or(CidrError::Prefix(max))?
            }
            Some(_) => return Err(CidrError::Prefix(max)),
        };
        // An IPv4-mapped block (`::ffff:192.168.1.0/120`) is the IPv4 block it maps.
        let prefix = match (written, network) {
            (IpAddr::V6(_), IpAddr::V4(_)) => prefix.checked_sub(96).ok_or(CidrError::Prefix(max))?,
            _ => prefix,
        };
        let cidr = Cidr { network, prefix };
        if bits(network) & !cidr.mask() != 0 {
            return Err(CidrError::HostBits);
        }
        Ok(cidr)
    }

    fn mask(self) -> u128 {
        let max = max_prefix(self.network);
        let width_mask = if max == 32 { u128::from(u32::MAX) } else { u128::MAX };
        if self.prefix == 0 { 0 } else { (width_mask << (max - self.prefix)) & width_mask }
    }

    /// Whether the address is inside the block.
    pub fn contains(self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        address.is_ipv4() == self.network.is_ipv4() && bits(address) & self.mask() == bits(self.network)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix == max_prefix(self.network) {
            write!(f, "{}", self.network)
        } else {
            write!(f, "{}/{}", self.network, self.prefix)
        }
    }
}

fn max_prefix(address: IpAddr) -> u8 {
    if address.is_ipv4() { 32 } else { 128 }
}

fn bits(address: IpAddr) -> u128 {
    match address {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// Why a range was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CidrError {
    /// Not an IPv4 or IPv6 address.
    Address,
    /// The prefix length is not a number from 0 to this.
    Prefix(u8),
    /// Bits beyond the prefix are set.
    HostBits,
}

/// What the network rule says about an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No range is configured: every address may clock in.
    Unrestricted,
    /// Inside this range (its label or CIDR).
    Inside(String),
    /// Outside every range.
    Outside,
    /// Ranges are configured and the host could not say where the request came from.
    Unknown,
}

/// The rule over the configured ranges `(cidr, label)`; ranges that do not parse are skipped
/// (the networks page does not store them, and they must not lock everyone out).
pub fn check(ranges: &[(String, String)], client: Option<IpAddr>) -> Verdict {
    let parsed: Vec<(Cidr, &str)> =
        ranges.iter().filter_map(|(cidr, label)| Cidr::parse(cidr).ok().map(|c| (c, label.as_str()))).collect();
    if parsed.is_empty() {
        return Verdict::Unrestricted;
    }
    let Some(client) = client else {
        return Verdict::Unknown;
    };
    match parsed.iter().find(|(cidr, _)| cidr.contains(client)) {
        Some((cidr, label)) if label.trim().is_empty() => Verdict::Inside(cidr.to_string()),
        Some((_, label)) => Verdict::Inside(label.trim().to_owned()),
        None => Verdict::Outside,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    fn cidr(text: &str) -> Cidr {
        Cidr::parse(text).expect("a range")
    }

    #[test]
    fn ipv4_blocks_hold_their_addresses_only() {
        let office = cidr("192.168.1.0/24");
        assert!(office.contains(ip("192.168.1.0")) && office.contains(ip("192.168.1.255")));
        assert!(!office.contains(ip("192.168.2.1")) && !office.contains(ip("192.168.0.255")));
        assert!(cidr("10.0.0.0/8").contains(ip("10.200.3.4")));
        assert!(cidr("0.0.0.0/0").contains(ip("203.0.113.9")));
        assert!(cidr("203.0.113.9").contains(ip("203.0.113.9")));
        assert!(!cidr("203.0.113.9").contains(ip("203.0.113.10")));
        assert!(
            cidr("172.16.0.0/12").contains(ip("172.31.255.1")) && !cidr("172.16.0.0/12").contains(ip("172.32.0.1"))
        );
    }

    #[test]
    fn ipv6_blocks_hold_their_addresses_only() {
        let block = cidr("2001:db8:8::/48");
        assert!(block.contains(ip("2001:db8:8::1")) && block.contains(ip("2001:db8:8:ffff::1")));
        assert!(!block.contains(ip("2001:db8:9::1")));
        assert!(cidr("::1").contains(ip("::1")) && !cidr("::1").contains(ip("::2")));
        assert!(cidr("::/0").contains(ip("2400:cb00::1")));
        assert!(cidr("fe80::/10").contains(ip("febf::1")) && !cidr("fe80::/10").contains(ip("fec0::1")));
    }

    #[test]
    fn families_do_not_mix_except_mapped_ipv4() {
        assert!(!cidr("0.0.0.0/0").contains(ip("::1")));
        assert!(!cidr("::/0").contains(ip("10.0.0.1")));
        assert!(cidr("192.168.1.0/24").contains(ip("::ffff:192.168.1.20")));
        assert!(cidr("::ffff:192.168.1.0/120").contains(ip("192.168.1.20")), "a mapped range is an IPv4 one");
    }

    #[test]
    fn what_is_not_a_range_is_refused_with_its_reason() {
        assert_eq!(Cidr::parse("192.168.1.7/24"), Err(CidrError::HostBits));
        assert_eq!(Cidr::parse("192.168.1.0/33"), Err(CidrError::Prefix(32)));
        assert_eq!(Cidr::parse("2001:db8::/129"), Err(CidrError::Prefix(128)));
        assert_eq!(Cidr::parse("10.0.0.0/"), Err(CidrError::Prefix(32)));
        assert_eq!(Cidr::parse("10.0.0.0/+8"), Err(CidrError::Prefix(32)));
        assert_eq!(Cidr::parse("office"), Err(CidrError::Address));
        assert_eq!(Cidr::parse("10.0.0/8"), Err(CidrError::Address));
        assert_eq!(cidr(" 10.0.0.0/8 ").to_string(), "10.0.0.0/8");
        assert_eq!(cidr("2001:db8::1").to_string(), "2001:db8::1");
    }

    #[test]
    fn the_rule_allows_everyone_until_ranges_are_set() {
        let none: Vec<(String, String)> = Vec::new();
        assert_eq!(check(&none, Some(ip("203.0.113.9"))), Verdict::Unrestricted);
        assert_eq!(check(&none, None), Verdict::Unrestricted);
        let ranges = vec![
            ("192.168.1.0/24".to_owned(), "总部 HQ".to_owned()),
            ("2001:db8:8::/48".to_owned(), String::new()),
            ("not a range".to_owned(), "ignored".to_owned()),
        ];
        assert_eq!(check(&ranges, Some(ip("192.168.1.20"))), Verdict::Inside("总部 HQ".into()));
        assert_eq!(check(&ranges, Some(ip("2001:db8:8::5"))), Verdict::Inside("2001:db8:8::/48".into()));
        assert_eq!(check(&ranges, Some(ip("203.0.113.9"))), Verdict::Outside);
        assert_eq!(check(&ranges, None), Verdict::Unknown);
        let broken = vec![("garbage".to_owned(), String::new())];
        assert_eq!(check(&broken, Some(ip("203.0.113.9"))), Verdict::Unrestricted);
    }
}
