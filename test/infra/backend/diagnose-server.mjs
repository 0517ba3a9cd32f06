// Tiny local backend behind the client-certificate proxy: answers JSON on /diagnose.
// Usage: node diagnose-server.mjs <port>   (binds 127.0.0.1 only)
import http from 'node:http';

const port = Number(process.argv[2] ?? process.env.BACKEND_PORT ?? 18080);
let requests = 0;

const server = http.createServer((req, res) => {
  requests += 1;
  const url = new URL(req.url ?? '/', 'http://backend');
  if (url.pathname === '/diagnose' || url.pathname === '/healthz') {
    const body = {
      status: 'ok',
      service: 'rekey-test-backend',
      path: url.pathname,
      method: req.method,
      // set by the proxy from the verified client certificate
      clientSubject: req.headers['x-client-subject'] ?? null,
      clientIssuer: req.headers['x-client-issuer'] ?? null,
      clientVerify: req.headers['x-client-verify'] ?? null,
      requests,
      time: new Date().toISOString(),
    };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
    return;
  }
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ status: 'not-found', path: url.pathname }));
});

server.listen(port, '127.0.0.1', () => {
  console.log(`diagnose backend listening on http://127.0.0.1:${port}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
