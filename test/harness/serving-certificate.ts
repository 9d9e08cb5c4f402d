/** A self-signed serving certificate for one loopback IP (openssl), valid for a day. */
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Writes `<name>.crt` and `<name>.key` into `dir` and returns them (PEM). */
export async function selfSignedCertificate(
  dir: string,
  ip: string,
  name = 'serving',
): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${ip}`,
      '-addext',
      `subjectAltName=IP:${ip}`,
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { cert: await readFile(cert, 'utf8'), key: await readFile(key, 'utf8') };
}
