//! A plugin that sends HTTP through wasi:http instead of igor:plugin/http,
//! bypassing the egress policy if it could. The host must refuse to load it.

wit_bindgen::generate!({
    path: "../../../wit",
    world: "igor-plugin",
});

use exports::igor::plugin::handler::Guest;
use igor::plugin::types::{Request, Response};

struct WasiHttp;

impl Guest for WasiHttp {
    fn handle_request(_request: Request) -> Response {
        let request = wasi::http::types::OutgoingRequest::new(wasi::http::types::Fields::new());
        let sent = wasi::http::outgoing_handler::handle(request, None).is_ok();
        Response {
            status: 200,
            headers: vec![],
            body: format!("sent: {sent}").into_bytes(),
        }
    }
}

export!(WasiHttp);
