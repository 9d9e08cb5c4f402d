import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { readTlsFiles, selfSignedCertificate } from '../../../operator/http/tls.js';
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
});
