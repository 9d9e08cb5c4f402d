import { describe, expect, it } from '@jest/globals';
import { OperatorMetrics } from '../../operator/metrics.js';
import type { CollectionCycle } from '../../operator/model.js';
import { cycleSinks } from '../../operator/sinks.js';
import { EventBus } from '../../operator/http/event-bus.js';
import { silentLogger } from '../../operator/logging.js';

describe('series of a policy that is gone', () => {
  it('leave /metrics with the policy: per-policy series and opt-in per-target gauges', async () => {
    const metrics = new OperatorMetrics();
    let forget: ((policy: string) => void) | undefined;
    const sinks = cycleSinks({
      alerts: { onCycle: () => undefined },
      store: { write: async () => undefined } as never,
      events: new EventBus(silentLogger()),
      metrics,
      perTargetMetrics: true,
      onPolicyGone: (f) => (forget = f),
    });
    const cycle = (policy: string, pod: string) =>
      ({
        policy,
        samples: [{ namespace: 'shop', pod, container: 'app', time: 0, cpuMillicores: 5, memoryBytes: 7 }],
      }) as unknown as CollectionCycle;
    for (const [policy, pod] of [
      ['shop/web', 'web-1'],
      ['shop/db', 'db-1'],
    ] as const) {
      for (const sink of sinks) await sink.onCycle(cycle(policy, pod));
      metrics.collectionDuration.observe({ policy }, 0.1);
      metrics.samplesCollected.inc({ policy, source: 'metrics.k8s.io' });
      metrics.collectionsSkipped.inc({ policy });
    }
    forget?.('shop/web');
    await metrics.forgetPolicy('shop/web');
    const text = await metrics.registry.metrics();
    expect(text).not.toContain('web');
    expect(text).toContain('policy="shop/db"');
    expect(text).toMatch(
      /kube_usage_container_cpu_millicores\{namespace="shop",pod="db-1",container="app"\} 5/,
    );
  });
});
