// What the hosted-server tests share: an organization's owner on the JSON API, the official
// TypeScript SDK client reaching a server by its own name, a headless "browser" for OAuth, and
// the official Python SDK client (e2e/clients/mcp_client.py).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Agent, fetch as undiciFetch } from 'undici';

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

// `{slug}.localhost` is loopback (RFC 6761 §6.3), as browsers and systemd resolve it; glibc
// here does not, so the SDK's fetch resolves it itself.
const loopback = new Agent({
  connect: {
    lookup: (hostname, options, callback) => (options?.all
      ? callback(null, [{ address: '127.0.0.1', family: 4 }])
      : callback(null, '127.0.0.1', 4)),
  },
});
const localhostFetch = (url, init) => undiciFetch(url, { ...init, dispatcher: loopback });

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
 * An OAuth client provider for the TypeScript SDK whose "browser" follows the authorization
 * redirects itself, keeping cookies per host and submitting the forms it meets: our consent
 * page (Allow) and the identity provider's development login (`login` as the user name) and
 * consent. It stops at the redirect URI and keeps the code.
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
    const jar = new Map();
    const cookies = (at) => [...(jar.get(new URL(at).host) ?? new Map())].map(([k, v]) => `${k}=${v}`).join('; ');
    const keep = (at, response) => {
      const host = new URL(at).host;
      if (!jar.has(host)) jar.set(host, new Map());
      for (const c of response.headers.getSetCookie()) {
        const pair = c.split(';')[0];
        const eq = pair.indexOf('=');
        jar.get(host).set(pair.slice(0, eq), pair.slice(eq + 1));
      }
    };
    let next = { url: url.toString(), method: 'GET' };
    for (let hop = 0; hop < 30; hop += 1) {
      if (next.url.startsWith(this.redirectUri)) {
        const params = new URL(next.url).searchParams;
        if (params.get('state') !== this._state) throw new Error(`state mismatch: ${next.url}`);
        if (params.get('error')) throw new Error(`authorization refused: ${next.url}`);
        this.code = params.get('code');
        this.issuer = params.get('iss');
        return;
      }
      const response = await localhostFetch(next.url, {
        method: next.method,
        redirect: 'manual',
        headers: {
          cookie: cookies(next.url),
          ...(next.body ? { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(next.url).origin } : {}),
        },
        body: next.body,
      });
      keep(next.url, response);
      const location = response.headers.get('location');
      if (location) {
        next = { url: new URL(location, next.url).toString(), method: 'GET' };
        continue;
      }
      const html = await response.text();
      const form = this.#form(html, next.url);
      if (!form) throw new Error(`stuck at ${next.url} (${response.status}): ${html.slice(0, 500)}`);
      next = form;
    }
    throw new Error('too many redirects');
  }

  /** The page's first form, filled in: hidden fields, the login, and the approving button. */
  #form(html, at) {
    const form = html.match(/<form[^>]*>([\s\S]*?)<\/form>/i);
    if (!form) return null;
    const attr = (tag, name) => tag.match(new RegExp(`${name}="([^"]*)"`, 'i'))?.[1];
    const unescape = (s) => s.replaceAll('&amp;', '&').replaceAll('&#x2F;', '/').replaceAll('&quot;', '"');
    const fields = new URLSearchParams();
    for (const [input] of form[1].matchAll(/<input[^>]*>/gi)) {
      const name = attr(input, 'name');
      if (!name) continue;
      if (name === 'login') fields.set(name, this.login);
      else if (name === 'password') fields.set(name, 'any password');
      else fields.set(name, unescape(attr(input, 'value') ?? ''));
    }
    const allow = [...form[1].matchAll(/<button[^>]*>/gi)].map(([b]) => b)
      .find((b) => attr(b, 'name') && attr(b, 'value') === 'allow');
    if (allow) fields.set(attr(allow, 'name'), 'allow');
    const action = unescape(attr(form[0], 'action') ?? at);
    return { url: new URL(action, at).toString(), method: 'POST', body: fields.toString() };
  }
}
