"""Igor plugin that forwards /plugin/NAME/... to igor-host.

igor-host runs the fitbit plugin as a WebAssembly component and keeps its
documents in this Igor's database. This plugin keeps Igor's URLs working:
every call of /plugin/NAME[/METHOD]?args (browsers, Igor's own actions) is
passed on to the host as GET <host_url>/plugin/NAME[/METHOD]?args, and the
host's answer (status, redirect, content type, body) is returned as it is.

Settings, in plugindata/NAME (NAME is the install name, normally fitbit):
  host_url        the host's URL as Igor reaches it, e.g. http://127.0.0.1:9334;
                  only a loopback URL is used from here (anyone who may
                  write plugindata could otherwise send the forward secret
                  anywhere): any other goes in the file NAME.host_url below
  host_timeout    optional: seconds to wait for the host (default 60)

Credentials, in files of Igor's database directory, beside shadow.xml and
outside everything Igor serves (plugindata is readable over Igor's REST
API, and files under plugins/ can be rendered as pages):
  NAME.forward_secret  the host's [server] igor_forward_secret: the host
                       accepts forwarded requests, and believes the caller
                       named in X-Igor-Caller, only with it
  NAME.host_token      optional: the host's owner token, for a host that
                       is called with one instead
  NAME.host_url        optional: the host's URL, which wins over
                       plugindata's and may be any http(s) address
Values found in plugindata/NAME (where earlier versions kept them) are
moved to these files and removed from Igor's database.

Rights: Igor checks its get right on /plugin/NAME/METHOD. What a call
changes needs Igor's put right on it, decided by the method alone: a POST
to settings (or any method not listed below) changes plugindata/NAME; a
POST to userSettings or auth2 (the pasted address) and a GET of auth1
(which ends in a new token for the user) change
identities/USER/plugindata/NAME for the USER the request names. A POST
body must be application/x-www-form-urlencoded; the forwarder parses it
itself and passes exactly those bytes on, so the user it checked is the
user the host acts for.

See readme.md for installation.
"""

import ipaddress
import os
import re
import urllib.parse

import requests
from flask import Response
from flask import request as flask_request

# Arguments Igor adds to every plugin call; never passed on.
IGOR_ARGS = ("token", "callerToken", "userData")
# Template variables Igor adds when rendering a page.
PAGE_ARGS = IGOR_ARGS + ("pluginName", "pluginObject", "pluginData", "kwargs")
METHOD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")
# Igor user names: XML element names.
USER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
# Credentials kept in files, never in Igor's database.
CREDENTIALS = ("forward_secret", "host_token")
# Attribute names Igor or Python may probe for that are not host methods.
NOT_FORWARDED = ("unload", "next", "keys", "items")
# sec-fetch-site: where the browser says the request comes from (the host
# refuses to start an authorisation from another site's page).
REQUEST_HEADERS = ("content-type", "origin", "accept", "accept-language", "user-agent", "sec-fetch-site")
RESPONSE_HEADERS = ("content-type", "location", "cache-control", "allow", "content-disposition")
REDIRECTS = (301, 302, 303, 307, 308)
# What a call of each method changes, besides what Igor's get right on the
# method allows: the plugin's settings ("app") or the settings of the user
# the request names ("user"). A POST to a method not listed changes the
# plugin's settings, the strictest.
POST_CHANGES = {"settings": "app", "userSettings": "user", "auth2": "user"}
GET_CHANGES = {"auth1": "user"}
FORM_TYPE = "application/x-www-form-urlencoded"
# The host refuses larger bodies anyway; Igor need not read them.
MAX_FORM_BYTES = 1 << 20


