//! A plugin that opens a TCP socket itself, which makes the component
//! import wasi:sockets. The host must refuse to load it.

wit_bindgen::generate!({
    path: "../../../wit",
    world: "igor-plugin",
});

use exports::igor::plugin::handler::Guest;
use igor::plugin::types::{Request, Response};

struct Sockets;

impl Guest for Sockets {
    fn handle_request(_request: Request) -> Response {
        let connected = std::net::TcpStream::connect("127.0.0.1:1").is_ok();
        Response {
            status: 200,
            headers: vec![],
            body: format!("connected: {connected}").into_bytes(),
        }
    }
}

export!(Sockets);
