// Builds a small single-platform OCI image on disk (an OCI image layout) and
// pushes it with skopeo, a real registry client, to a local docker
// repository of the server under test.
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/** A pushed image: what the dashboard must show for it. */
export interface Image {
  manifestDigest: string;
  configDigest: string;
  layerDigest: string;
  configSize: number;
  layerSize: number;
  /** config + layer: what a pull downloads. */
  size: number;
}

const sha256 = (b: Buffer): string => 'sha256:' + crypto.createHash('sha256').update(b).digest('hex');

/** A one-file ustar archive. */
function tar(name: string, content: Buffer): Buffer {
  const h = Buffer.alloc(512);
  const field = (off: number, len: number, v: string) => h.write(v, off, len, 'ascii');
  field(0, 100, name);
  field(100, 8, '0000644\0');
  field(108, 8, '0000000\0');
  field(116, 8, '0000000\0');
  field(124, 12, content.length.toString(8).padStart(11, '0') + '\0');
  field(136, 12, '00000000000\0');
  field(148, 8, '        ');
  field(156, 1, '0');
  field(257, 6, 'ustar\0');
  field(263, 2, '00');
  let sum = 0;
  for (const b of h) sum += b;
  field(148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  const pad = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([h, content, pad, Buffer.alloc(1024)]);
}

/** Writes an OCI image layout holding one image tagged tag; returns it. */
function layout(dir: string, tag: string): Image {
  const plain = tar('hello.txt', Buffer.from('hello from ' + crypto.randomBytes(16).toString('hex') + '\n'));
  const layer = zlib.gzipSync(plain);
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', config: {},
    rootfs: { type: 'layers', diff_ids: [sha256(plain)] },
  }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: OCI_MANIFEST,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: layer.length }],
  }));
  const blobs = path.join(dir, 'blobs', 'sha256');
  fs.mkdirSync(blobs, { recursive: true });
  for (const b of [layer, config, manifest]) fs.writeFileSync(path.join(blobs, sha256(b).slice('sha256:'.length)), b);
  fs.writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: OCI_MANIFEST, digest: sha256(manifest), size: manifest.length,
      annotations: { 'org.opencontainers.image.ref.name': tag } }],
  }));
  return { manifestDigest: sha256(manifest), configDigest: sha256(config), layerDigest: sha256(layer), configSize: config.length, layerSize: layer.length, size: config.length + layer.length };
}

/** Runs skopeo with a private policy and auth file. */
export function skopeo(args: string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-skopeo-'));
  try {
    const policy = path.join(dir, 'policy.json');
    fs.writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    return execFileSync('skopeo', ['--policy', policy, ...args], {
      env: { PATH: process.env.PATH, HOME: dir, REGISTRY_AUTH_FILE: path.join(dir, 'auth.json') },
      stdio: ['ignore', 'pipe', 'pipe'],
    }).toString();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Pushes a fresh image to <host>/<remote>/<repo>:<tag> with skopeo, with the
 * admin credential (plain HTTP), keeping its digests.
 */
export function pushImage(host: string, remote: string, repo: string, tag: string, adminToken: string): Image {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-image-'));
  try {
    const img = layout(dir, tag);
    skopeo(['copy', '--retry-times', '0', '--preserve-digests', '--dest-tls-verify=false', '--dest-creds', 'admin:' + adminToken,
      `oci:${dir}:${tag}`, `docker://${host}/${remote}/${repo}:${tag}`]);
    return img;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
