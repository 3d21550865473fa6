//! Networks as dockerd's bridge driver makes them: addresses (ipam.rs),
//! netlink (nl.rs), bridges (bridge.rs), a container's veth (endpoint.rs),
//! the firewall's NAT, isolation and published ports over nftables
//! (nft.rs), the host ports those hold (ports.rs), and the embedded DNS
//! server of user-defined networks (dns.rs); the plan is DESIGN.md beside
//! this crate.

#![forbid(unsafe_code)]

pub mod bridge;
pub mod dns;
pub mod endpoint;
pub mod ipam;
pub mod nft;
pub mod nl;
pub mod ports;
