// A real OAuth 2.0 / OpenID Connect server for oauthfn's integration tests:
// oidc-provider (pinned in package.json), configured like a careful provider.
// Started by internal/testenv.StartOIDC; run by hand with
//
//   node testdata/oidc/server.mjs --port 9000 --config '{"clients":[{
//     "client_id":"app","client_secret":"s3cret",
//     "redirect_uris":["http://127.0.0.1:8080/callback"]}]}'
//
// --port N        listen on 127.0.0.1:N; the issuer is http://127.0.0.1:N.
//                 0 takes a free port (no pick-then-bind race with other
//                 processes); the "listening, issuer URL" line names it.
// --config JSON   (or --config @file.json) with these keys:
//   clients: [{client_id, client_secret, redirect_uris,
//              grant_types (default ["authorization_code","refresh_token"]),
//              auth_method (default "client_secret_basic"; or
//              "client_secret_post": credentials in the form body)}]
//            A client whose grant_types lack "authorization_code" gets no
//            response type: it stands for an app not approved for the code
//            grant, and every use of that grant answers unauthorized_client.
//            A client whose grant_types list "client_credentials" may use
//            that grant (RFC 6749 4.4; no refresh token, no account).
//   access_token_ttl, refresh_token_ttl: seconds (default 3600, 14 days).
//   refresh_token_expires_in: true adds refresh_token_expires_in (seconds
//            left on the issued refresh token) to token responses, the way
//            RingCentral does.
//   account_field: a name; token responses then carry that field with the
//            account id (like RingCentral's owner_id).
//
// Behaviour (a reading of RFC 6749/7009/7636 the tests rely on):
// - a client authenticates with client_secret_basic (HTTP Basic) unless its
//   auth_method is client_secret_post, at the token and revocation
//   endpoints alike; HTTP Basic from a client_secret_post client is refused
//   with 401 invalid_client (oidc-provider itself accepts either of the two
//   secret methods; a strict provider does not);
// - PKCE is required for every authorization request, S256 only;
// - a refresh token is issued whenever the client may use the refresh_token
//   grant (no offline_access scope or prompt=consent needed);
// - refresh tokens rotate on every refresh; presenting a rotated (used)
//   refresh token is invalid_grant AND revokes the whole grant, so the newest
//   refresh token and its access tokens stop working too (oidc-provider's
//   replay protection, unlike RingCentral's 60-minute grace);
// - revocation (RFC 7009) of an access or refresh token revokes the grant;
// - userinfo needs an access token issued with the "openid" scope; an
//   authorization request without scope is read as scope=openid;
// - login and consent are oidc-provider's development interactions: the
//   login page takes any login name and password, the account's sub is the
//   login name; each page has an abort link that ends the flow with
//   error=access_denied;
// - a refused grant type or response type is unauthorized_client (RFC 6749
//   4.1.2.1, 5.2) instead of oidc-provider's invalid_request.
//
// Every request and every grant event is logged as one line on stdout, with
// no token, code or secret.

import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    config: { type: 'string' },
  },
});

function fail(msg) {
  console.error(`oidc stand-in: ${msg}`);
  process.exit(2);
}

const port = Number(args.port);
if (args.port === undefined || !Number.isInteger(port) || port < 0 || port > 65535) fail('--port N is required (0: a free port)');
if (!args.config) fail('--config JSON (or @file) is required');
let config;
try {
  const raw = args.config.startsWith('@') ? readFileSync(args.config.slice(1), 'utf8') : args.config;
  config = JSON.parse(raw);
} catch (err) {
  fail(`--config: ${err.message}`);
}
if (!Array.isArray(config.clients) || config.clients.length === 0) fail('--config: clients must list at least one client');

const clients = config.clients.map((c) => {
  if (!c.client_id || !c.client_secret) fail('--config: every client needs client_id and client_secret');
  const grantTypes = c.grant_types ?? ['authorization_code', 'refresh_token'];
  const codeGrant = grantTypes.includes('authorization_code');
  const authMethod = c.auth_method ?? 'client_secret_basic';
  if (!['client_secret_basic', 'client_secret_post'].includes(authMethod)) fail(`--config: auth_method ${authMethod}: want client_secret_basic or client_secret_post`);
  return {
    client_id: c.client_id,
    client_secret: c.client_secret,
    redirect_uris: c.redirect_uris ?? [],
    grant_types: grantTypes,
    response_types: codeGrant ? ['code'] : [],
    token_endpoint_auth_method: authMethod,
    revocation_endpoint_auth_method: authMethod,
  };
});

