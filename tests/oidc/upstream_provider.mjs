// "The company IdP" for the upstream sign-in tests: Node's oidc-provider (an OpenID
// certified provider) on loopback, with a tiny interaction that signs in, without a form,
// the account the test named last. Driven by tests/common/upstream.rs.
//
// Env: NODE_MODULES (where oidc-provider is installed), CLIENT_ID, CLIENT_SECRET,
// REDIRECT_URI. Prints {"issuer": URL} once listening. Test controls, as JSON POSTs:
//   /_test/login  {sub, email, email_verified, name, preferred_username, amr}: who signs in next
//   /_test/tamper {mode: null | "aud" | "nonce" | "signature"}: how the next ID tokens lie
//   /_test/rotate {}: a new signing key, which signs from now on (the old one stays published)
import http from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const modules = process.env.NODE_MODULES;
const load = (path) => import(pathToFileURL(join(modules, path)).href);
const { default: Provider } = await load('oidc-provider/lib/index.js');
const jose = await load('jose/dist/webapi/index.js');

const accounts = new Map();
let next = null;
let tamper = null;
let keys = [];

async function newKey() {
  const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
  const jwk = await jose.exportJWK(privateKey);
  return { ...jwk, kid: `k${Date.now()}${Math.floor(Math.random() * 1000)}`, alg: 'RS256', use: 'sig' };
}

function build(issuer) {
  const provider = new Provider(issuer, {
    clients: [{
      client_id: process.env.CLIENT_ID,
      client_secret: process.env.CLIENT_SECRET,
      redirect_uris: [process.env.REDIRECT_URI],
      grant_types: ['authorization_code'],
      response_types: ['code'],
    }],
    jwks: { keys },
    cookies: { keys: ['upstream-test-cookie-key'] },
    // `amr` (what the sign-in checked) goes into ID tokens when a test login names it.
    claims: { openid: ['sub', 'amr'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username'] },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    // The test's provider trusts its one client: no consent step.
    async loadExistingGrant(ctx) {
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      return grant;
    },
    async findAccount(ctx, sub) {
      const account = accounts.get(sub);
      if (!account) return undefined;
      return { accountId: sub, async claims() { return { sub, ...account.claims }; } };
    },
  });
  provider.use(async (ctx, nextMiddleware) => {
    await nextMiddleware();
    if (ctx.path === '/token' && tamper && ctx.body && ctx.body.id_token) {
      ctx.body.id_token = await lie(ctx.body.id_token);
    }
  });
  return provider;
}

// Re-signs an ID token with a changed claim (with the real key), or with a key nobody
// published under the real key's kid.
async function lie(idToken) {
  const [header, payload] = idToken.split('.').slice(0, 2).map((p) => JSON.parse(Buffer.from(p, 'base64url')));
  if (tamper === 'aud') payload.aud = 'another-client';
  if (tamper === 'nonce') payload.nonce = 'not-the-nonce-sent';
  const signer = tamper === 'signature' ? await newKey() : keys.find((k) => k.kid === header.kid);
  const key = await jose.importJWK(signer, 'RS256');
  return new jose.SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: header.kid, typ: header.typ }).sign(key);
}

function body(req) {
  return new Promise((resolve) => {
    let data = '';
    req.on('data', (c) => { data += c; });
    req.on('end', () => resolve(data ? JSON.parse(data) : {}));
  });
}

keys = [await newKey()];
let provider;
const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, 'http://127.0.0.1');
    if (req.method === 'POST' && url.pathname.startsWith('/_test/')) {
      const sent = await body(req);
      if (url.pathname === '/_test/login') {
        const { sub, amr, ...claims } = sent;
        accounts.set(sub, { claims });
        next = { sub, amr };
      } else if (url.pathname === '/_test/tamper') {
        tamper = sent.mode || null;
      } else if (url.pathname === '/_test/rotate') {
        keys = [await newKey(), ...keys];
        provider = build(provider.issuer);
      }
      res.writeHead(204).end();
      return;
    }
    if (url.pathname.startsWith('/interaction/')) {
      const details = await provider.interactionDetails(req, res);
      const login = { accountId: next.sub };
      if (next.amr) login.amr = next.amr;
      await provider.interactionFinished(req, res, { login }, { mergeWithLastSubmission: false });
      return;
    }
    provider.callback()(req, res);
  } catch (err) {
    console.error(err);
    if (!res.headersSent) res.writeHead(500).end(String(err));
  }
});
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  provider = build(issuer);
  console.log(JSON.stringify({ issuer }));
});
