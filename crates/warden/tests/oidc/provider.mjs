// A real OpenID provider for the single sign-on tests: node-oidc-provider (OpenID-certified),
// with its development login form (any password), one confidential client, and two people:
// alice@example.com in group `security`, mallory@example.com in group `other`.
// Usage: PORT=… REDIRECT_URI=… CLIENT_SECRET=… node provider.mjs   (prints "ready" when up)
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const GROUPS = {
  'alice@example.com': ['security'],
  'mallory@example.com': ['other'],
};

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: 'warden',
    client_secret: process.env.CLIENT_SECRET,
    redirect_uris: [process.env.REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  pkce: { required: () => true },
  // Put the scopes' claims (email, groups) in the ID token, as most providers can be told to.
  conformIdTokenClaims: false,
  scopes: ['openid', 'email', 'groups'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], groups: ['groups'] },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: id, email_verified: true, groups: GROUPS[id] || [] };
      },
    };
  },
  // Consent is implied for this one first-party client: grant what it asks for.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email groups');
    grant.addOIDCClaims(['email', 'email_verified', 'groups']);
    await grant.save();
    return grant;
  },
});
provider.listen(port, '127.0.0.1', () => console.log('ready'));
