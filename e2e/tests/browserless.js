// A browser without a window, for OAuth flows in tests: it follows redirects itself, keeps
// cookies per host and submits the forms it meets (our consent page's Allow; an identity
// provider's development login with `login` as the user name and its consent), until a
// Location starts with `stopAt`; that URL is returned.
import { Agent, fetch as undiciFetch } from 'undici';

// `{slug}.localhost` is loopback (RFC 6761 §6.3), as browsers and systemd resolve it; glibc
// here does not, so requests resolve it themselves.
const loopback = new Agent({
  connect: {
    lookup: (hostname, options, callback) => (options?.all
      ? callback(null, [{ address: '127.0.0.1', family: 4 }])
      : callback(null, '127.0.0.1', 4)),
  },
});

/** fetch that reaches `*.localhost` names on the loopback address. */
export const localhostFetch = (url, init) => undiciFetch(url, { ...init, dispatcher: loopback });

export async function followAuthorization(start, { stopAt, login }) {
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
  let next = { url: start.toString(), method: 'GET' };
  for (let hop = 0; hop < 30; hop += 1) {
    if (next.url.startsWith(stopAt)) return next.url;
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
    const form = fillForm(html, next.url, login);
    if (!form) throw new Error(`stuck at ${next.url} (${response.status}): ${html.slice(0, 500)}`);
    next = form;
  }
  throw new Error('too many redirects');
}

/** The page's first form, filled in: hidden fields, the login, and the approving button. */
function fillForm(html, at, login) {
  const form = html.match(/<form[^>]*>([\s\S]*?)<\/form>/i);
  if (!form) return null;
  const attr = (tag, name) => tag.match(new RegExp(`${name}="([^"]*)"`, 'i'))?.[1];
  const unescape = (s) => s.replaceAll('&amp;', '&').replaceAll('&#x2F;', '/').replaceAll('&quot;', '"');
  const fields = new URLSearchParams();
  for (const [input] of form[1].matchAll(/<input[^>]*>/gi)) {
    const name = attr(input, 'name');
    if (!name) continue;
    if (name === 'login') fields.set(name, login);
    else if (name === 'password') fields.set(name, 'any password');
    else fields.set(name, unescape(attr(input, 'value') ?? ''));
  }
  const allow = [...form[1].matchAll(/<button[^>]*>/gi)].map(([b]) => b)
    .find((b) => attr(b, 'name') && attr(b, 'value') === 'allow');
  if (allow) fields.set(attr(allow, 'name'), 'allow');
  const action = unescape(attr(form[0], 'action') ?? at);
  return { url: new URL(action, at).toString(), method: 'POST', body: fields.toString() };
}
