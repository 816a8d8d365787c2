// A second artifactapi replica on the services of global-setup.ts (same
// PostgreSQL database, Redis prefix and bucket), for the tests that check
// what one replica does is seen by the other. Started by a test and stopped
// by it: the suite's other tests expect a single job worker.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export interface Replica {
  url: string;
  stop: () => Promise<void>;
}

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

export async function startReplica(): Promise<Replica> {
  const bin = process.env.E2E_BIN;
  const base = JSON.parse(process.env.E2E_APP_ENV ?? 'null') as NodeJS.ProcessEnv | null;
  if (!bin || !base) throw new Error('E2E_BIN and E2E_APP_ENV are set by global-setup.ts');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'artifactapi-e2e-replica-'));
  const out = path.join(__dirname, '..', 'test-results');
  fs.mkdirSync(out, { recursive: true });
  const logFile = path.join(out, 'artifactapi-replica2.log');
  const fd = fs.openSync(logFile, 'a');
  const proc = spawn(bin, ['serve'], { env: { ...base, LISTEN_ADDR: `127.0.0.1:${port}`, DATA_DIR: data }, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  const orphan = (): void => { proc.kill('SIGKILL'); };
  process.once('exit', orphan); // never outlive the worker
  const stop = async (): Promise<void> => {
    process.removeListener('exit', orphan);
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(data, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && proc.exitCode === null) {
    try {
      if ((await fetch(url + '/ready')).status === 200) return { url, stop };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await stop();
  throw new Error(`the second replica did not become ready:\n${fs.readFileSync(logFile, 'utf8').slice(-4000)}`);
}