class IgorHostForwarder(object):
    def __init__(self, igor, pluginName, pluginData):
        self.igor = igor
        self.pluginName = pluginName
        self.pluginData = pluginData if isinstance(pluginData, dict) else {}

    def __getattr__(self, name):
        # Igor calls getattr(plugin, METHOD)(**args): any method the host has.
        if name.startswith("_") or name in NOT_FORWARDED or not METHOD_NAME.match(name):
            raise AttributeError(name)

        def forwarded(**kwargs):
            if flask_request.method != "POST" and name in GET_CHANGES:
                users = flask_request.args.getlist("user")
                _require_put(self.igor, self.pluginName, GET_CHANGES[name], users)
            return self._forward(name)

        forwarded.__name__ = name
        return forwarded

    # ---- used by the setup.html template --------------------------------

    def _page(self, pageName=None, args=None, **kwargs):
        """The host's /page/PAGE as HTML for a template. A non-200 answer
        (an error, a redirect) replaces the whole page."""
        if not pageName or not METHOD_NAME.match(pageName):
            self.igor.app.raiseNotfound()
        answer = self._call("page/" + pageName, "GET", self._query(), None)
        if answer.status_code != 200:
            from werkzeug.exceptions import abort

            abort(self._response(answer))
        return answer.text

    # ---- settings (all read here) ---------------------------------------

    def _settings(self):
        """The forwarder's settings: host_url (None until set) and
        host_timeout (seconds) from plugindata/NAME, forward_secret and
        host_token (None when unset) from their files."""
        try:
            timeout = float(self._setting("host_timeout", "60"))
        except ValueError:
            timeout = 60.0
        settings = {"host_url": self._host_url(), "host_timeout": timeout}
        for name in CREDENTIALS:
            settings[name] = _read_credential(self.igor, self.pluginName, name)
        return settings

    def _host_url(self):
        """The host's URL: from DIR/NAME.host_url when that file exists
        (only Igor's user can write it), else plugindata's host_url if it
        is a loopback URL; None when neither is set. Anything else is
        refused before a connection is made: the forward secret goes where
        this URL says."""
        name = self.pluginName
        from_file = _read_credential(self.igor, name, "host_url")
        if from_file:
            url = _plain_host_url(from_file)
            if url is None:
                self.igor.app.raiseHTTPError(
                    "503 %s forwarder: %s is not an http(s)://HOST[:PORT] URL"
                    % (name, _credential_path(self.igor, name, "host_url"))
                )
            return url[0]
        value = self._setting("host_url")
        if value is None:
            return None
        url = _plain_host_url(value)
        if url is None:
            self.igor.app.raiseHTTPError(
                "503 %s forwarder: plugindata/%s/host_url is not an http(s)://HOST[:PORT] URL"
                % (name, name)
            )
        if not _is_loopback(url[1]):
            self.igor.app.raiseHTTPError(
                "503 %s forwarder: plugindata/%s/host_url must be a loopback URL (127.0.0.1, [::1] "
                "or localhost): whoever may write plugindata could send the forward secret "
                "anywhere. For a host on another address, put its URL in %s (readable and "
                "writable by Igor's user only)" % (name, name, _credential_path(self.igor, name, "host_url"))
            )
        return url[0]

    def _setting(self, key, default=None):
        value = self.pluginData.get(key, default)
        if value is None or value == {} or value == "":
            return default
        return str(value)

    # ---- forwarding ------------------------------------------------------

    def _query(self):
        """The caller's own query arguments, without Igor's additions."""
        return [(k, v) for k, v in flask_request.args.items(multi=True) if k not in PAGE_ARGS]

    def _caller(self):
        """The Igor user making this call, if known: the logged-in session
        user, else the user of Basic credentials (Igor has checked them
        unless it runs with --noCapabilities). Actions (one-time passwords)
        have no user."""
        try:
            user = self.igor.app.getSessionItem("user", None)
        except Exception:
            user = None
        if not user:
            auth = flask_request.authorization
            if auth is not None and auth.username and not auth.username.startswith("-otp-"):
                user = auth.username
        return str(user) if user else None

    def _call(self, subpath, method, query, body):
        settings = self._settings()
        hostUrl = settings["host_url"]
        if not hostUrl:
            # Igor keeps an action's failure until the action runs again:
            # say what to set and how to run it now.
            self.igor.app.raiseHTTPError(
                "503 %s forwarder not configured yet: set plugindata/%s/host_url to igor-host's URL, "
                "then run the action again (/action/NAME; see igor/plugin/readme.md)"
                % (self.pluginName, self.pluginName)
            )
        url = "%s/plugin/%s" % (hostUrl.rstrip("/"), urllib.parse.quote(self.pluginName))
        if subpath:
            url += "/" + urllib.parse.quote(subpath)
        headers = {}
        for name in REQUEST_HEADERS:
            value = flask_request.headers.get(name)
            if value:
                headers[name] = value
        # The authority the browser used, so that the host can tell a form
        # posted from that origin from a cross-site one.
        if flask_request.host:
            headers["X-Forwarded-Host"] = flask_request.host
        caller = self._caller()
        secret = settings["forward_secret"]
        if caller and secret:
            headers["X-Igor-Caller"] = caller
        if secret:
            headers["X-Igor-Forward-Secret"] = secret
        if settings["host_token"]:
            headers["Authorization"] = "Bearer " + settings["host_token"]
        try:
            return requests.request(
                method,
                url,
                params=query,
                data=body,
                headers=headers,
                allow_redirects=False,
                timeout=settings["host_timeout"],
            )
        except requests.exceptions.RequestException as e:
            self.igor.app.raiseHTTPError(
                "502 %s forwarder: igor-host at %s did not answer: %s"
                % (self.pluginName, hostUrl, type(e).__name__)
            )

    def _response(self, answer):
        """The host's answer as a Flask response. For an error, the status
        line carries the first line of a plain-text body, as Igor's
        raiseHTTPError does, so Igor's logs and action status show it."""
        status = answer.status_code
        contentType = answer.headers.get("content-type", "text/plain")
        if status >= 400 and contentType.startswith("text/plain"):
            first = answer.text.strip().splitlines()[0] if answer.text.strip() else ""
            reason = first.encode("latin-1", "replace").decode("latin-1")
            reason = "".join(c if c.isprintable() else " " for c in reason)[:200]
            if reason.startswith(str(status)):
                reason = reason[len(str(status)) :].strip()
            if reason:
                status = "%d %s" % (status, reason)
        response = Response(answer.content, status=status)
        for name in RESPONSE_HEADERS:
            value = answer.headers.get(name)
            if value:
                response.headers[name] = value
        return response

    def _forward(self, method):
        subpath = "" if method == "index" else method
        if flask_request.method == "POST":
            query = [(k, v) for k, v in flask_request.args.items(multi=True) if k not in IGOR_ARGS]
            # The very bytes forwardPost checked.
            answer = self._call(subpath, "POST", query, flask_request.get_data(cache=True))
        else:
            query = [(k, v) for k, v in flask_request.args.items(multi=True) if k not in IGOR_ARGS]
            answer = self._call(subpath, "GET", query, None)
        return self._response(answer)


