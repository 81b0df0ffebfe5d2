//! `dataPoints.list` and `dataPoints:reconcile`: the AIP-160 filter subset,
//! newest first, opaque page tokens, pages that may be empty yet carry a
//! `nextPageToken` ([`super::FakeGoogle::insert_empty_pages`]).

use serde_json::{Value, json};

use super::State;
use super::api::{Reply, info, invalid_argument, status_error};
use super::filter::{self, FilterError};
use super::paging::{offset_of, page, page_size, page_token, query_page_size};
use super::points::DataPoint;
use super::types::TypeInfo;
use crate::util::RecordedRequest;

/// `operation` is `list` or `reconcile`; a reconciled point names itself
/// `dataPointName` and has no `dataSource` (one stream from all sources).
pub(super) fn list(
    st: &mut State,
    req: &RecordedRequest,
    user: &str,
    info_: &TypeInfo,
    operation: &str,
) -> Reply {
    let dt = info_.name;
    let filter_text = req.query_value("filter").unwrap_or("");
    let filter = filter::parse(dt, filter_text).map_err(|e| match e {
        FilterError::UnsupportedMember(m) => status_error(
            400,
            "INVALID_ARGUMENT",
            &format!(
                "Invalid filter: field '{m}' is not supported for data type '{}'.",
                filter::snake(dt)
            ),
            info("INVALID_DATA_POINT_FILTER_DATA_TYPE_MEMBER"),
        ),
        FilterError::Malformed(m) => invalid_argument(&format!("Invalid filter: {m}")),
    })?;
    if dt == "sleep" && operation == "list" && req.query_value("dataSourceFamily").is_some() {
        return Err(invalid_argument(
            "Filtering by data source family is not supported for sleep.",
        ));
    }
    let (default, max) = if dt == "sleep" || dt == "exercise" {
        (25, 25)
    } else {
        (1440, 10000)
    };
    let size = page_size(query_page_size(req.query_value("pageSize"))?, default, max)?
        .min(st.max_page_size.unwrap_or(usize::MAX));
    let key = format!("{operation}|{user}|{dt}|{filter_text}");
    let offset = offset_of(req.query_value("pageToken"), &key)?;
    if st.empty_pages > 0 {
        st.empty_pages -= 1;
        return Ok(json!({"nextPageToken": page_token(offset, &key)}));
    }
    let u = st.user_mut(user);
    let mut points: Vec<&(String, DataPoint)> = u
        .points
        .iter()
        .filter(|(_, p)| p.data_type() == dt && filter.matches(p))
        .collect();
    points.sort_by(|(ia, a), (ib, b)| b.sort_key().cmp(&a.sort_key()).then(ib.cmp(ia)));
    let rendered: Vec<Value> = points
        .iter()
        .map(|(id, p)| {
            let mut point = p.to_json(user, id);
            if operation == "reconcile"
                && let Some(o) = point.as_object_mut()
            {
                o.remove("dataSource");
                if let Some(name) = o.remove("name") {
                    o.insert("dataPointName".into(), name);
                }
            }
            point
        })
        .collect();
    Ok(page(&rendered, "dataPoints", offset, size, &key))
}
