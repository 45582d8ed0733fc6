// What the hosted-server tests share: an organization's owner on the JSON API, the official
// TypeScript SDK client reaching a server by its own name, a headless "browser" for OAuth, and
// the official Python SDK client (e2e/clients/mcp_client.py).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

import { followAuthorization, localhostFetch } from './browserless.js';

/** An account that owns an organization, calling the API with its session cookie. */
export async function owner(server, email = 'owner@acme.test') {
  const signup = await fetch(`${server.base}/api/v1/auth/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, display_name: 'Owner', password: 'correct horse battery staple' }),
  });
  if (signup.status !== 201) throw new Error(`signup: ${signup.status} ${await signup.text()}`);
  const cookie = signup.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const { csrf_token: csrf } = await signup.json();
  const call = async (method, route, body) => {
    const response = await fetch(`${server.base}${route}`, {
      method,
      headers: { cookie, 'x-csrf-token': csrf, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    const type = response.headers.get('content-type') ?? '';
    return { status: response.status, body: type.includes('json') ? JSON.parse(text) : text };
  };
  const { body: org } = await call('POST', '/api/v1/orgs', { name: 'Acme Inc.' });
  return {
    org: org.id,
    call,
    /** A dashboard page's HTML, as this person sees it. */
    page: async (route) => (await call('GET', route)).body,
    async createServer(settings) {
      const created = await call('POST', `/api/v1/orgs/${org.id}/servers`, settings);
      if (created.status !== 201) throw new Error(`create server: ${JSON.stringify(created.body)}`);
      return created.body;
    },
  };
}

/** The TypeScript SDK's Streamable HTTP transport to `url` (a `*.localhost` name works). */
export const tsTransport = (url, authProvider) =>
  new StreamableHTTPClientTransport(new URL(url), { fetch: localhostFetch, authProvider });

/** The TypeScript SDK client connected to `url`. */
export async function connectTs(url, { authProvider, name = 'ts-e2e' } = {}) {
  const client = new Client({ name, version: '1.32.2' });
  const transport = tsTransport(url, authProvider);
  await client.connect(transport);
  return { client, transport };
}

/** The text of a tool result. */
export const text = (result) => result.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');

const here = path.dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);

/** Runs the Python SDK client with `spec` (see e2e/clients/mcp_client.py); its JSON report. */
export async function runPython(spec) {
  // scripts/test puts its virtual environment (with `mcp`) first on PATH.
  const python = process.env.E2E_PYTHON ?? 'python3';
  try {
    const { stdout } = await run(python, [path.join(here, '..', 'clients', 'mcp_client.py'), JSON.stringify(spec)], { timeout: 60_000 });
    return JSON.parse(stdout);
  } catch (err) {
    throw new Error(`the Python client failed (is PyPI's mcp 2.3 installed for ${python}?): ${err.stderr ?? err}`);
  }
}

/**
 * An OAuth client provider for the TypeScript SDK whose "browser" is `followAuthorization`:
 * it allows on our consent page, signs in at the identity provider as `login`, and keeps the
 * code the redirect URI gets.
 */
export class HeadlessOAuth {
  constructor({ redirectUri, login }) {
    this.redirectUri = redirectUri;
    this.login = login;
  }

  get redirectUrl() { return this.redirectUri; }

  get clientMetadata() {
    return {
      client_name: 'TypeScript SDK e2e',
      redirect_uris: [this.redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  state() { this._state = crypto.randomUUID(); return this._state; }
  clientInformation() { return this._client; }
  saveClientInformation(client) { this._client = client; }
  tokens() { return this._tokens; }
  saveTokens(tokens) { this._tokens = tokens; }
  saveCodeVerifier(verifier) { this._verifier = verifier; }
  codeVerifier() { return this._verifier; }

  async redirectToAuthorization(url) {
    const back = new URL(await followAuthorization(url, { stopAt: this.redirectUri, login: this.login }));
    if (back.searchParams.get('state') !== this._state) throw new Error(`state mismatch: ${back}`);
    if (back.searchParams.get('error')) throw new Error(`authorization refused: ${back}`);
    this.code = back.searchParams.get('code');
    this.issuer = back.searchParams.get('iss');
  }
}
