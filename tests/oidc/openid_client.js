// A relying party written with Node's openid-client (a certified OpenID Connect client
// library), driven by tests/browser/oidc.rs: discovery, authorization code with PKCE, the
// ID token's checks (signature against the JWKS, nonce, at_hash), userinfo, a refresh, the
// logout URL, and the refusal of a replayed code.
//
// Env: GATEHOUSE_URL, CLIENT_ID (a public client), PORT (its redirect URI is
// http://127.0.0.1:PORT/cb). Prints {"authorize": URL}, waits for the browser at /cb, then
// prints {"result": {...}} and exits.
const http = require('http');
const { Issuer, generators, errors } = require('openid-client');

async function main() {
  const issuer = await Issuer.discover(process.env.GATEHOUSE_URL);
  const redirectUri = `http://127.0.0.1:${process.env.PORT}/cb`;
  const client = new issuer.Client({
    client_id: process.env.CLIENT_ID,
    token_endpoint_auth_method: 'none',
    redirect_uris: [redirectUri],
    id_token_signed_response_alg: process.env.ID_TOKEN_ALG || 'RS256',
  });
  const verifier = generators.codeVerifier();
  const state = generators.state();
  const nonce = generators.nonce();
  const url = client.authorizationUrl({
    scope: 'openid profile email offline_access',
    code_challenge: generators.codeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });

  const callback = await new Promise((resolve) => {
    const server = http.createServer((req, res) => {
      res.end('<main>back at the client</main>');
      server.close();
      resolve(req);
    });
    server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log(JSON.stringify({ authorize: url })));
  });

  const params = client.callbackParams(callback);
  const tokens = await client.callback(redirectUri, params, { code_verifier: verifier, state, nonce });
  const claims = tokens.claims();
  const userinfo = await client.userinfo(tokens);
  const refreshed = await client.refresh(tokens.refresh_token);
  const refusal = async (promise) => {
    try { await promise; return 'accepted'; } catch (e) { return e instanceof errors.OPError ? e.error : String(e); }
  };
  const replay = await refusal(client.callback(redirectUri, params, { code_verifier: verifier, state, nonce }));
  const logout = client.endSessionUrl({ id_token_hint: tokens.id_token, post_logout_redirect_uri: `http://127.0.0.1:${process.env.PORT}/bye` });
  console.log(JSON.stringify({ result: {
    sub: claims.sub, nonce: claims.nonce, preferred_username: claims.preferred_username, amr: claims.amr,
    userinfo, refreshed: Boolean(refreshed.access_token && refreshed.refresh_token !== tokens.refresh_token),
    replay, logout, iss_in_response: params.iss,
  } }));
}

main().catch((e) => { console.error(e); process.exit(1); });
