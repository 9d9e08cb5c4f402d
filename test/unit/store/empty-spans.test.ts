/**
 * Readings whose span is empty (uptime-only samples of a node that could not be read, readings
 * accounted as a base or skipped) account for no time: they never clip the next reading's span.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { ContainerSample } from '../../../operator/model.js';
import { nonOverlapping } from '../../../operator/store/write-path.js';
import { sample, T0 } from './fixtures.js';

/** A reading of the series over [from, time] at `cores` and `bytes`. */
function reading(from: number, time: number, cores: number, bytes = 2 ** 20): ContainerSample {
  const seconds = (time - from) / 1000;
  return sample({
    podUid: 'uid-1',
    time,
    from,
    cpuMillicores: cores * 1000,
    memoryBytes: bytes,
    cpuCoreSeconds: cores * seconds,
    memoryByteSeconds: bytes * seconds,
  });
}

/** What the collector stores for a container it got no reading of: uptime only, a zero span. */
function uptimeOnly(time: number): ContainerSample {
  return sample({
    podUid: 'uid-1',
    time,
    from: time,
    cpuMillicores: null,
    memoryBytes: null,
    cpuCoreSeconds: null,
    memoryByteSeconds: null,
  });
}

const cpu = (samples: ContainerSample[]) => samples.reduce((n, s) => n + (s.cpuCoreSeconds ?? 0), 0);

describe('readings with an empty span', () => {
  it('do not clip the counter difference that covers a node outage', () => {
    // 1 core; the node could not be read for 10 minutes (40 cycles of 15 s stored uptime only).
    const before = reading(T0 - 15_000, T0, 1);
    const outage = Array.from({ length: 40 }, (_, i) => uptimeOnly(T0 + 7_000 + i * 15_000));
    const after = reading(T0, T0 + 615_000, 1);
    const kept = nonOverlapping([before, ...outage, after]);
    expect(kept.find((s) => s.time === T0 + 615_000)).toMatchObject({ from: T0, cpuCoreSeconds: 615 });
    expect(cpu(kept)).toBe(630);
  });

  it('still clip a span that overlaps a reading with a span, and refuse readings at or before it', () => {
    const kept = nonOverlapping([
      reading(T0, T0 + 30_000, 1),
      uptimeOnly(T0 + 40_000),
      reading(T0 + 15_000, T0 + 60_000, 1),
      reading(T0 + 10_000, T0 + 30_000, 1),
    ]);
    expect(kept.map((s) => [s.from, s.time, s.cpuCoreSeconds])).toEqual([
      [T0, T0 + 30_000, 30],
      [T0 + 40_000, T0 + 40_000, null],
      [T0 + 30_000, T0 + 60_000, 30],
    ]);
  });

  it('leave the sum of tiled spans whole, wherever they fall (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            ms: fc.integer({ min: 1, max: 900_000 }),
            cores: fc.double({ min: 0, max: 8, noNaN: true }),
          }),
          {
            minLength: 1,
            maxLength: 40,
          },
        ),
        fc.array(fc.integer({ min: 0, max: 40 * 900_000 }), { maxLength: 60 }),
        (pieces, emptyAt) => {
          const spans: ContainerSample[] = [];
          let t = T0;
          for (const { ms, cores } of pieces) {
            spans.push(reading(t, t + ms, cores));
            t += ms;
          }
          const empties = emptyAt.map((offset) => uptimeOnly(T0 + offset));
          const kept = nonOverlapping([...empties, ...spans]);
          const expected = cpu(spans);
          expect(Math.abs(cpu(kept) - expected)).toBeLessThanOrEqual(1e-9 * Math.max(1, expected));
        },
      ),
    );
  });
});