def _registerPostRoute(pluginName):
    """Igor 0.99.1 routes /plugin/NAME/METHOD for GET only, but the host's
    setup page posts its forms there. Add a POST route for this plugin's
    methods (to the live URL map: Flask no longer allows add_url_rule once
    it has served requests), with the same access check Igor makes."""
    from igor import webApp
    from werkzeug.routing import Rule

    app = webApp._WEBAPP
    endpoint = "igorhost_forward_post_" + pluginName
    if endpoint in app.view_functions:
        return

    def forwardPost(methodName):
        igor = webApp._SERVER.igor
        token = igor.access.tokenForRequest(flask_request.environ)
        checker = igor.access.checkerForEntrypoint(flask_request.environ["PATH_INFO"])
        if not checker.allowed("get", token):
            igor.app.raiseHTTPError("401 Unauthorized")
        # A POST changes settings: the caller also needs the right to write
        # what the method changes, as if writing it in Igor's database.
        form = _form_fields(igor, pluginName)
        users = [value.strip() for key, value in form if key == "user"]
        _require_put(igor, pluginName, POST_CHANGES.get(methodName, "app"), users)
        plugin = igor.plugins._getPluginObject(pluginName, token)
        if plugin is None:
            igor.app.raiseNotfound()
        try:
            method = getattr(plugin, methodName)
        except AttributeError:
            igor.app.raiseNotfound()
        return method()

    app.view_functions[endpoint] = forwardPost
    app.url_map.add(Rule("/plugin/%s/<string:methodName>" % pluginName, methods=["POST"], endpoint=endpoint))


def _form_fields(igor, pluginName):
    """The fields of the request's body, parsed here from the bytes that
    are forwarded (cached), as the host parses them: only an
    application/x-www-form-urlencoded body (or none at all) is accepted, in
    plain ASCII as browsers send it, so no parser can read it otherwise."""
    declared = flask_request.content_length
    if declared is not None and declared > MAX_FORM_BYTES:
        igor.app.raiseHTTPError("413 Payload Too Large: %s forms are at most %d bytes" % (pluginName, MAX_FORM_BYTES))
    encoding = flask_request.headers.get("content-encoding", "identity").strip().lower()
    body = flask_request.get_data(cache=True)
    if not body:
        return []
    if flask_request.mimetype != FORM_TYPE or encoding != "identity":
        igor.app.raiseHTTPError(
            "415 Unsupported Media Type: %s forms are posted as %s, not %s"
            % (pluginName, FORM_TYPE, (flask_request.mimetype or "without a type") + (
                "" if encoding == "identity" else " (" + encoding + ")"))
        )
    if len(body) > MAX_FORM_BYTES:
        igor.app.raiseHTTPError("413 Payload Too Large: %s forms are at most %d bytes" % (pluginName, MAX_FORM_BYTES))
    try:
        text = body.decode("ascii")
        return urllib.parse.parse_qsl(text, keep_blank_values=True, errors="replace", max_num_fields=1000)
    except (UnicodeDecodeError, ValueError):
        igor.app.raiseHTTPError("400 Bad Request: %s: not a urlencoded form (raw bytes beyond ASCII, or too many fields)" % pluginName)


