/** The agent's serving certificate: mounted PEM files, or a self-signed one made at start-up. */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { generate } from 'selfsigned';

export interface ServingCertificate {
  cert: string;
  key: string;
  /** SHA-256 fingerprint of the certificate, logged so that a caller can pin it. */
  fingerprint: string;
  selfSigned: boolean;
}

/** The DNS name in the agent's self-signed certificates (and the name callers check by default). */
export const AGENT_SERVER_NAME = 'kube-usage-agent';

function fingerprintOf(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

export async function loadCertificate(certFile: string, keyFile: string): Promise<ServingCertificate> {
  const [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  try {
    return { cert, key, fingerprint: fingerprintOf(cert), selfSigned: false };
  } catch (err) {
    throw new Error(`${certFile} is not a PEM certificate: ${(err as Error).message}`, { cause: err });
  }
}

/** An ECDSA P-256 certificate for `kube-usage-agent`, the node name and the address, valid a year. */
export async function selfSignedCertificate(nodeName: string, address: string): Promise<ServingCertificate> {
  const altNames: { type: 2 | 7; value?: string; ip?: string }[] = [
    { type: 2, value: AGENT_SERVER_NAME },
    { type: 2, value: nodeName },
  ];
  if (isIP(address) !== 0 && address !== '0.0.0.0' && address !== '::')
    altNames.push({ type: 7, ip: address });
  const now = Date.now();
  const pems = await generate([{ name: 'commonName', value: `${AGENT_SERVER_NAME}@${nodeName}` }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 60_000),
    notAfterDate: new Date(now + 365 * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  return { cert: pems.cert, key: pems.private, fingerprint: fingerprintOf(pems.cert), selfSigned: true };
}
