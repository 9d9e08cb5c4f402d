import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { readTlsFiles, selfSignedCertificate, watchTlsFiles } from '../../../operator/http/tls.js';
import type { TlsMaterial } from '../../../operator/http/tls.js';
import { FakeTimers } from '../runtime/fake-timers.js';
import { startTestServer } from './fixtures.js';

function healthz(url: string, ca: string): Promise<{ status: number; fingerprint: string }> {
  return new Promise((resolve, reject) =>
    get(`${url}/healthz`, { ca }, (res) => {
      res.resume();
      const peer = (
        res.socket as unknown as { getPeerCertificate(): { fingerprint256: string } }
      ).getPeerCertificate();
      resolve({ status: res.statusCode ?? 0, fingerprint: peer.fingerprint256 });
    }).on('error', reject),
  );
}

describe('TLS on the HTTP API', () => {
  it('serves HTTPS with a self-signed certificate that clients trust with --cacert, and swaps a renewed one in', async () => {
    const first = selfSignedCertificate();
    const t = await startTestServer({ tls: first });
    try {
      expect(t.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const before = await healthz(t.url, first.cert);
      expect(before.status).toBe(200);
      // Without the certificate as a trust anchor, the connection is refused.
      await expect(healthz(t.url, selfSignedCertificate().cert)).rejects.toThrow();
      const renewed = selfSignedCertificate();
      t.server.setCertificate?.(renewed);
      const after = await healthz(t.url, renewed.cert);
      expect(after.status).toBe(200);
      expect(after.fingerprint).not.toBe(before.fingerprint);
    } finally {
      await t.server.close();
    }
  });

  it('reads a certificate and key from files (tls.crt / tls.key of a Secret) and refuses a key of another', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kuo-tls-'));
    try {
      const a = selfSignedCertificate();
      const b = selfSignedCertificate();
      writeFileSync(join(dir, 'tls.crt'), a.cert);
      writeFileSync(join(dir, 'tls.key'), a.key);
      writeFileSync(join(dir, 'other.key'), b.key);
      expect(readTlsFiles(join(dir, 'tls.crt'), join(dir, 'tls.key'))).toEqual(a);
      expect(() => readTlsFiles(join(dir, 'tls.crt'), join(dir, 'other.key'))).toThrow(
        'does not belong to the certificate',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('watches the files: a renewed pair is taken at the next check, one that does not load is reported (fake clock)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kuo-tls-'));
    const cert = join(dir, 'tls.crt');
    const key = join(dir, 'tls.key');
    const write = (material: TlsMaterial, mtimeS: number) => {
      writeFileSync(cert, material.cert);
      writeFileSync(key, material.key);
      utimesSync(cert, mtimeS, mtimeS);
      utimesSync(key, mtimeS, mtimeS);
    };
    const timers = new FakeTimers();
    const changes: TlsMaterial[] = [];
    const errors: string[] = [];
    try {
      write(selfSignedCertificate(), 1_000_000);
      const stop = watchTlsFiles(
        cert,
        key,
        (m) => changes.push(m),
        (err) => errors.push(String(err)),
        { intervalMs: 60_000, timers },
      );
      const renewed = selfSignedCertificate();
      write(renewed, 1_000_100);
      await timers.advance(59_999);
      expect(changes).toEqual([]);
      await timers.advance(1);
      expect(changes).toEqual([renewed]);
      await timers.advance(60_000); // unchanged: nothing new
      expect(changes).toHaveLength(1);

      writeFileSync(key, selfSignedCertificate().key); // a key of another certificate
      utimesSync(key, 1_000_200, 1_000_200);
      await timers.advance(60_000);
      expect(changes).toHaveLength(1);
      expect(errors).toEqual([expect.stringContaining('does not belong to the certificate')]);

      stop();
      expect(timers.pendingCount).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
