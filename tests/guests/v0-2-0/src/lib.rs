//! A plugin of `igor:plugin@0.2.0`, bound to the frozen WIT directly (not
//! through the SDK, which follows the newest version). `GET /` writes two
//! documents, lists them with 0.2.0's `listing` and answers the list.

wit_bindgen::generate!({
    path: ["../../../wit/0.1.0", "../../../wit/0.2.0"],
    world: "igor:plugin/igor-plugin@0.2.0",
    generate_all,
});

use exports::igor::plugin0_1_0::handler::Guest;
use igor::plugin0_1_0::store::store_put;
use igor::plugin0_1_0::types::{Request, Response};
use igor::plugin0_2_0::listing::store_list;

struct Released;

impl Guest for Released {
    fn handle_request(_request: Request) -> Response {
        let puts = ["kept/a", "kept/b"].map(|path| store_put(path, "1", None).map(|_| ()));
        let listed = store_list("kept", None);
        Response {
            status: 200,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: format!("puts: {puts:?}\nlist: {listed:?}").into_bytes(),
        }
    }
}

export!(Released);
