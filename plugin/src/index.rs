//! `GET /plugin/N?user=U[&methods=a,b][&k=v...]`: fetch the user's data with
//! the configured methods and replace `sensors/N/U` with the merged result.

use serde_json::{Map, Value};

use crate::access::{self, Access};
use crate::dates::Date;
use crate::errors::Cause;
use crate::errors::{PluginError, Result, echo};
use crate::history::{History, units_of};
use crate::json::{as_text, field, into_object};
use crate::oauth::{TokenKeeper, TokenPlace, lease_seconds};
use crate::paths::{Paths, user_settings_only, valid_user};
use crate::provider::google::convert::Units;
use crate::provider::methods::{DEFAULT_METHODS, method_list};
use crate::provider::{ApiError, AppSettings, RunState, provider_for};
use crate::settings::document::require_client_secret;
use crate::snapshot::{Keep, Snapshot};
use igor_plugin_sdk::{Durability, Host, Level};
use igor_plugin_sdk::{Request, Response};

/// Query parameters that are not method arguments.
const CONTROL_PARAMETERS: &[&str] = &["user", "methods"];
/// The key of the sync bookkeeping that names the revision of `sensors/N/U`
/// it describes; bookkeeping of any other revision is not used.
pub const SENSORS_REVISION: &str = "sensors_revision";

/// The methods a run of `user` calls (`methods` given with the call, else
/// the user's own, else the default) and the user's other settings, the
/// methods' default arguments.
pub fn user_methods(
    host: &dyn Host,
    paths: &Paths,
    user: &str,
    methods: Option<&str>,
) -> Result<(Vec<String>, Map<String, Value>)> {
    let document = host
        .store_get(&paths.user(user))
        .map_err(PluginError::store)?
        .map(|(value, _)| value)
        .unwrap_or(Value::Null);
    let mut settings = user_settings_only(&document);
    let own = settings.remove("methods");
    let text = methods
        .filter(|m| !m.trim().is_empty())
        .map(str::to_string)
        .or_else(|| {
            own.as_ref()
                .and_then(as_text)
                .filter(|m| !m.trim().is_empty())
        })
        .unwrap_or_else(|| DEFAULT_METHODS.to_string());
    Ok((method_list(&text), settings))
}

pub fn handle(host: &dyn Host, request: &Request) -> Result<Response> {
    let Some(user) = request.query("user").filter(|u| !u.is_empty()) else {
        return Err(PluginError::bad_request(
            "Fitbitplugin requires user argument",
        ));
    };
    if !valid_user(user) {
        return Err(PluginError::bad_request(format!(
            "Fitbitplugin: {:?} is not a valid user name",
            echo(user)
        )));
    }
    let paths = Paths::new(&request.context.plugin_name);
    let plugin_url = request.plugin_url();
    // What a run reads, in one round trip (see `snapshot`).
    let snapshot = Snapshot::read(
        host,
        &[
            (paths.token(user), Keep::Once),
            (paths.users(), Keep::Once),
            (paths.app(), Keep::Request),
            (paths.history(user), Keep::Once),
            (paths.user(user), Keep::Request),
            (paths.sensors(user), Keep::Once),
            (paths.sync(user), Keep::Once),
            (paths.notice(), Keep::Once),
        ],
    );
    let host: &dyn Host = &snapshot;

    let Some((token_value, token_revision)) = host
        .store_get(&paths.token(user))
        .map_err(PluginError::store)?
    else {
        return Err(PluginError::forbidden(format!(
            "Fitbitplugin requires 'token' plugindata for user '{user}'. Authorise the user at \
             {plugin_url}/auth1?user={user}"
        )));
    };
    let token = into_object(token_value);
    // Users authorised before the list existed join it on their next run.
    crate::users::add(host, &paths, user)?;
    let app = AppSettings::load(host, &paths)?;
    let mut history = History::load(host, &paths, user);
    let outcome = run(
        host,
        request,
        &paths,
        &app,
        user,
        token.clone(),
        token_revision,
    );
    let now = host.now();
    match &outcome {
        Ok((results, units)) => {
            let today = Date::from_epoch(now, request.context.utc_offset_seconds);
            history.record_success(results, *units, today, now);
        }
        Err(err) => {
            history.record_failure(err.status, &err.message, now);
            if err.cause == Some(Cause::GrantRefused) {
                access::grant_refused(host, &paths, &app, &token, &mut history, now);
            }
        }
    }
    history.save(host, &paths, user);
    // The notice follows the token as it is now (a refresh keeps the grant).
    let app = AppSettings::load(host, &paths).unwrap_or(app);
    let access = Access::of(&app, &token, &history, now);
    if let Err(err) = access::publish_notice(
        host,
        &paths,
        user,
        access.notice(user, &plugin_url, now).as_deref(),
    ) {
        host.log(
            Level::Warn,
            &format!("notice for {user} not saved: {}", err.message),
        );
    }
    outcome.map(|(results, _)| Response::json(&Value::Object(results)))
}

