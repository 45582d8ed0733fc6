// A real OpenID provider for the tests ("the customer's identity provider"): panva's
// oidc-provider, OpenID-certified, on a loopback port, with one confidential client for
// MCPlatform and development login screens that accept any user name.
import Provider from 'oidc-provider';

import { freePort } from './harness.js';

export async function startIdp({ redirectUri, clientId = 'mcplatform', clientSecret = 'idp-client-secret' }) {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
    }],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    async findAccount(_ctx, id) {
      return {
        accountId: id,
        async claims() {
          return { sub: id, email: `${id}@idp.example`, email_verified: true, name: `${id} (from the IdP)` };
        },
      };
    },
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
  });
  // Development keys and in-memory storage: fine for a test, and no network needed.
  const server = provider.listen(port, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    issuer,
    clientId,
    clientSecret,
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}
