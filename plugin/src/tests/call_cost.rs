use igor_plugin_sdk::Durability;
use serde_json::json;

use crate::router::handle;
use crate::testing::fitbit::{configured, weight_body, with_token};
use crate::testing::{MemoryHost, request, response};

fn run(host: &MemoryHost) {
    let r = handle(host, &request("GET", "/", &[("user", "jack")]));
    assert_eq!(r.status, 200, "{}", r.body_text());
}

fn steady_host() -> MemoryHost {
    let host = configured();
    host.put("plugindata/fitbit", json!({"client_id": 227123}));
    with_token(&host, 3600.0);
    host.respond(|_| response(200, weight_body()));
    host
}

#[test]
fn a_run_with_nothing_new_upstream_rewrites_no_sensor_data() {
    let host = steady_host();
    run(&host);
    let first: Vec<_> = host.durable_writes.borrow_mut().drain(..).collect();
    assert!(
        first
            .iter()
            .any(|(path, class)| path == "sensors/fitbit/jack" && *class == Durability::Refetchable),
        "{first:?}"
    );
    run(&host);
    let second = host.durable_writes.borrow();
    assert!(
        !second.iter().any(|(path, _)| path.starts_with("sensors/")
            || path.ends_with("/sync")
            || path.ends_with("/history")),
        "nothing changed upstream, yet: {second:?}"
    );
    // What it still writes (the pacing window) is refetchable.
    assert!(
        second
            .iter()
            .all(|(_, class)| *class == Durability::Refetchable),
        "{second:?}"
    );
}

#[test]
fn a_run_reads_each_document_once_mostly_in_one_round_trip() {
    let host = steady_host();
    run(&host);
    host.reads.borrow_mut().clear();
    host.read_round_trips.set(0);
    run(&host);
    let reads = host.reads.borrow();
    let app_reads = reads.iter().filter(|p| *p == "plugindata/fitbit").count();
    assert_eq!(app_reads, 1, "{reads:?}");
    let mut seen = std::collections::BTreeSet::new();
    let twice: Vec<_> = reads.iter().filter(|p| !seen.insert(*p)).collect();
    assert!(twice.is_empty(), "read twice: {twice:?} of {reads:?}");
    // One batch, and only what is not known before the run: the pacing
    // window.
    assert!(
        host.read_round_trips.get() <= 3,
        "{} round trips: {reads:?}",
        host.read_round_trips.get()
    );
}
