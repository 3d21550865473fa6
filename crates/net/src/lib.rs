//! Networks as dockerd's bridge driver makes them: addresses (ipam.rs),
//! netlink (nl.rs), bridges (bridge.rs), a container's veth (endpoint.rs).
//! NAT and published ports, and per-network DNS join here (issue 11), each
//! in a module of its own; the plan is DESIGN.md beside this crate.

#![forbid(unsafe_code)]

pub mod bridge;
pub mod endpoint;
pub mod ipam;
pub mod nl;
