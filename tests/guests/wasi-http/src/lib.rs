//! A plugin that sends HTTP through wasi:http instead of igor:plugin/http,
//! bypassing the egress policy if it could. The host must refuse to load it.

use igor_plugin_sdk::{Host, Plugin, Request, Response};

struct WasiHttp;

impl Plugin for WasiHttp {
    fn handle(_host: &dyn Host, _request: &Request) -> Response {
        let request = wasi::http::types::OutgoingRequest::new(wasi::http::types::Fields::new());
        let sent = wasi::http::outgoing_handler::handle(request, None).is_ok();
        Response::text(200, format!("sent: {sent}"))
    }
}

igor_plugin_sdk::export_plugin!(WasiHttp);
