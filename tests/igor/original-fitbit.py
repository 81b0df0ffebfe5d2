"""igorServer, with python-fitbit pointed at FITBIT_ORIGIN.

Igor's original std `fitbit` plugin uses python-fitbit 0.3.1, which hard-codes
https://api.fitbit.com and https://www.fitbit.com. This starts Igor exactly as
`igorServer` does (same arguments) after pointing those endpoints at
FITBIT_ORIGIN, e.g. a fake Fitbit cloud on loopback, so that the original
plugin can be run against it. oauthlib refuses plain-HTTP token URLs unless
OAUTHLIB_INSECURE_TRANSPORT is set, so this sets it.
"""

import os
import sys

# Igor's module monkey-patches the standard library for gevent on import; it
# must come before anything that imports ssl or sockets (python-fitbit does).
import igor.__main__ as igor_main
import fitbit.api

origin = os.environ["FITBIT_ORIGIN"].rstrip("/")
os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"

client = fitbit.api.FitbitOauth2Client
client.API_ENDPOINT = origin
client.AUTHORIZE_ENDPOINT = origin
client.request_token_url = origin + "/oauth2/token"
client.access_token_url = client.request_token_url
client.refresh_token_url = client.request_token_url
client.authorization_url = origin + "/oauth2/authorize"
fitbit.api.Fitbit.API_ENDPOINT = origin

sys.argv[0] = "igorServer"
sys.exit(igor_main.main())
