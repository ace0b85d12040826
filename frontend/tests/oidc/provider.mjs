// A real OpenID Connect provider for tests (oidc-provider, its development login form).
// Started by the gateway's pytest suite and by the e2e run; never for production.
//
//   OIDC_PORT=9999 OIDC_REDIRECT_URIS=http://127.0.0.1:8080/api/auth/oidc/callback \
//   OIDC_ACCOUNTS='{"alice":{"email":"alice@corp.test","email_verified":true,"groups":["staff"]}}' \
//   node tests/oidc/provider.mjs
//
// The login form takes any login name with any password: a name listed in OIDC_ACCOUNTS
// gets those claims; any other name `x` is `x@sso.test`, verified, in no group.
// One client: `gpuchat` / `test-client-secret` (client_secret_basic), PKCE required.
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT ?? 9999);
const issuer = `http://127.0.0.1:${port}`;
const accounts = JSON.parse(process.env.OIDC_ACCOUNTS ?? '{}');
const redirectUris = (process.env.OIDC_REDIRECT_URIS ?? '').split(',').filter(Boolean);

function claimsFor(id) {
  const known = accounts[id];
  if (known) return { sub: id, ...known };
  return { sub: id, email: `${id}@sso.test`, email_verified: true, groups: [] };
}

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'gpuchat',
      client_secret: 'test-client-secret',
      redirect_uris: redirectUris,
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  pkce: { required: () => true },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'groups'],
  },
  cookies: { keys: ['test-only-cookie-key'] },
  async findAccount(_ctx, id) {
    return { accountId: id, async claims() { return claimsFor(id); } };
  },
  // Consent is granted without asking (the "skip consent" recipe for first-party apps).
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider ready at ${issuer}`);
});