/// One run for `user` whose token exists: the merged results and the units
/// they are in.
fn run(
    host: &dyn Host,
    request: &Request,
    paths: &Paths,
    app: &AppSettings,
    user: &str,
    token: Map<String, Value>,
    token_revision: u64,
) -> Result<(Map<String, Value>, Units)> {
    let plugin_url = request.plugin_url();
    let token_at_start = token.clone();
    for key in ["access_token", "refresh_token"] {
        if field(&token, key).is_none() {
            return Err(PluginError::forbidden(format!(
                "Fitbitplugin 'token' plugindata for user '{user}' misses '{key}'"
            )));
        }
    }
    app.require_client_id()?;
    require_client_secret(host, request, paths)?;

    let (methods, mut args) = user_methods(host, paths, user, request.query("methods"))?;
    for (name, value) in &request.query {
        if !CONTROL_PARAMETERS.contains(&name.as_str()) {
            args.insert(name.clone(), Value::from(value.clone()));
        }
    }

    let today = Date::from_epoch(host.now(), request.context.utc_offset_seconds);
    // A token records its provider, so legacy and Google users can coexist.
    let provider_id = field(&token, "provider").unwrap_or_else(|| "fitbit".to_string());
    let provider = provider_for(&provider_id, request, today)?;
    let calls = provider.plan(&methods, &args, today)?;
    if let Some(granted) = field(&token, "scope") {
        let missing = provider.missing_scopes(&calls, &granted);
        if !missing.is_empty() {
            return Err(missing_consent(&plugin_url, user, &missing));
        }
    }

    let place = TokenPlace {
        path: paths.token(user),
        lease_path: paths.token_lease(user),
        lease_seconds: lease_seconds(request),
    };
    let mut keeper = TokenKeeper::new(
        host,
        provider.as_ref(),
        app,
        place,
        user,
        plugin_url,
        token,
        token_revision,
    );
    keeper.ensure_fresh()?;
    let (previous, sensors_revision) = host
        .store_get(&paths.sensors(user))
        .map_err(PluginError::store)?
        .map_or((Map::new(), 0), |(value, revision)| {
            (into_object(value), revision)
        });
    let mut state = RunState {
        previous,
        sync: read_sync(host, &paths.sync(user), sensors_revision)?,
        token: token_at_start,
    };
    let mut results = Map::new();
    for call in &calls {
        let outcome =
            match provider.execute(host, app, call, &keeper.access_token(), user, &mut state) {
                Err(ApiError::Expired) => {
                    keeper.refresh()?;
                    provider.execute(host, app, call, &keeper.access_token(), user, &mut state)
                }
                other => other,
            };
        match outcome {
            Ok(result) => merge_result(&mut results, result),
            Err(ApiError::Expired) => {
                return Err(PluginError::upstream(format!(
                    "{} error: the access token was refused right after a refresh",
                    provider.name()
                )));
            }
            Err(ApiError::Failed(err)) => return Err(err),
        }
    }
    let units = units_of(app, provider.id(), &state.sync);
    // Refetchable, and unwritten when nothing changed (the steady state).
    let sensors = Value::Object(results);
    let revision = host
        .store_write(
            &paths.sensors(user),
            &sensors,
            None,
            Durability::Refetchable,
        )
        .map_err(PluginError::store)?
        .revision;
    // Bound to the revision just written: if another run writes `sensors`
    // before this bookkeeping lands, the revisions differ and the next run
    // reads in full instead of trusting bookkeeping that ran ahead.
    if !state.sync.is_empty() {
        let mut sync = state.sync;
        sync.insert(SENSORS_REVISION.into(), Value::from(revision.to_string()));
        let sync = Value::Object(sync);
        let written = host.store_write(&paths.sync(user), &sync, None, Durability::Refetchable);
        if let Err(err) = written {
            host.log(
                Level::Warn,
                &format!("sync state of {user} not saved ({err}); the next run reads in full"),
            );
        }
    }
    Ok((into_object(sensors), units))
}

/// Adds one call's result to the run's: keys replace earlier ones, except
/// the notes of what calls left out, which add up.
fn merge_result(results: &mut Map<String, Value>, result: Map<String, Value>) {
    use crate::provider::google::PARTIAL_CONSENT;
    for (key, value) in result {
        match (results.get_mut(&key), value) {
            (Some(Value::Object(notes)), Value::Object(more)) if key == PARTIAL_CONSENT => {
                notes.extend(more)
            }
            (_, value) => {
                results.insert(key, value);
            }
        }
    }
}

/// 403 for a call that needs permissions the user has not given: names the
/// data and the `auth1` link that asks for them too (what was granted is
/// kept: incremental authorisation).
fn missing_consent(plugin_url: &str, user: &str, missing: &[&str]) -> PluginError {
    use crate::provider::google::{scope_description, scope_short_name};
    let what = missing
        .iter()
        .map(|s| scope_description(s))
        .collect::<Vec<_>>()
        .join(", ");
    let names = missing
        .iter()
        .map(|s| scope_short_name(s))
        .collect::<Vec<_>>()
        .join(",");
    PluginError::forbidden(format!(
        "Fitbitplugin: {user} has not allowed access to {what} (Google Health scope {names}). \
         Allow it at {plugin_url}/auth1?user={user}&scope={names} - what {user} allowed before \
         is kept."
    ))
}

/// The incremental-sync bookkeeping, if it describes `sensors/N/U` at
/// `sensors_revision`; otherwise none (the next calls read in full).
fn read_sync(host: &dyn Host, path: &str, sensors_revision: u64) -> Result<Map<String, Value>> {
    let Some((value, _)) = host.store_get(path).map_err(PluginError::store)? else {
        return Ok(Map::new());
    };
    let mut sync = into_object(value);
    // Igor may have turned the revision into a number.
    let bound = sync.remove(SENSORS_REVISION).as_ref().and_then(as_text);
    if sensors_revision == 0 || bound != Some(sensors_revision.to_string()) {
        sync.clear();
    }
    Ok(sync)
}
