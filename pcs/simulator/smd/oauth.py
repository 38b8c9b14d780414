"""An OAuth2 token issuer in front of the SMD face (client credentials grant), off until an
admin turns it on: then every HSM call needs a bearer token it issued and that has not expired,
as an SMD behind an API gateway does.

    PUT    /admin/smd/oauth   {"clientId": "...", "clientSecret": "...", "expiresIn": 300}
    GET    /admin/smd/oauth   {"enabled": true, "issued": <tokens issued so far>}
    DELETE /admin/smd/oauth   off again
    POST   /oauth/token       grant_type=client_credentials, the client as HTTP Basic
"""
from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass, field

from aiohttp import web

from .errors import BadRequest
from .problems import json_answer, problem, read_json
from .routes import FACE

oauth_routes = web.RouteTableDef()


@dataclass
class TokenIssuer:
    client_id: str
    client_secret: str
    expires_in_s: float = 300.0
    tokens: dict[str, float] = field(default_factory=dict)   # token -> expiry (time.time())
    issued: int = 0

    def issue(self, authorization: str, now: float) -> str | None:
        """A new token for the right client (HTTP Basic), else None."""
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if not secrets.compare_digest(authorization, f"Basic {expected}"):
            return None
        token = secrets.token_urlsafe(24)
        self.tokens[token] = now + self.expires_in_s
        self.issued += 1
        return token

    def accepts(self, authorization: str, now: float) -> bool:
        scheme, _, token = authorization.partition(" ")
        return scheme.lower() == "bearer" and self.tokens.get(token, 0.0) > now


def issuer_of(request: web.Request) -> TokenIssuer | None:
    return getattr(request.app[FACE], "oauth", None)


@oauth_routes.post("/oauth/token")
async def token(request: web.Request) -> web.Response:
    issuer = issuer_of(request)
    form = await request.post()
    if issuer is None or form.get("grant_type") != "client_credentials":
        return json_answer({"error": "unsupported_grant_type"}, status=400)
    issued = issuer.issue(request.headers.get("Authorization", ""), time.time())
    if issued is None:
        return json_answer({"error": "invalid_client"}, status=401)
    return json_answer({"access_token": issued, "token_type": "Bearer",
                        "expires_in": int(issuer.expires_in_s)})


@oauth_routes.put("/admin/smd/oauth")
async def oauth_on(request: web.Request) -> web.Response:
    body = await read_json(request)
    if not isinstance(body, dict) or not body.get("clientId") or not body.get("clientSecret"):
        raise BadRequest("clientId and clientSecret are required")
    request.app[FACE].oauth = TokenIssuer(str(body["clientId"]), str(body["clientSecret"]),
                                          float(body.get("expiresIn") or 300))
    return json_answer({"enabled": True, "issued": 0})


@oauth_routes.get("/admin/smd/oauth")
async def oauth_shown(request: web.Request) -> web.Response:
    issuer = issuer_of(request)
    return json_answer({"enabled": issuer is not None, "issued": issuer.issued if issuer else 0})


@oauth_routes.delete("/admin/smd/oauth")
async def oauth_off(request: web.Request) -> web.Response:
    request.app[FACE].oauth = None
    return json_answer({"enabled": False, "issued": 0})


def bearer_refusal(request: web.Request) -> web.Response | None:
    """401 for an HSM call without a valid token while the issuer is on."""
    issuer = issuer_of(request)
    if issuer is None or issuer.accepts(request.headers.get("Authorization", ""), time.time()):
        return None
    return problem(401, "a valid bearer token is required")
