// Prepares a fresh platform for the suite: an account, an organization, and the server with
// the slug `conformance` (which, with testing.conformance_fixture on, serves the fixture).
// Prints the server's MCP URL in its path form.
const base = process.argv[2];
const post = async (path, body, headers = {}) => {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response;
};
const signup = await post('/api/v1/auth/signup', {
  email: 'conformance@example.com', display_name: 'Conformance', password: 'correct horse battery staple',
});
const auth = {
  cookie: signup.headers.getSetCookie().map((c) => c.split(';')[0]).join('; '),
  'x-csrf-token': (await signup.json()).csrf_token,
};
const org = await (await post('/api/v1/orgs', { name: 'Conformance' }, auth)).json();
await post(`/api/v1/orgs/${org.id}/servers`, { slug: 'conformance', name: 'Conformance fixture', auth_mode: 'none' }, auth);
console.log(`${base}/s/conformance/mcp`);
