import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { podInfoFromV1Pod } from '../../../operator/collector/pod-cache.js';

const podStart = '2026-11-21T09:00:00Z';

function v1Pod(
  overrides: { spec?: Partial<NonNullable<V1Pod['spec']>>; status?: V1Pod['status'] } = {},
): V1Pod {
  return {
    metadata: {
      namespace: 'shop',
      name: 'web-1',
      uid: 'u-1',
      labels: { app: 'web', 'app.kubernetes.io/part-of': 'shop' },
    },
    spec: {
      nodeName: 'node-1',
      containers: [
        {
          name: 'app',
          resources: { requests: { cpu: '250m', memory: '64Mi' }, limits: { cpu: '1', memory: '0.5Gi' } },
        },
        { name: 'log' },
      ],
      ...overrides.spec,
    },
    status: overrides.status ?? {
      phase: 'Running',
      // A watch event carries strings, a list call Dates: both occur in the cache.
      startTime: podStart as unknown as Date,
      containerStatuses: [
        {
          name: 'app',
          image: 'x',
          imageID: '',
          ready: true,
          restartCount: 1,
          state: { running: { startedAt: new Date('2026-11-21T09:30:00Z') } },
        },
        {
          name: 'log',
          image: 'x',
          imageID: '',
          ready: false,
          restartCount: 0,
          state: { waiting: { reason: 'CrashLoopBackOff' } },
        },
      ],
    },
  };
}

describe('podInfoFromV1Pod', () => {
  it('takes exact requests and limits, node, labels and container start times', () => {
    expect(podInfoFromV1Pod(v1Pod())).toEqual({
      namespace: 'shop',
      name: 'web-1',
      uid: 'u-1',
      node: 'node-1',
      labels: { app: 'web', 'app.kubernetes.io/part-of': 'shop' },
      phase: 'Running',
      startTime: Date.parse(podStart),
      containers: [
        {
          name: 'app',
          cpuRequestMillicores: 250,
          cpuLimitMillicores: 1000,
          memoryRequestBytes: 64 * 1024 * 1024,
          memoryLimitBytes: 512 * 1024 * 1024,
          startedAt: Date.parse('2026-11-21T09:30:00Z'),
        },
        // Not running: falls back to the pod's start.
        { name: 'log', startedAt: Date.parse(podStart) },
      ],
    });
  });

  it('includes sidecars, and init containers while they run, with their type', () => {
    const running = { running: { startedAt: new Date('2026-11-21T09:00:05Z') } };
    const info = podInfoFromV1Pod(
      v1Pod({
        spec: {
          initContainers: [
            { name: 'done' },
            { name: 'migrate', resources: { requests: { cpu: '2' } } },
            { name: 'wait' },
            { name: 'mesh', restartPolicy: 'Always', resources: { limits: { cpu: '100m' } } },
          ],
        },
        status: {
          phase: 'Pending',
          startTime: podStart as unknown as Date,
          initContainerStatuses: [
            {
              name: 'done',
              image: 'x',
              imageID: '',
              ready: false,
              restartCount: 0,
              state: { terminated: { exitCode: 0 } },
            },
            { name: 'migrate', image: 'x', imageID: '', ready: false, restartCount: 0, state: running },
            { name: 'wait', image: 'x', imageID: '', ready: false, restartCount: 0, state: { waiting: {} } },
          ],
        },
      }),
    );
    // A finished or waiting init container is left out: nothing of it runs, and it gets no uptime-only samples.
    expect(info.containers.map((c) => [c.name, c.type])).toEqual([
      ['migrate', 'init'],
      ['mesh', 'sidecar'],
      ['app', undefined],
      ['log', undefined],
    ]);
    expect(info.containers[0]).toMatchObject({
      cpuRequestMillicores: 2000,
      startedAt: Date.parse('2026-11-21T09:00:05Z'),
    });
    expect(info.containers[1]?.cpuLimitMillicores).toBe(100);
  });

  it('has no start times for a pod not started yet', () => {
    const info = podInfoFromV1Pod(v1Pod({ spec: { nodeName: undefined }, status: { phase: 'Pending' } }));
    expect(info).toMatchObject({ node: '', phase: 'Pending' });
    expect(info).not.toHaveProperty('startTime');
    expect(info.containers.every((c) => c.startedAt === undefined)).toBe(true);
  });

  it('names the field of an invalid quantity', () => {
    const pod = v1Pod({ spec: { containers: [{ name: 'app', resources: { limits: { memory: '1Qi' } } }] } });
    expect(() => podInfoFromV1Pod(pod)).toThrow(
      /pod shop\/web-1: spec\.containers\[0\]\.resources\.limits\.memory: invalid quantity "1Qi"/,
    );
  });
});
