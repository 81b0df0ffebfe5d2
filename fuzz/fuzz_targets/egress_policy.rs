//! The egress policy's parsing: any allow-list entry, any URL and any
//! address, never a panic; an address is judged the same in every IPv6
//! spelling that embeds it; no blocked literal address passes.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;

use igor_host_pure::egress_policy::{AddressClass, AllowedHost, EgressPolicy, Rules, classify};


fuzz_target!(|data: &[u8]| {
    let p = igor_fitbit_fuzz::parts(data, 2);
    let _ = AllowedHost::parse(&p[0]);
    let config = Rules {
        allow: vec![
            p[0].clone(),
            "https://api.fitbit.com".into(),
            "http://127.0.0.1:8080".into(),
        ],
        secret_urls: vec![p[1].clone()],
        allow_loopback: data.first().is_some_and(|b| b & 1 == 1),
    };
    let policy = EgressPolicy::from_config(&config)
        .or_else(|_| {
            EgressPolicy::from_config(&Rules {
                secret_urls: vec![],
                ..config
            })
        })
        .unwrap_or_default();
    if let Ok(url) = url::Url::parse(&p[1]) {
        let allowed = policy.check_url(&url).is_ok();
        let _ = policy.may_receive_secret(&url);
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(ip) = literal
            && allowed
        {
            assert!(policy.ip_allowed(ip), "{url} passed with a blocked address");
        }
    }
    if data.len() >= 4 {
        let v4 = Ipv4Addr::new(data[0], data[1], data[2], data[3]);
        let class = classify(IpAddr::V4(v4));
        assert_eq!(classify(IpAddr::V6(v4.to_ipv6_mapped())), class, "{v4}");
        let nat64 =
            Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0).to_bits() | u128::from(v4.to_bits());
        assert_eq!(
            classify(IpAddr::V6(Ipv6Addr::from_bits(nat64))),
            class,
            "{v4}"
        );
        if class != AddressClass::Public {
            let six_to_four = (0x2002u128 << 112) | (u128::from(v4.to_bits()) << 80);
            assert_ne!(
                classify(IpAddr::V6(Ipv6Addr::from_bits(six_to_four))),
                AddressClass::Public,
                "{v4}"
            );
        }
    }
    if data.len() >= 16 {
        let bytes: [u8; 16] = data[..16].try_into().unwrap();
        let _ = classify(IpAddr::V6(Ipv6Addr::from(bytes)));
    }
});
