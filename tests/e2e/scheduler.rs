//! Scheduled actions of a multi-tenant host, through the real binary:
//! status in each tenant's own store behind its own credentials, and a
//! reload that retires the old actions at once without re-running them.

use crate::common;

use std::time::Duration;

use common::config::tenant;
use common::{Client, Host, HostConfig, plugin};
use serde_json::Value;

const TOKEN_A: &str = "token-of-tenant-a";
const TOKEN_B: &str = "token-of-tenant-b";
const ADMIN: &str = "admin-token";

/// Tenants `a` (the host's store) and `b` (its own SQLite file), each with
/// an hourly action on the hostile guest's `/ok`, first run at once.
fn config(with_b: bool) -> HostConfig {
    let tenant = |id: &str, token: &str| {
        let probe = plugin("probe").component(igor_test_guests::HOSTILE);
        tenant(id, token)
            .plugin(probe)
            .action(3600, "/plugin/probe/ok", Some("sensors/probe"))
    };
    let config = HostConfig::new()
        .first_runs_at_once()
        .admin_token(ADMIN)
        .tenant(tenant("a", TOKEN_A));
    match with_b {
        true => config.tenant(tenant("b", TOKEN_B).own_sqlite_store()),
        false => config,
    }
}

async fn get(host: &Host, path: &str, token: &str) -> (u16, String) {
    Client::new(host).with_bearer(token).get(path).await
}

/// The status recorded for `tenant`, once its first run has happened.
async fn recorded_status(host: &Host, tenant: &str, token: &str) -> Value {
    let path = format!("/tenants/{tenant}/status/sensors/probe");
    for _ in 0..600 {
        let (status, body) = get(host, &path, token).await;
        if status == 200 {
            return serde_json::from_str(&body).unwrap();
        }
        assert_eq!(status, 404, "{body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no status recorded for tenant {tenant}:\n{}", host.log());
}

async fn scheduled_actions(host: &Host) -> u64 {
    let (status, body) = get(host, "/metrics", ADMIN).await;
    assert_eq!(status, 200, "{body}");
    body.lines()
        .find_map(|line| line.strip_prefix("igor_host_scheduled_actions "))
        .unwrap_or_else(|| panic!("no scheduled_actions gauge:\n{body}"))
        .parse()
        .unwrap()
}

/// The live actions once they number `expected`, or after 5 s.
async fn live_actions_once_settled(host: &Host, expected: u64) -> u64 {
    let mut live = 0;
    for _ in 0..100 {
        live = scheduled_actions(host).await;
        if live == expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    live
}

async fn reload(host: &Host) {
    let (status, body) = Client::new(host)
        .with_bearer(ADMIN)
        .post("/admin/reload")
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn each_tenant_reads_its_own_action_status_only() {
    let host = Host::start(config(true)).await;
    for (tenant, token) in [("a", TOKEN_A), ("b", TOKEN_B)] {
        let status = recorded_status(&host, tenant, token).await;
        assert_eq!(status["alive"], true, "{status}");
        assert_eq!(status["errorMessage"], "", "{status}");
    }
    // Another tenant's token, none, or the single-tenant route: refused.
    assert_eq!(
        get(&host, "/tenants/b/status/sensors/probe", TOKEN_A)
            .await
            .0,
        401
    );
    assert_eq!(
        get(&host, "/tenants/a/status/sensors/probe", "").await.0,
        401
    );
    assert_eq!(
        get(&host, "/tenants/x/status/sensors/probe", TOKEN_A)
            .await
            .0,
        401
    );
    assert_eq!(get(&host, "/status/sensors/probe", TOKEN_A).await.0, 404);
    // Tenant b's status is in b's own store file.
    assert!(host.data_dir().join("tenants/b.sqlite").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_retires_old_actions_at_once_and_keeps_their_rhythm() {
    let host = Host::start(config(true)).await;
    let before = recorded_status(&host, "a", TOKEN_A).await;
    recorded_status(&host, "b", TOKEN_B).await;
    assert_eq!(scheduled_actions(&host).await, 2);

    // The same tenants again, then tenant b removed: the gauge follows at
    // once (the old registry's tasks do not wait out their hour).
    reload(&host).await;
    assert_eq!(
        live_actions_once_settled(&host, 2).await,
        2,
        "{}",
        host.log()
    );
    host.rewrite(config(false));
    reload(&host).await;
    assert_eq!(
        live_actions_once_settled(&host, 1).await,
        1,
        "{}",
        host.log()
    );

    // Neither reload re-ran tenant a's action: its next run is an hour
    // after the recorded one.
    let after = recorded_status(&host, "a", TOKEN_A).await;
    assert_eq!(after["lastActivity"], before["lastActivity"], "{after}");
    assert_eq!(
        host.log().matches("action ran").count(),
        2,
        "{}",
        host.log()
    );
}
