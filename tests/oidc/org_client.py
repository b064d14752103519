"""A relying party written with authlib, for the organization test (tests/browser/oidc_orgs.rs).

  org_client.py start ISSUER CLIENT_ID SECRET REDIRECT_URI ORG
      prints {"url", "state", "verifier"}: the authorization URL authlib builds (PKCE, scope
      `openid profile organization`, `organization=ORG` when ORG is not empty)
  org_client.py finish ISSUER CLIENT_ID SECRET REDIRECT_URI CALLBACK_URL STATE VERIFIER
      exchanges the code with authlib, verifies the ID token against the provider's JWKS,
      reads userinfo, and prints {"id_token": claims, "userinfo": ...}
"""
import json
import sys

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.common.security import generate_token


def session(client_id, secret, redirect_uri, state=None, verifier=None):
    return OAuth2Session(client_id, secret, scope="openid profile organization", redirect_uri=redirect_uri,
                         state=state, code_challenge_method="S256")


def start(issuer, client_id, secret, redirect_uri, org):
    meta = requests.get(issuer + "/.well-known/openid-configuration", timeout=10).json()
    verifier = generate_token(48)
    extra = {"organization": org} if org else {}
    url, state = session(client_id, secret, redirect_uri).create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce="n-org", **extra)
    print(json.dumps({"url": url, "state": state, "verifier": verifier}))


def finish(issuer, client_id, secret, redirect_uri, callback, state, verifier):
    meta = requests.get(issuer + "/.well-known/openid-configuration", timeout=10).json()
    client = session(client_id, secret, redirect_uri, state=state)
    token = client.fetch_token(meta["token_endpoint"], authorization_response=callback, code_verifier=verifier)
    keys = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
    claims = jwt.decode(token["id_token"], keys, claims_options={
        "iss": {"essential": True, "value": meta["issuer"]},
        "aud": {"essential": True, "value": client_id},
        "nonce": {"essential": True, "value": "n-org"},
    })
    claims.validate()
    userinfo = client.get(meta["userinfo_endpoint"]).json()
    print(json.dumps({"id_token": dict(claims), "userinfo": userinfo, "access_token": token["access_token"]}))


if __name__ == "__main__":
    if sys.argv[1] == "start":
        start(*sys.argv[2:7])
    else:
        finish(*sys.argv[2:9])
