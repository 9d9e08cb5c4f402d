/**
 * TLS for the HTTP API: a certificate and key from files (a mounted Secret such as the one
 * cert-manager writes, `tls.crt` / `tls.key`; re-read when they change, so a renewed
 * certificate is served without a restart), or a self-signed certificate made at start for
 * local use (ECDSA P-256, for localhost and 127.0.0.1, built with node:crypto alone).
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { systemTimers, type TimerHandle, type Timers } from '../runtime/clock.js';

export interface TlsMaterial {
  cert: string;
  key: string;
}

/** Reads a certificate and key (PEM) and checks that they belong together. */
export function readTlsFiles(certFile: string, keyFile: string): TlsMaterial {
  const cert = readFileSync(certFile, 'utf8');
  const key = readFileSync(keyFile, 'utf8');
  const x509 = new X509Certificate(cert);
  if (!x509.checkPrivateKey(createPrivateKey(key)))
    throw new Error(`the key in ${keyFile} does not belong to the certificate in ${certFile}`);
  return { cert, key };
}

/**
 * Calls `onChange` with the files' new contents when their modification time changes
 * (checked every `intervalMs`, default 1 min, on `timers`); a pair that does not load is
 * reported and skipped. Returns a function that stops watching.
 */
export function watchTlsFiles(
  certFile: string,
  keyFile: string,
  onChange: (material: TlsMaterial) => void,
  onError: (err: unknown) => void,
  { intervalMs = 60_000, timers = systemTimers }: { intervalMs?: number; timers?: Timers } = {},
): () => void {
  const stamp = () => `${statSync(certFile).mtimeMs}/${statSync(keyFile).mtimeMs}`;
  let last = stamp();
  let stopped = false;
  let timer: TimerHandle;
  const check = (): void => {
    try {
      const now = stamp();
      if (now === last) return;
      last = now;
      onChange(readTlsFiles(certFile, keyFile));
    } catch (err) {
      onError(err);
    }
  };
  const schedule = (): void => {
    timer = timers.setTimeout(() => {
      check();
      if (!stopped) schedule();
    }, intervalMs);
    (timer as { unref?: () => void }).unref?.();
  };
  schedule();
  return () => {
    stopped = true;
    timers.clearTimeout(timer);
  };
}

/** A self-signed certificate for `localhost` and 127.0.0.1 / ::1, valid for `days`. */
export function selfSignedCertificate(days = 30, commonName = 'kube-usage-operator'): TlsMaterial {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const now = Date.now();
  const name = seq(set(seq(oid('2.5.4.3'), utf8(commonName))));
  const ecdsaWithSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const san = seq(
    tagged(0x82, Buffer.from('localhost')),
    tagged(0x87, Buffer.from([127, 0, 0, 1])),
    tagged(0x87, Buffer.from([...Array<number>(15).fill(0), 1])),
  );
  const extensions = explicit(
    3,
    seq(
      seq(oid('2.5.29.19'), bool(true), octets(seq(bool(true)))), // basicConstraints: CA (its own anchor)
      seq(oid('2.5.29.15'), bool(true), octets(bitString(Buffer.from([0x84])))), // digitalSignature, keyCertSign
      seq(oid('2.5.29.37'), octets(seq(oid('1.3.6.1.5.5.7.3.1')))), // extKeyUsage: serverAuth
      seq(oid('2.5.29.17'), octets(san)),
    ),
  );
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x3f) | 0x40; // positive and minimal (DER: no leading zero byte)
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))),
    integer(serial),
    ecdsaWithSha256,
    name,
    seq(time(new Date(now - 60_000)), time(new Date(now + days * 86_400_000))),
    name,
    Buffer.from(spki),
    extensions,
  );
  const signature = sign('sha256', tbs, privateKey);
  const der = seq(tbs, ecdsaWithSha256, bitString(signature));
  const cert = `-----BEGIN CERTIFICATE-----\n${der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .trimEnd()}\n-----END CERTIFICATE-----\n`;
  return { cert, key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

// --- minimal DER encoding -------------------------------------------------------------------

function tagged(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const length =
    n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, content]);
}
const seq = (...items: Buffer[]) => tagged(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tagged(0x31, Buffer.concat(items));
const explicit = (n: number, content: Buffer) => tagged(0xa0 + n, content);
const octets = (content: Buffer) => tagged(0x04, content);
const bitString = (content: Buffer) => tagged(0x03, Buffer.concat([Buffer.from([0]), content]));
const bool = (value: boolean) => tagged(0x01, Buffer.from([value ? 0xff : 0]));
const utf8 = (text: string) => tagged(0x0c, Buffer.from(text, 'utf8'));

function integer(bytes: Buffer): Buffer {
  return tagged(0x02, bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
}

function oid(text: string): Buffer {
  const [a, b, ...rest] = text.split('.').map(Number);
  const out = [a! * 40 + b!];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = n >> 7; v > 0; v >>= 7) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tagged(0x06, Buffer.from(out));
}

function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14); // YYYYMMDDHHMMSS
  return date.getUTCFullYear() < 2050
    ? tagged(0x17, Buffer.from(`${iso.slice(2)}Z`))
    : tagged(0x18, Buffer.from(`${iso}Z`));
}
