// Builds artifactapi, starts the origin and one artifactapi on PostgreSQL,
// Redis and MinIO (the services of scripts/with-services.sh), and hands the
// tests their addresses through the environment. The returned function
// stops everything and drops the database.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { startOrigin, UPSTREAM_PASSWORD, UPSTREAM_USER } from './lib/origin';

const root = path.resolve(__dirname, '..');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function remotesYAML(origin: string, self: string, flaky: string): string {
  const generic = (name: string, desc: string) => `  ${name}:
    base_url: "${origin}"
    type: remote
    package: generic
    description: "${desc}"
    immutable_patterns:
      - "^files/.*\\\\.bin$"
      - "^slow/.*\\\\.bin$"
    mutable_patterns:
      - "index\\\\.json$"
    cache:
      immutable_ttl: 0
      mutable_ttl: 600
`;
  return `remotes:
${generic('catalog', 'Listing, search, sort and paging')}${generic('evictions', 'Single and bulk eviction')}${generic('batch', 'Batch cache jobs')}  secured:
    base_url: "${origin}/private"
    type: remote
    package: generic
    description: "Upstream with a password"
    username: "${UPSTREAM_USER}"
    password: "${UPSTREAM_PASSWORD}"
  uploads:
    type: local
    package: generic
    description: "Files uploaded from the dashboard"
  restricted:
    base_url: "${origin}"
    type: remote
    package: generic
    access: scoped
    description: "Readable with a read scope only"
  hidden:
    base_url: "${origin}"
    type: remote
    package: generic
    access: scoped
    description: "Readable by admins only"
  drop-a:
    type: local
    package: generic
    access: scoped
    description: "Uploads by a scoped token"
  drop-b:
    type: local
    package: generic
    access: scoped
    description: "Out of the scoped token's reach"
  images:
    type: local
    package: docker
    description: "Images pushed with skopeo"
  mirror:
    base_url: "${self}"
    type: remote
    package: docker
    description: "A docker mirror of this server's own registry (images/...)"
  flaky:
    base_url: "${flaky}"
    type: remote
    package: generic
    description: "Upstream the health test stops and starts (tests/health.spec.ts)"
    immutable_patterns:
      - "^files/.*\\\\.bin$"
    mutable_patterns:
      - "index\\\\.json$"
    cache:
      mutable_ttl: 1
  cleanup:
    base_url: "${origin}"
    type: remote
    package: generic
    description: "Cleanup policies and quota"
    immutable_patterns:
      - "^files/.*\\\\.bin$"
    cache:
      max_size: "1MiB"
`;
}

async function waitReady(base: string, proc: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) break;
    try {
      const r = await fetch(base + '/ready');
      if (r.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(-4000) : '';
  throw new Error(`artifactapi did not become ready (exit code ${proc.exitCode}):\n${log}`);
}

function psql(sql: string): void {
  execFileSync('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-v', 'ON_ERROR_STOP=1', '-q', '-c', sql], { stdio: 'inherit' });
}

export default async function globalSetup(): Promise<() => Promise<void>> {
  for (const k of ['TEST_MINIO_ENDPOINT', 'TEST_MINIO_ACCESS_KEY', 'TEST_MINIO_SECRET_KEY']) {
    if (!process.env[k]) throw new Error(`${k} is not set: run the suite under scripts/with-services.sh (see scripts/e2e.sh)`);
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'artifactapi-e2e-'));
  const bin = path.join(tmp, 'artifactapi');
  execFileSync('go', ['build', '-o', bin, root], { cwd: root, stdio: 'inherit' });

  const origin = await startOrigin();
  const id = crypto.randomBytes(4).toString('hex');
  const dbName = `artifactapi_e2e_${id}`;
  const redisPrefix = `artifactapi-e2e-${id}:`;
  const logFile = path.join(tmp, 'artifactapi.log');
  let proc: ChildProcess | undefined;
  let dbCreated = false;

  // Stops everything started so far; the teardown, and the way out of a failed setup.
  const cleanup = async (): Promise<void> => {
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc!.once('exit', r));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc!.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    await origin.close();
    if (fs.existsSync(logFile)) {
      const out = path.join(__dirname, 'test-results');
      fs.mkdirSync(out, { recursive: true });
      fs.copyFileSync(logFile, path.join(out, 'artifactapi.log'));
    }
    if (dbCreated) psql(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    try {
      const keys = execFileSync('redis-cli', ['-h', '127.0.0.1', '--scan', '--pattern', redisPrefix + '*']).toString().split('\n').filter(Boolean);
      for (let i = 0; i < keys.length; i += 500) execFileSync('redis-cli', ['-h', '127.0.0.1', 'DEL', ...keys.slice(i, i + 500)]);
    } catch {
      // Redis keys expire on their own; leftovers are harmless.
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  };

  try {
    psql(`CREATE DATABASE ${dbName}`);
    dbCreated = true;
    const remotes = path.join(tmp, 'remotes.yaml');
    // The flaky remote's upstream is started and stopped by its test, on this port.
    const flakyPort = await freePort();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    fs.writeFileSync(remotes, remotesYAML(origin.url, base, `http://127.0.0.1:${flakyPort}`));
    const adminToken = 'e2e-admin-' + crypto.randomBytes(12).toString('hex');
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH, HOME: process.env.HOME,
      LISTEN_ADDR: `127.0.0.1:${port}`, DATA_DIR: path.join(tmp, 'data'), REMOTES_CONFIG: remotes,
      ADMIN_TOKEN: adminToken, LOG_FORMAT: 'text', LOG_LEVEL: 'info', JOB_CONCURRENCY: '1',
      // Blobs of deleted images become collectable within the tests' time.
      REGISTRY_GC_GRACE: '3s',
      // Upstream health and traffic are shared (and shown) within a second.
      STATS_FLUSH_INTERVAL: '1s',
      DBHOST: '127.0.0.1', DBPORT: '5432', DBUSER: 'postgres', DBNAME: dbName, DBSSLMODE: 'disable',
      REDIS_URL: 'redis://127.0.0.1:6379', REDIS_PREFIX: redisPrefix,
      MINIO_ENDPOINT: process.env.TEST_MINIO_ENDPOINT, MINIO_ACCESS_KEY: process.env.TEST_MINIO_ACCESS_KEY,
      MINIO_SECRET_KEY: process.env.TEST_MINIO_SECRET_KEY, MINIO_BUCKET: `e2e-${id}`, MINIO_SECURE: 'false',
    };
    const logFd = fs.openSync(logFile, 'a');
    proc = spawn(bin, ['serve'], { env, stdio: ['ignore', logFd, logFd] });
    fs.closeSync(logFd); // the child keeps its own descriptor
    await waitReady(base, proc, logFile);

    process.env.E2E_BASE_URL = base;
    // For tests that start a second replica on the same services (lib/replica.ts).
    process.env.E2E_BIN = bin;
    process.env.E2E_APP_ENV = JSON.stringify(env);
    process.env.E2E_ADMIN_TOKEN = adminToken;
    process.env.E2E_ORIGIN = origin.url;
    process.env.E2E_FLAKY_PORT = String(flakyPort);
    process.env.E2E_SECRETS = JSON.stringify([adminToken, UPSTREAM_PASSWORD, process.env.TEST_MINIO_SECRET_KEY]);
  } catch (e) {
    await cleanup();
    throw e;
  }
  return cleanup;
}