def _require_put(igor, pluginName, changes, users):
    """Refuses (403) a caller without Igor's put right on what the call
    changes: plugindata/NAME ("app"), or identities/USER/plugindata/NAME
    ("user") for the one USER the request names in `users` (the plugin acts
    for the first; all must agree)."""
    if changes == "app":
        path = "/data/plugindata/%s" % pluginName
    else:
        if not users or not users[0]:
            igor.app.raiseHTTPError("400 Bad Request: %s: the request names no user" % pluginName)
        if any(user != users[0] for user in users):
            igor.app.raiseHTTPError("400 Bad Request: %s: the request names more than one user" % pluginName)
        if not USER_NAME.match(users[0]):
            igor.app.raiseHTTPError("400 Bad Request: %s: not a user name" % pluginName)
        path = "/data/identities/%s/plugindata/%s" % (users[0], pluginName)
    token = igor.access.tokenForRequest(flask_request.environ)
    if not igor.access.checkerForNewElement(path).allowed("put", token):
        igor.app.raiseHTTPError(
            "403 Forbidden: this %s call changes %s and needs the put right on it" % (pluginName, path)
        )


def _plain_host_url(value):
    """(http(s)://HOST[:PORT], HOST) rebuilt from its parts, or None for
    anything with more than that (a path, user information, a query, a
    backslash), which HTTP libraries might read differently."""
    value = str(value).strip()
    if "\\" in value or any(c.isspace() or ord(c) < 32 for c in value):
        return None
    try:
        parts = urllib.parse.urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if (
        parts.scheme not in ("http", "https")
        or not host
        or "@" in parts.netloc
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        return None
    netloc = "[%s]" % host if ":" in host else host
    if port is not None:
        netloc += ":%d" % port
    return ("%s://%s" % (parts.scheme, netloc), host)


def _is_loopback(host):
    """127.0.0.0/8, ::1 and localhost."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _credential_path(igor, pluginName, name):
    """Igor's database directory holds shadow.xml, Igor's own secrets; Igor
    serves nothing from it (static files come from static/, pages from
    plugins/)."""
    return os.path.join(igor.pathnames.datadir, "%s.%s" % (pluginName, name))


def _read_credential(igor, pluginName, name):
    path = _credential_path(igor, pluginName, name)
    try:
        if os.stat(path).st_mode & 0o077:
            os.chmod(path, 0o600)
            print("%s forwarder: %s was readable by others; now only by Igor's user" % (pluginName, path))
        with open(path) as f:
            value = f.read().strip()
    except FileNotFoundError:
        return None
    return value or None


def _write_credential(path, value):
    """Creates the file readable and writable by Igor's user only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value)


def _move_credentials(igor, pluginName, pluginData):
    """Credentials found in plugindata/NAME, where anyone who may read
    Igor's data could see them, go to their files and leave the database."""
    moved = False
    for name in CREDENTIALS:
        value = pluginData.get(name) if isinstance(pluginData, dict) else None
        if value is None:
            continue
        path = _credential_path(igor, pluginName, name)
        value = str(value).strip() if value not in ("", {}) else ""
        if value and not os.path.exists(path):
            _write_credential(path, value)
            print("%s forwarder: moved plugindata/%s/%s to %s" % (pluginName, pluginName, name, path))
        else:
            print("%s forwarder: removed plugindata/%s/%s" % (pluginName, pluginName, name))
        igor.databaseAccessor.delete_key("plugindata/%s/%s" % (pluginName, name), igor.access.tokenForIgor())
        del pluginData[name]
        moved = True
    if moved:
        igor.internal.save(igor.access.tokenForIgor())


def igorPlugin(igor, pluginName, pluginData):
    _registerPostRoute(pluginName)
    _move_credentials(igor, pluginName, pluginData)
    return IgorHostForwarder(igor, pluginName, pluginData)
