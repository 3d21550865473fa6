//! Networks as dockerd's bridge driver makes them. Today: IPAM (ipam.rs).
//! Bridges, veth pairs, NAT and published ports, and per-network DNS join
//! here (issue 11), each in a module of its own.

#![forbid(unsafe_code)]

pub mod ipam;
