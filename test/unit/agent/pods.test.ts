import { describe, expect, it } from '@jest/globals';
import { knownPod, podFields } from '../../../agent/pods.js';

describe('the agent pod transform', () => {
  it('keeps what knownPod reads and nothing else of a served pod', () => {
    const served = {
      metadata: {
        name: 'web-1',
        namespace: 'shop',
        uid: 'u1',
        resourceVersion: '5',
        labels: { app: 'web' },
        managedFields: [{ manager: 'kubelet' }],
      },
      spec: {
        hostNetwork: true,
        containers: [{ name: 'app', image: 'nginx', env: [{ name: 'A', value: 'x' }] }, { name: 'late' }],
        initContainers: [{ name: 'init', image: 'busybox' }],
        volumes: [{ name: 'data' }],
      },
      status: {
        phase: 'Running',
        conditions: [{ type: 'Ready', status: 'True' }],
        containerStatuses: [{ name: 'app', containerID: 'containerd://abc', image: 'nginx', ready: true }],
        initContainerStatuses: [{ name: 'init', containerID: 'containerd://def', restartCount: 0 }],
        ephemeralContainerStatuses: [{ name: 'debug' }],
      },
    };
    const kept = podFields(served);
    expect(kept).toEqual({
      metadata: { name: 'web-1', namespace: 'shop', uid: 'u1', resourceVersion: '5' },
      spec: {
        hostNetwork: true,
        containers: [{ name: 'app' }, { name: 'late' }],
        initContainers: [{ name: 'init' }],
      },
      status: {
        phase: 'Running',
        containerStatuses: [{ name: 'app', containerID: 'containerd://abc' }],
        initContainerStatuses: [{ name: 'init', containerID: 'containerd://def' }],
        ephemeralContainerStatuses: [{ name: 'debug' }],
      },
    });
    expect(knownPod(kept)).toEqual(knownPod(served));
  });
});
