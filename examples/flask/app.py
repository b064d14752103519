"""A Flask app that signs its users in with Gatehouse (OpenID Connect, through authlib)
and protects one API route by verifying Gatehouse access tokens against its JWKS.

    pip install -r requirements.txt
    GATEHOUSE_URL=http://127.0.0.1:8080 CLIENT_ID=... CLIENT_SECRET=... flask --app app run --port 5000
"""
import os

import requests
from authlib.integrations.flask_client import OAuth
from authlib.jose import JsonWebKey, JoseError, jwt
from flask import Flask, abort, jsonify, redirect, request, session, url_for

GATEHOUSE = os.environ.get("GATEHOUSE_URL", "http://127.0.0.1:8080").rstrip("/")
CLIENT_ID = os.environ["CLIENT_ID"]
# The `aud` this app's API takes: Gatehouse gives each app's tokens that app's own
# audience (its client_id, or an API URI registered on the client and asked for with
# `resource`), so a token another app was given does not open this one.
AUDIENCE = os.environ.get("API_AUDIENCE") or CLIENT_ID

app = Flask(__name__)
app.secret_key = os.environ.get("FLASK_SECRET_KEY") or os.urandom(32)
oauth = OAuth(app)
oauth.register(
    "gatehouse",
    client_id=CLIENT_ID,
    client_secret=os.environ["CLIENT_SECRET"],
    server_metadata_url=f"{GATEHOUSE}/.well-known/openid-configuration",
    client_kwargs={"scope": "openid profile email offline_access", "code_challenge_method": "S256"},
)


@app.route("/")
def home():
    user = session.get("user")
    if not user:
        return '<main><a href="/login">Sign in with Gatehouse</a></main>'
    return (
        f"<main><p>Signed in as {user['preferred_username']}</p>"
        f"<p>Photos API: {photos_for(session['access_token'])['owner']}</p>"
        '<p><a href="/refresh">Refresh tokens</a> <a href="/logout">Sign out</a></p></main>'
    )


@app.route("/login")
def login():
    return oauth.gatehouse.authorize_redirect(url_for("callback", _external=True))


@app.route("/callback")
def callback():
    # Checks `state`, sends the PKCE verifier, and verifies the ID token: its signature
    # against the JWKS, `iss`, `aud`, `exp`, `nonce` and `at_hash`.
    token = oauth.gatehouse.authorize_access_token()
    session["user"] = oauth.gatehouse.userinfo(token=token)
    # A refresh token comes only when the client may ask for `offline_access`.
    session.update(access_token=token["access_token"], refresh_token=token.get("refresh_token"), id_token=token["id_token"])
    return redirect("/")


@app.route("/refresh")
def refresh():
    if not session.get("refresh_token"):
        return "<main><p>Nothing to refresh: this client may not ask for offline_access.</p></main>", 409
    token = oauth.gatehouse.fetch_access_token(grant_type="refresh_token", refresh_token=session["refresh_token"])
    session.update(access_token=token["access_token"], refresh_token=token["refresh_token"])
    return redirect("/")


@app.route("/logout")
def logout():
    end_session = oauth.gatehouse.load_server_metadata()["end_session_endpoint"]
    hint = session.pop("id_token", "")
    session.clear()
    return redirect(f"{end_session}?" + requests.compat.urlencode({
        "id_token_hint": hint, "post_logout_redirect_uri": url_for("home", _external=True)}))


def photos_for(access_token):
    """Verifies an access token against Gatehouse's published keys; 401 when it fails."""
    keys = JsonWebKey.import_key_set(requests.get(f"{GATEHOUSE}/.well-known/jwks.json", timeout=5).json())
    try:
        claims = jwt.decode(access_token, keys, claims_options={
            "iss": {"essential": True, "value": oauth.gatehouse.load_server_metadata()["issuer"]},
            "aud": {"essential": True, "value": AUDIENCE}})
        claims.validate()
    except (JoseError, ValueError):
        abort(401)
    return {"owner": claims["sub"], "photos": []}


@app.route("/api/photos")
def photos():
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        abort(401)
    return jsonify(photos_for(token))


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "5000")))
