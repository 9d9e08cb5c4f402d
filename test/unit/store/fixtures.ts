/** Sample builders and generators shared by the store's unit and integration tests. */
import { expect } from '@jest/globals';
import fc from 'fast-check';
import type { ContainerSample } from '../../../operator/model.js';
import type { RollupDoc } from '../../../operator/store/rollups.js';

export const T0 = Date.UTC(2026, 10, 20, 0, 0, 0);

export function sample(overrides: Partial<ContainerSample> = {}): ContainerSample {
  return {
    time: T0,
    policy: 'shop/web',
    namespace: 'shop',
    pod: 'web-1',
    container: 'app',
    node: 'node-a',
    labels: [{ k: 'app.kubernetes.io/name', v: 'web' }],
    cpuMillicores: 100,
    memoryBytes: 256 * 2 ** 20,
    uptimeSeconds: 60,
    intervalSeconds: 30,
    ...overrides,
  };
}

/**
 * Samples of a few containers over a few hours, in random order, with duplicates (the same
 * sample twice), uptime-only samples, and requests on some.
 */
export function arbitrarySamples(maxLength = 80): fc.Arbitrary<ContainerSample[]> {
  const one = fc
    .record({
      pod: fc.constantFrom('web-1', 'web-2', 'db-0'),
      container: fc.constantFrom('app', 'sidecar'),
      // Whole seconds over 3 hours and a bit: crosses minute, 5-minute and hour boundaries.
      offsetSeconds: fc.integer({ min: 0, max: 3 * 3600 + 600 }),
      cpu: fc.option(fc.double({ min: 0, max: 4000, noNaN: true }), { nil: null, freq: 8 }),
      memory: fc.option(fc.integer({ min: 0, max: 8 * 2 ** 30 }), { nil: null, freq: 8 }),
      cpuRequest: fc.option(fc.constantFrom(100, 250, 1000), { nil: undefined }),
      memoryRequest: fc.option(fc.constantFrom(2 ** 28, 2 ** 30), { nil: undefined }),
      intervalSeconds: fc.constantFrom(10, 30, 60),
    })
    .map((r) =>
      sample({
        pod: r.pod,
        container: r.container,
        time: T0 + r.offsetSeconds * 1000,
        cpuMillicores: r.cpu,
        memoryBytes: r.memory,
        cpuRequestMillicores: r.cpuRequest,
        memoryRequestBytes: r.memoryRequest,
        intervalSeconds: r.intervalSeconds,
      }),
    );
  return fc
    .array(one, { minLength: 1, maxLength })
    .chain((samples) => fc.tuple(fc.constant(samples), fc.shuffledSubarray(samples)))
    .map(([samples, repeated]) => [...samples, ...repeated]);
}

/** Keeps the first sample of each container and time, as the store does with duplicates. */
export function distinctSamples(samples: readonly ContainerSample[]): ContainerSample[] {
  const seen = new Set<string>();
  return samples.filter((s) => {
    const key = `${s.policy}|${s.namespace}|${s.pod}|${s.container}|${s.time}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** count/sum/min/max of the samples a bucket covers, computed the plain way. */
export function expectedBucket(samples: readonly ContainerSample[]) {
  const cpu = samples.map((s) => s.cpuMillicores).filter((v): v is number => v !== null);
  const memory = samples.map((s) => s.memoryBytes).filter((v): v is number => v !== null);
  return {
    count: samples.length,
    cpu: {
      n: cpu.length,
      sum: cpu.reduce((a, b) => a + b, 0),
      min: cpu.length ? Math.min(...cpu) : undefined,
      max: cpu.length ? Math.max(...cpu) : undefined,
    },
    memory: {
      n: memory.length,
      sum: memory.reduce((a, b) => a + b, 0),
      min: memory.length ? Math.min(...memory) : undefined,
      max: memory.length ? Math.max(...memory) : undefined,
    },
  };
}

/** Asserts that a rollup holds count/sum/min/max of exactly these samples. */
export function expectBucket(
  doc: Pick<RollupDoc, 'count' | 'cpu' | 'memory'>,
  samples: readonly ContainerSample[],
): void {
  const expected = expectedBucket(samples);
  expect(doc.count).toBe(expected.count);
  for (const metric of ['cpu', 'memory'] as const) {
    expect(doc[metric].n).toBe(expected[metric].n);
    expect(doc[metric].sum).toBeCloseTo(expected[metric].sum, 6);
    expect(doc[metric].min).toBe(expected[metric].min);
    expect(doc[metric].max).toBe(expected[metric].max);
  }
}
