//! A plugin that opens a TCP socket itself, which makes the component
//! import wasi:sockets. The host must refuse to load it.

use igor_plugin_sdk::{Host, Plugin, Request, Response};

struct Sockets;

impl Plugin for Sockets {
    fn handle(_host: &dyn Host, _request: &Request) -> Response {
        let connected = std::net::TcpStream::connect("127.0.0.1:1").is_ok();
        Response::text(200, format!("connected: {connected}"))
    }
}

igor_plugin_sdk::export_plugin!(Sockets);
