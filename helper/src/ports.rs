// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Host-port checks run before `up` creates anything, so a busy or bad port is reported as
//! one line naming the setting to change instead of a deep k3d or engine error.

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, TcpListener};

use anyhow::{Context, Result, bail};

use crate::settings::Rule;

/// A port the kit wants on the host, and the setting that chooses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedPort {
    pub port: u16,
    pub setting: String,
}

/// Parse `PORT=SETTING` (e.g. `6550=K8S_DEV_API_PORT`), with the settings' rule for host
/// ports: a number in 1024..=65535 (privileged ports need root for k3d's load balancer).
pub fn parse_wanted(spec: &str) -> Result<WantedPort> {
    let (port, setting) = spec
        .split_once('=')
        .with_context(|| format!("port spec '{spec}' is not PORT=SETTING"))?;
    let rule = Rule::Port;
    let port = rule
        .check(port.trim())
        .map_err(|why| anyhow::anyhow!("{why}; set {setting} to {}", rule.expects()))?;
    Ok(WantedPort {
        port: port
            .parse()
            .expect("the rule accepts only numbers up to 65535"),
        setting: setting.to_string(),
    })
}

/// Parse the bind address (`K8S_DEV_BIND_ADDRESS`).
pub fn parse_bind(bind: &str) -> Result<IpAddr> {
    bind.parse().map_err(|_| {
        anyhow::anyhow!(
            "bind address '{bind}' is not an IP address; set K8S_DEV_BIND_ADDRESS (default 127.0.0.1)"
        )
    })
}

/// Check that every wanted port can be bound on `bind`; `try_bind` is the probe (a real
/// bind in production). Duplicates are an error too: two settings cannot share a port.
pub fn check(
    bind: IpAddr,
    wanted: &[WantedPort],
    try_bind: impl Fn(SocketAddr) -> std::io::Result<()>,
) -> Result<()> {
    for (i, w) in wanted.iter().enumerate() {
        if let Some(other) = wanted[..i].iter().find(|o| o.port == w.port) {
            bail!(
                "port {} is wanted by both {} and {}; set one of them to another port",
                w.port,
                other.setting,
                w.setting
            );
        }
        match try_bind(SocketAddr::new(bind, w.port)) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AddrInUse => bail!(
                "port {} on {bind} is in use by another program; stop it or set {}",
                w.port,
                w.setting
            ),
            Err(e) if e.kind() == ErrorKind::AddrNotAvailable => bail!(
                "address {bind} is not on this machine; set K8S_DEV_BIND_ADDRESS (default 127.0.0.1)"
            ),
            Err(e) => bail!(
                "port {} on {bind} cannot be bound ({e}); set {}",
                w.port,
                w.setting
            ),
        }
    }
    Ok(())
}

/// Bind and immediately release `addr`.
pub fn bind_probe(addr: SocketAddr) -> std::io::Result<()> {
    TcpListener::bind(addr).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    fn wanted(specs: &[&str]) -> Vec<WantedPort> {
        specs.iter().map(|s| parse_wanted(s).unwrap()).collect()
    }

    const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn parse_wanted_accepts_unprivileged_ports() {
        assert_eq!(
            parse_wanted("6550=K8S_DEV_API_PORT").unwrap(),
            WantedPort {
                port: 6550,
                setting: "K8S_DEV_API_PORT".into()
            }
        );
    }

    #[test]
    fn parse_wanted_rejects_bad_ports_naming_the_setting() {
        for (spec, says) in [
            ("80=K8S_DEV_LB_PORT", "port 80 is privileged"),
            ("0=K8S_DEV_LB_PORT", "out of range"),
            ("70000=K8S_DEV_LB_PORT", "out of range"),
            ("http=K8S_DEV_LB_PORT", "not a number"),
        ] {
            let err = parse_wanted(spec).unwrap_err().to_string();
            assert!(err.contains(says), "{spec}: {err}");
            assert!(err.contains("set K8S_DEV_LB_PORT"), "{spec}: {err}");
        }
    }

    #[test]
    fn busy_port_names_port_address_and_setting() {
        let ports = wanted(&["6550=K8S_DEV_API_PORT", "5000=K8S_DEV_REGISTRY_PORT"]);
        let err = check(LOOPBACK, &ports, |addr| {
            if addr.port() == 5000 {
                Err(io::Error::from(ErrorKind::AddrInUse))
            } else {
                Ok(())
            }
        })
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "port 5000 on 127.0.0.1 is in use by another program; stop it or set K8S_DEV_REGISTRY_PORT"
        );
    }

    #[test]
    fn free_ports_pass() {
        let ports = wanted(&["6550=K8S_DEV_API_PORT", "8080=K8S_DEV_LB_PORT"]);
        check(LOOPBACK, &ports, |_| Ok(())).unwrap();
    }

    #[test]
    fn the_same_port_for_two_settings_is_refused() {
        let ports = wanted(&["8080=K8S_DEV_LB_PORT", "8080=K8S_DEV_API_PORT"]);
        let err = check(LOOPBACK, &ports, |_| Ok(())).unwrap_err().to_string();
        assert!(
            err.contains("both K8S_DEV_LB_PORT and K8S_DEV_API_PORT"),
            "{err}"
        );
    }

    #[test]
    fn real_bind_sees_a_held_port() {
        let held = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        let ports = vec![WantedPort {
            port,
            setting: "K8S_DEV_API_PORT".into(),
        }];
        let err = check(LOOPBACK, &ports, bind_probe).unwrap_err().to_string();
        assert!(err.contains("in use by another program"), "{err}");
        drop(held);
        check(LOOPBACK, &ports, bind_probe).unwrap();
    }

    #[test]
    fn bad_bind_address_names_the_setting() {
        let err = parse_bind("localhost").unwrap_err().to_string();
        assert!(err.contains("set K8S_DEV_BIND_ADDRESS"), "{err}");
    }
}
