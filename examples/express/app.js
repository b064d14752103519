// An Express app that signs its users in with Gatehouse through openid-client (OpenID
// Connect: discovery, the code flow with PKCE, the ID token checked for its signature,
// `nonce` and `at_hash`, userinfo, a refresh, and logout at Gatehouse), and protects one
// API route, /api/photos, by verifying Gatehouse access tokens against the JWKS.
//
//   npm install
//   GATEHOUSE_URL=http://localhost:8080 CLIENT_ID=... CLIENT_SECRET=... node app.js
const crypto = require('crypto');
const express = require('express');
const session = require('express-session');
const { Issuer, generators } = require('openid-client');
const { createRemoteJWKSet, jwtVerify } = require('jose');

const GATEHOUSE = (process.env.GATEHOUSE_URL || 'http://localhost:8080').replace(/\/$/, '');
const PORT = Number(process.env.PORT || 3000);
const BASE = `http://127.0.0.1:${PORT}`;
// The `aud` this app's API takes: Gatehouse gives each app's tokens that app's own
// audience (its client_id, or an API URI registered on the client and asked for with
// `resource`), so a token another app was given does not open this one.
const AUDIENCE = process.env.API_AUDIENCE || process.env.CLIENT_ID;

async function main() {
  const issuer = await Issuer.discover(GATEHOUSE);
  const client = new issuer.Client({
    client_id: process.env.CLIENT_ID,
    client_secret: process.env.CLIENT_SECRET,
    redirect_uris: [`${BASE}/callback`],
    post_logout_redirect_uris: [`${BASE}/`],
  });
  const jwks = createRemoteJWKSet(new URL(issuer.metadata.jwks_uri));

  const app = express();
  app.use(session({
    secret: process.env.SESSION_SECRET || crypto.randomBytes(32).toString('hex'),
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: 'lax' },
  }));

  // Verifies an access token against Gatehouse's published keys; null when it fails.
  async function photosFor(accessToken) {
    try {
      const { payload } = await jwtVerify(accessToken, jwks, { issuer: issuer.metadata.issuer, audience: AUDIENCE });
      return { owner: payload.sub, photos: [] };
    } catch {
      return null;
    }
  }

  app.get('/', async (req, res) => {
    const user = req.session.user;
    if (!user) return res.send('<main><a href="/login">Sign in with Gatehouse</a></main>');
    const photos = await photosFor(req.session.tokens.access_token);
    res.send(`<main><p>Signed in as ${escape(user.preferred_username)}</p>`
      + `<p>Photos API: ${escape(photos ? photos.owner : 'refused')}</p>`
      + '<p><a href="/refresh">Refresh tokens</a> <a href="/logout">Sign out</a></p></main>');
  });

  app.get('/login', (req, res) => {
    const verifier = generators.codeVerifier();
    req.session.pending = { verifier, state: generators.state(), nonce: generators.nonce() };
    res.redirect(client.authorizationUrl({
      scope: 'openid profile email offline_access',
      code_challenge: generators.codeChallenge(verifier),
      code_challenge_method: 'S256',
      state: req.session.pending.state,
      nonce: req.session.pending.nonce,
    }));
  });

  // Checks `state`, sends the PKCE verifier, and verifies the ID token: its signature
  // against the JWKS, `iss`, `aud`, `exp`, `nonce` and `at_hash`.
  app.get('/callback', async (req, res, next) => {
    try {
      const pending = req.session.pending;
      if (!pending) return res.status(400).send('<main>No sign-in is under way.</main>');
      const tokens = await client.callback(`${BASE}/callback`, client.callbackParams(req), {
        code_verifier: pending.verifier, state: pending.state, nonce: pending.nonce,
      });
      delete req.session.pending;
      req.session.user = await client.userinfo(tokens);
      // A refresh token comes only when the client may ask for `offline_access`.
      req.session.tokens = { access_token: tokens.access_token, refresh_token: tokens.refresh_token, id_token: tokens.id_token };
      res.redirect('/');
    } catch (err) { next(err); }
  });

  app.get('/refresh', async (req, res, next) => {
    try {
      const refreshToken = req.session.tokens && req.session.tokens.refresh_token;
      if (!refreshToken) return res.status(409).send('<main>Nothing to refresh: this client may not ask for offline_access.</main>');
      const tokens = await client.refresh(refreshToken);
      req.session.tokens = { ...req.session.tokens, access_token: tokens.access_token, refresh_token: tokens.refresh_token };
      res.redirect('/');
    } catch (err) { next(err); }
  });

  app.get('/logout', (req, res) => {
    const hint = req.session.tokens && req.session.tokens.id_token;
    req.session.destroy(() => res.redirect(client.endSessionUrl({ id_token_hint: hint, post_logout_redirect_uri: `${BASE}/` })));
  });

  app.get('/api/photos', async (req, res) => {
    const [scheme, token] = (req.headers.authorization || '').split(' ');
    const photos = scheme && scheme.toLowerCase() === 'bearer' && token ? await photosFor(token) : null;
    if (!photos) return res.status(401).json({ error: 'invalid_token' });
    res.json(photos);
  });

  app.listen(PORT, '127.0.0.1', () => console.log(`listening on ${BASE}`));
}

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

main().catch((err) => { console.error(err); process.exit(1); });
