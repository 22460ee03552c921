// A real OpenID Connect provider (oidc-provider) on loopback for nexpress's auth tests.
//
//   node server.mjs CONFIG_JSON
//
// CONFIG_JSON: {"port": 0, "clients": [{client_id, client_secret, redirect_uris, ...}]}
// Prints "listening <issuer>" once it accepts connections. Any login name is accepted
// on the login form (devInteractions); the account's email is <login>@example.test.
//
// Test-only control endpoint, so the tests can exercise the client's ID-token checks:
//   POST /__test/id-token {"aud": "...", "iss": "...", "nonce": "...", "exp_offset": -7200}
// re-signs the next token responses' id_token (with the provider's own key) with those
// claims changed; POST {} turns it off.

import http from 'node:http';

import Provider from 'oidc-provider';
import { SignJWT, decodeJwt, exportJWK, generateKeyPair, importJWK } from 'jose';

const config = JSON.parse(process.argv[2] || '{}');
const kid = 'test-key-1';
const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
const signingKey = await importJWK(privateJwk, 'RS256');

let overrides = {};

const server = http.createServer();
await new Promise((resolve) => server.listen(config.port || 0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: config.clients || [],
  jwks: { keys: [privateJwk] },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'picture'],
  },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: `${id}@example.test`,
          email_verified: true,
          name: `User ${id}`,
          picture: `https://example.test/${id}.png`,
        };
      },
    };
  },
  cookies: { keys: ['nexpress-test-idp-cookie-key'] },
  ttl: { AuthorizationCode: 60, IdToken: 3600, AccessToken: 3600, Interaction: 600, Session: 3600, Grant: 3600 },
});

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString() || '{}');
}

async function tamper(idToken) {
  const claims = decodeJwt(idToken);
  const { exp_offset: expOffset, ...rest } = overrides;
  Object.assign(claims, rest);
  if (expOffset) {
    claims.exp += expOffset;
    claims.iat += expOffset;
  }
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' }).sign(signingKey);
}

provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === '/token' && ctx.status === 200 && Object.keys(overrides).length && ctx.body?.id_token) {
    ctx.body = { ...ctx.body, id_token: await tamper(ctx.body.id_token) };
  }
});

const callback = provider.callback();
server.on('request', async (req, res) => {
  if (req.url === '/__test/id-token' && req.method === 'POST') {
    overrides = await readJson(req);
    res.writeHead(204).end();
    return;
  }
  callback(req, res);
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
console.log(`listening ${issuer}`);
