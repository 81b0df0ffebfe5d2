"""Igor plugin that forwards /plugin/NAME/... to igor-host.

igor-host runs the fitbit plugin as a WebAssembly component and keeps its
documents in this Igor's database. This plugin keeps Igor's URLs working:
every call of /plugin/NAME[/METHOD]?args (browsers, Igor's own actions) is
passed on to the host as GET <host_url>/plugin/NAME[/METHOD]?args, and the
host's answer (status, redirect, content type, body) is returned as it is.

Settings, in plugindata/NAME (NAME is the install name, normally fitbit):
  host_url        the host's URL as Igor reaches it, e.g. http://127.0.0.1:9334
  forward_secret  the host's [server] igor_forward_secret; with it the host
                  believes the caller named in X-Igor-Caller (use a value that
                  does not look like a number: Igor would convert it)
  host_token      optional: a bearer token for a host that requires one
  host_timeout    optional: seconds to wait for the host (default 60)

See readme.md for installation.
"""

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
# Attribute names Igor or Python may probe for that are not host methods.
NOT_FORWARDED = ("unload", "next", "keys", "items")
REQUEST_HEADERS = ("content-type", "origin", "accept", "accept-language", "user-agent")
RESPONSE_HEADERS = ("content-type", "location", "cache-control", "allow", "content-disposition")
REDIRECTS = (301, 302, 303, 307, 308)


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
        """The forwarder's settings from plugindata/NAME: host_url (None
        until set), forward_secret, host_token (None when unset) and
        host_timeout (seconds)."""
        try:
            timeout = float(self._setting("host_timeout", "60"))
        except ValueError:
            timeout = 60.0
        return {
            "host_url": self._setting("host_url"),
            "forward_secret": self._setting("forward_secret"),
            "host_token": self._setting("host_token"),
            "host_timeout": timeout,
        }

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
            answer = self._call(subpath, "POST", query, flask_request.get_data())
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


def igorPlugin(igor, pluginName, pluginData):
    _registerPostRoute(pluginName)
    return IgorHostForwarder(igor, pluginName, pluginData)
