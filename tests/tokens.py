"""Signing keys and a JWKS endpoint for tests: real RSA and EC keys, served over HTTP."""
from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

AUDIENCE, ISSUER = "pcs", "https://idp.example"


class JwksServer:
    """A JWKS endpoint on 127.0.0.1 whose keys (or failure) the test sets."""

    def __init__(self):
        self.jwks: dict = {"keys": []}
        self.status = 200
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.fetches += 1
                body = json.dumps(outer.jwks).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/keys"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def publish(self, *signers: "Signer") -> None:
        self.jwks = {"keys": [s.jwk for s in signers]}

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Signer:
    """A private key with its public JWK."""

    def __init__(self, kind: str, kid: str | None = None):
        self.kid = kid or f"{kind}-{uuid.uuid4().hex[:6]}"
        if kind == "rsa":
            self.key, self.alg = rsa.generate_private_key(public_exponent=65537,
                                                          key_size=2048), "RS256"
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        else:
            self.key, self.alg = ec.generate_private_key(ec.SECP256R1()), "ES256"
            jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.key.public_key()))
        self.jwk = {**jwk, "kid": self.kid, "use": "sig", "alg": self.alg}

    def token(self, drop: tuple[str, ...] = (), **claims) -> str:
        now = int(time.time())
        body = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600,
                **claims}
        for name in drop:
            body.pop(name, None)
        return jwt.encode(body, self.key, algorithm=self.alg, headers={"kid": self.kid})
