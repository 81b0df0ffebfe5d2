//! `igor:plugin/tasks` through the real host: a queued task runs soon
//! after as a `POST` marked `igor-task: 1`, which no caller can forge; it
//! survives a SIGKILL between queueing and running; the queue is bounded;
//! and a tenant's task runs in that tenant alone.

use crate::common;

use std::time::{Duration, Instant};

use common::config::tenant;
use common::{Client, Host, HostConfig, plugin};

const TOKEN_A: &str = "token-of-tenant-a";
const TOKEN_B: &str = "token-of-tenant-b";

fn config() -> HostConfig {
    let hostile = || plugin("hostile").component(igor_test_guests::HOSTILE);
    HostConfig::new()
        .admin_token("admin-token")
        .tenant(tenant("a", TOKEN_A).plugin(hostile()))
        .tenant(tenant("b", TOKEN_B).plugin(hostile()))
}

fn caller(host: &Host, tenant: &str, token: &str) -> Client {
    Client::at(&format!("{}/tenants/{tenant}/plugin/hostile", host.url)).with_bearer(token)
}

/// What the task `/ran?n=N` recorded, once it has run (waiting up to 30 s).
async fn ran(client: &Client, n: u32) -> serde_json::Value {
    let started = Instant::now();
    loop {
        let (status, body) = client.get(&format!("/store-get?path=ran/{n}")).await;
        if status == 200 {
            return serde_json::from_str(&body).unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "task {n} did not run: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queued_task_runs_once_marked_and_survives_a_crash() {
    let mut host = Host::start(config()).await;
    let a = caller(&host, "a", TOKEN_A);
    let b = caller(&host, "b", TOKEN_B);

    let (status, body) = a.get("/queue?path=%2Fran%3Fn%3D1&delay_ms=0").await;
    assert_eq!((status, body.as_str()), (200, "Ok(())"));
    let record = ran(&a, 1).await;
    assert_eq!(record["method"], "POST");
    assert_eq!(record["task"], "1", "the host marks its task runs");
    // The task ran in tenant a only.
    assert_eq!(b.get("/store-get?path=ran/1").await.0, 404);

    // A caller cannot pass its request off as a task run.
    let forged = a.get_with("/ran?n=2", &[("igor-task", "1")]).await;
    assert_eq!(forged.0, 200, "{}", forged.1);
    assert_eq!(ran(&a, 2).await["task"], serde_json::Value::Null);

    // Queued, then the host is killed before the task is due: the restarted
    // host runs it.
    let queued = a.get("/queue?path=%2Fran%3Fn%3D3&delay_ms=1500").await;
    assert_eq!(queued.1, "Ok(())");
    host.crash();
    host.restart().await;
    assert_eq!(ran(&a, 3).await["task"], "1");

    // Bad paths and a flood are refused with the contract's errors.
    let escape = a.get("/queue?path=%2F..%2Fother&delay_ms=0").await;
    assert!(escape.1.contains("invalid task path"), "{}", escape.1);
    let (_, flood) = a.get("/queue-flood").await;
    assert!(flood.contains("limit exceeded"), "{flood}");
    // Tenant b's allowance is its own.
    let other = b.get("/queue?path=%2Fran%3Fn%3D4&delay_ms=0").await;
    assert_eq!(other.1, "Ok(())");
    assert_eq!(ran(&b, 4).await["task"], "1");
}
