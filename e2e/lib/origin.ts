// A tiny upstream for the tests: deterministic generated files with ETag,
// a slow path for watching job progress, and a password-protected path.
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Credentials the "secured" remote sends upstream. */
export const UPSTREAM_USER = 'e2e-user';
export const UPSTREAM_PASSWORD = 'e2e-upstream-P4ssw0rd-do-not-show';

/** The bytes of a generated file: a sha256 chain seeded by its name. */
export function content(name: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = crypto.createHash('sha256').update(name).digest();
  for (let off = 0; off < size; off += block.length) {
    block.copy(out, off, 0, Math.min(block.length, size - off));
    block = crypto.createHash('sha256').update(block).digest();
  }
  return out;
}

/** Size of a generated file: "…-<n>.bin" is n KiB plus n bytes. */
export function sizeOf(name: string): number {
  const m = /-(\d+)\.bin$/.exec(name);
  return m ? Number(m[1]) * 1024 + Number(m[1]) : 1000;
}

export function sha256(b: Buffer): string {
  return crypto.createHash('sha256').update(b).digest('hex');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts the origin (on port, else a free one) and returns its base URL and a stopper. */
export async function startOrigin(port = 0): Promise<{ url: string; close: () => Promise<void> }> {
  // "…flaky3-…" files answer 503 to their first three GETs (a job's item
  // fails after its retries; a retry of the job then succeeds).
  const flakyGets = new Map<string, number>();
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://origin');
    let p = decodeURIComponent(url.pathname);
    if (p.startsWith('/private/')) {
      const want = 'Basic ' + Buffer.from(`${UPSTREAM_USER}:${UPSTREAM_PASSWORD}`).toString('base64');
      if (req.headers.authorization !== want) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="origin"' }).end();
        return;
      }
      p = p.slice('/private'.length);
    }
    if (p.includes('flaky3-') && req.method === 'GET') {
      const n = (flakyGets.get(p) ?? 0) + 1;
      flakyGets.set(p, n);
      if (n <= 3) {
        res.writeHead(503).end('try again later');
        return;
      }
    }
    if (p.includes('missing')) {
      res.writeHead(404).end('not found');
      return;
    }
    const name = p.replace(/^\/+/, '');
    let body: Buffer;
    if (name.endsWith('index.json')) {
      body = Buffer.from(JSON.stringify({ generated: name, files: 12 }) + '\n');
    } else if (name.endsWith('.bin')) {
      body = content(name, sizeOf(name));
    } else {
      res.writeHead(404).end('not found');
      return;
    }
    const etag = '"' + sha256(body).slice(0, 16) + '"';
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { ETag: etag }).end();
      return;
    }
    res.writeHead(200, {
      'Content-Type': name.endsWith('.json') ? 'application/json' : 'application/octet-stream',
      'Content-Length': String(body.length),
      ETag: etag,
      'Last-Modified': new Date(Date.UTC(2026, 0, 1)).toUTCString(),
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    if (name.startsWith('slow/')) {
      // About three seconds per file, so that a job's progress can be watched.
      const chunks = 20;
      const step = Math.ceil(body.length / chunks);
      for (let off = 0; off < body.length && !res.destroyed; off += step) {
        res.write(body.subarray(off, off + step));
        await sleep(150);
      }
      res.end();
      return;
    }
    res.end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
