import { describe, expect, it } from '@jest/globals';
import { parseResourceMetrics } from '../../../operator/sources/kubelet/resource-metrics.js';
import { counterSamples, lowerCounter, stampSamples } from '../../harness/resource-metrics-text.js';

/** As kwok writes a node's /metrics/resource: no timestamps. */
const KWOK = `# HELP scrape_error [ALPHA] 1 if there was an error while getting metrics from the node, 0 otherwise
# TYPE scrape_error gauge
scrape_error 0
# HELP container_cpu_usage_seconds_total [ALPHA] Cumulative cpu time consumed by the container in core-seconds
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{container="app",namespace="ns",pod="a"} 12.5
container_cpu_usage_seconds_total{container="side",namespace="ns",pod="a"} 3
container_cpu_usage_seconds_total{container="app",namespace="other",pod="a"} 7
# TYPE container_memory_working_set_bytes gauge
container_memory_working_set_bytes{container="app",namespace="ns",pod="a"} 1.048576e+06
container_start_time_seconds{container="app",namespace="ns",pod="a"} 42.5
`;

describe('resource metrics text', () => {
  it('reads every container CPU counter', () => {
    expect(counterSamples(KWOK)).toEqual([
      { namespace: 'ns', pod: 'a', container: 'app', cpu: 12.5 },
      { namespace: 'ns', pod: 'a', container: 'side', cpu: 3 },
      { namespace: 'other', pod: 'a', container: 'app', cpu: 7 },
    ]);
  });

  it('lowers one container counter and nothing else', () => {
    const lowered = lowerCounter(KWOK, { namespace: 'ns', pod: 'a', container: 'app' }, 0.5)!;
    expect(lowered.before).toBe(12.5);
    expect(lowered.after).toBe(6.25);
    expect(counterSamples(lowered.body)).toEqual([
      { namespace: 'ns', pod: 'a', container: 'app', cpu: 6.25 },
      { namespace: 'ns', pod: 'a', container: 'side', cpu: 3 },
      { namespace: 'other', pod: 'a', container: 'app', cpu: 7 },
    ]);
    // The start time is unchanged: only the counter line differs.
    const diff = lowered.body.split('\n').filter((line, i) => line !== KWOK.split('\n')[i]);
    expect(diff).toEqual(['container_cpu_usage_seconds_total{container="app",namespace="ns",pod="a"} 6.25']);
    expect(lowerCounter(KWOK, { namespace: 'ns', pod: 'gone', container: 'app' }, 0.5)).toBeUndefined();
  });

  it('stamps every sample, as the operator then reads it', () => {
    const stamped = stampSamples(KWOK, 1_700_000_123_456.4);
    const parsed = parseResourceMetrics(stamped, 1);
    const app = parsed.containers.find((c) => c.namespace === 'ns' && c.container === 'app')!;
    expect(app.cpu).toEqual({ coreSecondsTotal: 12.5, time: 1_700_000_123_456 });
    expect(app.memoryWorkingSet).toEqual({ bytes: 1_048_576, time: 1_700_000_123_456 });
    // A stamp already there is replaced, comments are kept.
    expect(stampSamples(stamped, 5)).toBe(stampSamples(KWOK, 5));
    expect(stamped.split('\n').filter((l) => l.startsWith('#'))).toEqual(
      KWOK.split('\n').filter((l) => l.startsWith('#')),
    );
  });
});
