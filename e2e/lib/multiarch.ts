// Builds a two-platform OCI image (an image index of linux/amd64 and
// linux/arm64/v8 sharing a base layer) as an OCI image layout and pushes it
// with skopeo (--all), keeping its digests.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { skopeo, OCI_MANIFEST } from './registry';

export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

const sha256 = (b: Buffer): string => 'sha256:' + crypto.createHash('sha256').update(b).digest('hex');

export interface PlatformImage {
  platform: string;
  manifestDigest: string;
  /** config, then layers */
  blobs: { digest: string; size: number }[];
  size: number;
}

export interface MultiImage {
  indexDigest: string;
  platforms: PlatformImage[];
  /** every distinct blob once: what a pull of all platforms downloads */
  size: number;
}

export function pushIndex(host: string, remote: string, repo: string, tag: string, adminToken: string): MultiImage {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-index-'));
  try {
    const blobsDir = path.join(dir, 'blobs', 'sha256');
    fs.mkdirSync(blobsDir, { recursive: true });
    const put = (b: Buffer): string => {
      const d = sha256(b);
      fs.writeFileSync(path.join(blobsDir, d.slice('sha256:'.length)), b);
      return d;
    };
    const base = crypto.randomBytes(3000);
    const platforms: PlatformImage[] = [];
    const entries: object[] = [];
    for (const [arch, variant] of [['amd64', ''], ['arm64', 'v8']]) {
      const own = crypto.randomBytes(arch === 'amd64' ? 1000 : 2000);
      const config = Buffer.from(JSON.stringify({ architecture: arch, os: 'linux', ...(variant ? { variant } : {}), rootfs: { type: 'layers', diff_ids: [] } }));
      const blobs = [config, base, own].map((b) => ({ digest: put(b), size: b.length }));
      const manifest = Buffer.from(JSON.stringify({
        schemaVersion: 2, mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: blobs[0].digest, size: blobs[0].size },
        layers: blobs.slice(1).map((b) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: b.digest, size: b.size })),
      }));
      const md = put(manifest);
      platforms.push({ platform: variant ? `linux/${arch}/${variant}` : `linux/${arch}`, manifestDigest: md, blobs, size: blobs.reduce((n, b) => n + b.size, 0) });
      entries.push({ mediaType: OCI_MANIFEST, digest: md, size: manifest.length, platform: { os: 'linux', architecture: arch, ...(variant ? { variant } : {}) } });
    }
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries }));
    const indexDigest = put(index);
    fs.writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: OCI_INDEX, digest: indexDigest, size: index.length, annotations: { 'org.opencontainers.image.ref.name': tag } }],
    }));
    skopeo(['copy', '--all', '--retry-times', '0', '--preserve-digests', '--dest-tls-verify=false', '--dest-creds', 'admin:' + adminToken,
      `oci:${dir}:${tag}`, `docker://${host}/${remote}/${repo}:${tag}`]);
    const size = platforms[0].size + platforms[1].size - base.length;
    return { indexDigest, platforms, size };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