const accessTokenTTL = config.access_token_ttl ?? 3600;
const refreshTokenTTL = config.refresh_token_ttl ?? 14 * 24 * 3600;
// Listen first (the port may be 0), then build the provider for the issuer
// on the port taken. Nothing answers before the "listening" line.
const server = createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', resolve);
}).catch((err) => fail(`listen on 127.0.0.1:${port}: ${err.message}`));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients,
  clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
  responseTypes: ['code'],
  pkce: { required: () => true },
  scopes: ['openid', 'offline_access', 'profile'],
  claims: { openid: ['sub'], profile: ['name'] },
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    userinfo: { enabled: true },
    // Only for clients whose grant_types list client_credentials.
    clientCredentials: { enabled: true },
  },
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  ttl: {
    AccessToken: accessTokenTTL,
    AuthorizationCode: 60,
    ClientCredentials: accessTokenTTL,
    Grant: refreshTokenTTL,
    IdToken: 3600,
    Interaction: 600,
    RefreshToken: refreshTokenTTL,
    Session: 3600,
  },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  async findAccount(ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return { sub, name: sub };
      },
    };
  },
});

// The messages oidc-provider gives when a client asks for a grant or response
// type it is not registered for. RFC 6749 calls that unauthorized_client.
const notAllowed = new Set([
  'requested grant type is not allowed for this client',
  'requested response_type is not allowed for this client',
]);

provider.use(async (ctx, next) => {
  const start = Date.now();

  // An authorization request without scope (RingCentral-style: permissions
  // live in the app's settings) is read as scope=openid: oidc-provider
  // refuses to grant nothing (access_denied "no scope was granted").
  if (ctx.method === 'GET' && ctx.path === '/auth' && !ctx.query.scope) {
    ctx.query = { ...ctx.query, scope: 'openid' };
  }

  // HTTP Basic from a client registered for client_secret_post.
  const authz = ctx.get('Authorization');
  if (ctx.method === 'POST' && (ctx.path === '/token' || ctx.path === '/token/revocation') && authz.startsWith('Basic ')) {
    const id = decodeURIComponent(Buffer.from(authz.slice(6), 'base64').toString().split(':')[0]);
    if (clients.find((c) => c.client_id === id)?.token_endpoint_auth_method === 'client_secret_post') {
      ctx.status = 401;
      ctx.body = { error: 'invalid_client', error_description: 'client authentication failed: this client uses client_secret_post' };
      console.log(`${new Date().toISOString()} ${ctx.method} ${ctx.path} ${ctx.status} ${Date.now() - start}ms`);
      return;
    }
  }

  await next();

  // Token endpoint: the error is a JSON body.
  const body = ctx.body;
  if (body && typeof body === 'object' && !Buffer.isBuffer(body)
      && body.error === 'invalid_request' && notAllowed.has(body.error_description)) {
    body.error = 'unauthorized_client';
  }
  // Authorization endpoint: the error rides on the redirect to the client.
  const location = ctx.response.get('Location');
  if (location && URL.canParse(location)) {
    const u = new URL(location);
    if (u.searchParams.get('error') === 'invalid_request'
        && notAllowed.has(u.searchParams.get('error_description'))) {
      u.searchParams.set('error', 'unauthorized_client');
      ctx.set('Location', u.href);
    }
  }

  // Token endpoint: the RingCentral-shaped extras, when asked for.
  if (ctx.path === '/token' && ctx.status === 200 && body && typeof body === 'object') {
    const rt = ctx.oidc?.entities?.RefreshToken;
    if (config.refresh_token_expires_in && body.refresh_token && rt) {
      body.refresh_token_expires_in = rt.remainingTTL;
    }
    const account = ctx.oidc?.entities?.Account;
    if (config.account_field && account) {
      body[config.account_field] = account.accountId;
    }
  }

  console.log(`${new Date().toISOString()} ${ctx.method} ${ctx.path} ${ctx.status} ${Date.now() - start}ms`);
});

for (const event of ['grant.success', 'grant.error', 'authorization.error', 'revocation.error',
  'userinfo.error', 'server_error', 'grant.revoked', 'interaction.ended']) {
  provider.on(event, (ctx, arg) => {
    const client = ctx?.oidc?.client?.clientId ?? '-';
    let detail = '';
    if (arg instanceof Error) detail = `${arg.error ?? arg.name}: ${arg.error_description ?? arg.message}${arg.error_detail ? ` (${arg.error_detail})` : ''}`;
    else if (typeof arg === 'string') detail = `grant ${arg.slice(0, 6)}…`;
    console.log(`${new Date().toISOString()} event ${event} client=${client} ${detail}`);
  });
}

server.on('request', provider.callback());
console.log(`oidc stand-in listening, issuer ${issuer}, clients ${clients.map((c) => c.client_id).join(',')}`);
