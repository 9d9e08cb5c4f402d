import { describe, expect, it } from '@jest/globals';
import { PodIndex } from '../../../operator/collector/pod-index.js';
import { captureLogger } from '../../harness/capture-logger.js';

/** A pod as the apiserver serves it, managedFields and all. */
function servedPod(name: string, cpu = '250m') {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      namespace: 'shop',
      name,
      uid: `${name}-uid`,
      resourceVersion: '42',
      labels: { app: 'web' },
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': 'x'.repeat(2_000) },
      managedFields: [{ manager: 'kubectl', operation: 'Apply', fieldsV1: { 'f:spec': {} } }],
    },
    spec: { nodeName: 'node-1', containers: [{ name: 'app', resources: { requests: { cpu } } }] },
    status: { phase: 'Running' },
  };
}

describe('PodIndex', () => {
  it('caches only identity and PodInfo, and indexes that same PodInfo (no second copy)', () => {
    const index = new PodIndex(captureLogger().logger);
    const cached = index.transform(servedPod('web-1'));
    expect(cached.metadata).toEqual({
      namespace: 'shop',
      name: 'web-1',
      resourceVersion: '42',
      uid: 'web-1-uid',
    });
    expect(JSON.stringify(cached)).not.toContain('managedFields');
    expect(JSON.stringify(cached)).not.toContain('last-applied');
    index.handlers.onAdd(cached);
    expect(index.list('shop')).toHaveLength(1);
    expect(index.list('shop')[0]).toBe(cached.info);
    expect(index.list()[0]).toMatchObject({
      name: 'web-1',
      containers: [{ name: 'app', cpuRequestMillicores: 250 }],
    });
    index.handlers.onDelete(cached);
    expect(index.list()).toEqual([]);
  });

  it('drops a pod whose resources cannot be read, with a warning naming it', () => {
    const { logger, lines } = captureLogger();
    const index = new PodIndex(logger);
    index.handlers.onAdd(index.transform(servedPod('web-1')));
    const unreadable = index.transform(servedPod('web-1', 'lots'));
    expect(unreadable.info).toBeUndefined();
    index.handlers.onUpdate(unreadable);
    expect(index.list()).toEqual([]);
    expect(lines).toContainEqual(
      expect.objectContaining({ level: 'warn', message: 'pod skipped: unreadable resources', name: 'web-1' }),
    );
  });

  it('remembers when it first held a pod: kept across updates, anew for a new UID under the name', () => {
    let now = 1_000;
    const index = new PodIndex(captureLogger().logger, () => now);
    index.handlers.onAdd(index.transform(servedPod('web-1')));
    now = 5_000;
    index.handlers.onUpdate(index.transform(servedPod('web-1', '500m')));
    expect(index.list('shop')[0]).toMatchObject({
      seenAt: 1_000,
      containers: [{ cpuRequestMillicores: 500 }],
    });
    now = 9_000;
    const recreated = servedPod('web-1');
    recreated.metadata.uid = 'web-1-uid-2';
    index.handlers.onUpdate(index.transform(recreated));
    expect(index.list('shop')[0]).toMatchObject({ uid: 'web-1-uid-2', seenAt: 9_000 });
  });
});
