"""Signs up on a fresh MCPlatform, creates an organization with a server, and prints
`<org id> <telemetry:write key of the server> <management key>`.

Usage: telemetry_setup.py <base URL>
"""

import http.cookiejar
import json
import sys
import urllib.request

base = sys.argv[1]
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
csrf = None


def call(method, path, body):
    headers = {"content-type": "application/json"}
    if csrf:
        headers["x-csrf-token"] = csrf
    request = urllib.request.Request(f"{base}/api/v1{path}", json.dumps(body).encode(), headers, method=method)
    with opener.open(request) as response:
        return json.load(response)


signup = call("POST", "/auth/signup", {"email": "bench@example.com", "display_name": "Bench",
                                       "password": "correct horse battery staple"})
csrf = signup["csrf_token"]
org = call("POST", "/orgs", {"name": "Bench"})["id"]
server = call("POST", f"/orgs/{org}/servers", {"slug": "bench", "name": "Bench", "auth_mode": "none"})["id"]
telemetry = call("POST", f"/orgs/{org}/api-keys", {"name": "otel", "scopes": ["telemetry:write"],
                                                   "mcp_server_id": server})["secret"]
management = call("POST", f"/orgs/{org}/api-keys", {"name": "bench", "scopes": ["management"]})["secret"]
print(org, telemetry, management)
