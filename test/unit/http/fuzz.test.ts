import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { rawRequest, startTestServer, T0, TOKENS, type TestServer } from './fixtures.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.server.close();
});

/** Text that tends to break parsers: encodings, prototypes, numbers in odd notations, quotes. */
const oddText = fc.constantFrom(
  '',
  '.',
  '..',
  '%',
  '%zz',
  '%00',
  '%2F',
  '%C0%AF',
  '%E0%A4%A',
  'ü',
  '😀',
  '__proto__',
  'constructor',
  'a'.repeat(300),
  '-1',
  '1e309',
  'NaN',
  '0x10',
  ' ',
  '\t',
  '"',
  "'",
  '<script>',
  '{}',
  '[]',
);
const text = fc.oneof(oddText, fc.string({ maxLength: 24 }), fc.string({ unit: 'binary', maxLength: 8 }));

/** Integers of every magnitude, as times, limits and point counts. */
const integer = fc
  .integer({ min: 0, max: 20 })
  .chain((digits) => fc.noBias(fc.bigInt({ min: -(10n ** BigInt(digits)), max: 10n ** BigInt(digits) })))
  .map(String);
/** Times near and far, valid and not: Unix seconds of any size, RFC 3339 with fields out of range. */
const time = fc.oneof(
  { weight: 2, arbitrary: integer },
  { weight: 2, arbitrary: fc.integer({ min: -1e6, max: 1e6 }).map((s) => String(Math.floor(T0 / 1000) + s)) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.integer({ min: 0, max: 99999 }),
        fc.integer({ min: 0, max: 13 }),
        fc.integer({ min: 0, max: 32 }),
        fc.integer({ min: 0, max: 25 }),
        fc.constantFrom('Z', 'z', '+01:00', '-23:59', '+24:00', '', '.5Z', '.1234567891Z'),
      )
      .map(([y, mo, d, h, zone]) => `${y}-${pad(mo)}-${pad(d)}T${pad(h)}:00:00${zone}`),
  },
  { weight: 1, arbitrary: text },
);
const either = <T>(valid: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 3, arbitrary: valid }, { weight: 1, arbitrary: text });
const namespace = either(fc.constantFrom('team-a', 'team-b', 'kube-system'));

/** Each endpoint with generators for its own parameters, so that requests get past "unknown parameter". */
const endpoints: [string, Record<string, fc.Arbitrary<string>>][] = [
  ['/api/v1/namespaces/team-a/pods/web-1/usage', {}],
  ['/api/v1/namespaces/team-b/pods/web-1/usage', {}],
  [
    '/api/v1/namespaces/team-a/pods/web-1/usage/history',
    {
      from: time,
      to: time,
      granularity: either(fc.constantFrom('auto', 'raw', '1m', '5m', '1h', '1d')),
      maxPoints: either(integer),
    },
  ],
  [
    '/api/v1/usage/top',
    {
      from: time,
      to: time,
      window: either(fc.constantFrom('1h', '24h', '7d', '30d')),
      metric: either(fc.constantFrom('cpu', 'memory')),
      limit: either(integer),
      namespace,
    },
  ],
  [
    '/api/v1/usage/summary',
    {
      from: time,
      to: time,
      window: either(fc.constantFrom('1h', '24h', '7d', '30d')),
      groupBy: either(
        fc.oneof(
          fc.constantFrom('namespace', 'pod', 'label:team'),
          text.map((k) => `label:${k}`),
        ),
      ),
      namespace,
    },
  ],
  ['/api/v1/events', { namespace: text }],
  ['/healthz', {}],
  ['/readyz', {}],
];

/** The value one time in five, otherwise nothing. */
const rarely = <T>(arbitrary: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary });

/** An endpoint with up to two of its parameters, sometimes a junk one, sometimes a wrong path tail. */
const endpointRequest = fc.constantFrom(...endpoints).chain(([path, params]) =>
  fc
    .tuple(
      fc
        .subarray(Object.keys(params), { maxLength: Math.min(2, Object.keys(params).length) })
        .chain((keys) => fc.tuple(...keys.map((k) => params[k]!.map((v): [string, string] => [k, v])))),
      rarely(fc.tuple(text, text)),
      rarely(fc.constantFrom('/', '//', '/x', '%20')),
    )
    .map(([pairs, junk, pathTail]) => {
      const qs = [...pairs, ...(junk ? [junk] : [])].map(([k, v]) => `${k}=${v}`).join('&');
      return `${path}${pathTail ?? ''}${qs ? `?${qs}` : ''}`;
    }),
);

const segment = fc.oneof(fc.constantFrom('team-a', 'web-1', 'usage', 'history', 'pods', 'namespaces'), text);
const oddPath = fc.oneof(
  fc
    .tuple(segment, segment, fc.constantFrom('', '/history'))
    .map(([ns, pod, tail]) => `/api/v1/namespaces/${ns}/pods/${pod}/usage${tail}`),
  fc.array(segment, { maxLength: 6 }).map((segments) => `/${segments.join('/')}`),
  fc.tuple(fc.constantFrom('/api/v1/usage/top', '/api/v1/usage/summary'), text).map(([p, q]) => `${p}?${q}`),
  fc.constantFrom('/api/v1/usage/top?&&==&', '/api/v1/usage/top?limit=1&limit=2', '*', '//', '/?'),
);

/** Mostly percent-encoded as a client would, so that requests get past the HTTP parser; sometimes raw. */
const target = fc
  .tuple(fc.oneof({ weight: 3, arbitrary: endpointRequest }, { weight: 1, arbitrary: oddPath }), fc.nat(4))
  .map(([raw, dice]) => (dice === 0 ? raw : encodeLoosely(raw)));

const token = fc.constantFrom<string | undefined>(
  TOKENS.admin,
  TOKENS.admin,
  TOKENS.tenantA,
  TOKENS.tenantA,
  'garbage',
  undefined,
);

function encodeLoosely(raw: string): string {
  return raw.replace(/[^\x21-\x7e]/gu, (c) =>
    /[\ud800-\udfff]/u.test(c) ? '%EF%BF%BD' : encodeURIComponent(c),
  );
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

describe('any request', () => {
  it('gets a JSON answer (or an event stream), and never a 500', async () => {
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(target, token, async (path, bearer) => {
        const auth = bearer === undefined ? '' : `Authorization: Bearer ${bearer}\r\n`;
        const response = await rawRequest(
          t.url,
          `GET ${path} HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`,
        );
        seen.set(response.status, (seen.get(response.status) ?? 0) + 1);
        if (response.headers['content-type']?.startsWith('text/event-stream')) {
          expect(path.startsWith('/api/v1/events')).toBe(true);
          return; // an event stream that opened; its frames are tested in event-stream.test.ts
        }
        expect(response.status).toBeGreaterThanOrEqual(200);
        expect(response.status).toBeLessThan(500);
        expect(response.headers['content-type']).toMatch(/^application\/json/);
        const body = JSON.parse(response.body) as unknown;
        if (response.status >= 400) {
          expect(body).toEqual(
            expect.objectContaining({
              error: expect.stringMatching(/^[A-Za-z]+$/),
              message: expect.any(String),
            }),
          );
        }
      }),
      { numRuns: 400, seed: 20261121 },
    );
    // The generator reaches past authentication and validation, not only into 404s.
    for (const status of [200, 400, 401, 403, 404]) expect(seen.get(status) ?? 0).toBeGreaterThan(10);
  });
});
