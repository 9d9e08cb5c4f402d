/**
 * The node agents' readings in the API, with a fake of the latest readings: host statistics
 * (get nodes), processes (get pods in the namespace), and the pod usage's network and block
 * I/O fields; without readings, the answer says which fields are absent and why.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import type { NodeReport, PodStats } from '../../../agent/types.js';
import { NO_AGENTS } from '../../../operator/http/agent-present.js';
import type { AgentView } from '../../../operator/sources/agent/agent-readings.js';
import { getJson, startTestServer, T0, TOKENS, type TestServer } from './fixtures.js';

const APP_ID = 'a'.repeat(64);
const SIDE_ID = 'b'.repeat(64);

const pod: PodStats = {
  namespace: 'team-a',
  name: 'web-1',
  uid: 'uid-1',
  qos: 'burstable',
  cgroupDriver: 'systemd',
  time: T0 - 1000,
  network: {
    rxBytes: 1500,
    rxPackets: 3,
    rxErrors: 0,
    rxDrops: 1,
    txBytes: 900,
    txPackets: 2,
    txErrors: 0,
    txDrops: 0,
    interfaces: [
      {
        name: 'eth0',
        rxBytes: 1500,
        rxPackets: 3,
        rxErrors: 0,
        rxDrops: 1,
        txBytes: 900,
        txPackets: 2,
        txErrors: 0,
        txDrops: 0,
      },
    ],
  },
  containers: [
    {
      id: APP_ID,
      name: 'app',
      readStart: T0 - 2010,
      time: T0 - 2000,
      cpu: { usageCoreSeconds: 12.75, periods: 10, throttledPeriods: 3, throttledSeconds: 0.5 },
      blockIo: {
        readBytes: 4096,
        writeBytes: 8192,
        readOps: 1,
        writeOps: 2,
        devices: [{ device: '8:0', readBytes: 4096, writeBytes: 8192, readOps: 1, writeOps: 2 }],
      },
      processes: {
        count: 2,
        top: [
          { pid: 10, command: 'nginx', cpuSeconds: 12.5, rssBytes: 4096, startTime: T0 - 60_000, state: 'S' },
          { pid: 11, command: 'worker', cpuSeconds: 1, rssBytes: 8192, startTime: T0 - 50_000, state: 'R' },
        ],
      },
    },
    { id: SIDE_ID, name: 'sidecar', readStart: T0 - 2010, time: T0 - 2000, processes: { count: 1, top: [] } },
  ],
};

const report: NodeReport = {
  node: 'node-1',
  time: T0 - 1000,
  cgroupVersion: 2,
  host: {
    time: T0 - 1000,
    bootTime: T0 - 86_400_000,
    cpu: {
      user: 100,
      nice: 1,
      system: 50,
      idle: 1000,
      iowait: 2,
      irq: 0,
      softirq: 3,
      steal: 0,
      guest: 0,
      guestNice: 0,
      cpus: 4,
    },
    memory: {
      totalBytes: 8e9,
      freeBytes: 1e9,
      availableBytes: 4e9,
      buffersBytes: 1e8,
      cachedBytes: 2e9,
      swapTotalBytes: 0,
      swapFreeBytes: 0,
    },
    load: { one: 0.5, five: 0.4, fifteen: 0.3, runnable: 2, threads: 300 },
    interfaces: [{ ...pod.network!.interfaces[0]!, name: 'tap0' }],
    disks: [],
  },
  pods: [pod],
  podsWithoutCgroup: [],
  readErrors: [],
};

const agents: AgentView = {
  node: (name) => (name === 'node-1' ? { report } : { absent: `no agent reading for the node "${name}"` }),
  pod: (namespace, name) =>
    namespace === 'team-a' && name === 'web-1'
      ? { report, pod }
      : { absent: `no agent reports the pod "${namespace}/${name}"` },
};

let t: TestServer | undefined;
afterEach(async () => {
  await t?.server.close();
  t = undefined;
});

describe('GET /api/v1/nodes/{node}/usage', () => {
  it("serves the node's host statistics to a caller that may get the node", async () => {
    t = await startTestServer({ agents });
    const response = await getJson(`${t.url}/api/v1/nodes/node-1/usage`, TOKENS.admin);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      node: 'node-1',
      time: new Date(T0 - 1000).toISOString(),
      bootTime: new Date(T0 - 86_400_000).toISOString(),
      cgroupVersion: 2,
      cpu: {
        cpus: 4,
        secondsByMode: {
          user: 100,
          nice: 1,
          system: 50,
          idle: 1000,
          iowait: 2,
          irq: 0,
          softirq: 3,
          steal: 0,
          guest: 0,
          guestNice: 0,
        },
      },
      memory: report.host.memory,
      load: report.host.load,
      interfaces: report.host.interfaces,
      disks: [],
      pods: { read: 1, withoutCgroup: 0 },
    });
    expect(t.access.calls).toContainEqual({ verb: 'get', resource: 'nodes', name: 'node-1' });
  });

  it('403 for a caller without get nodes, 404 with the reason without a reading, 400 for a bad name', async () => {
    t = await startTestServer({ agents });
    const denied = await getJson(`${t.url}/api/v1/nodes/node-1/usage`, TOKENS.tenantA);
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ message: expect.stringContaining('cannot get resource "nodes"') });
    const missing = await getJson(`${t.url}/api/v1/nodes/node-9/usage`, TOKENS.admin);
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({
      message: 'no host statistics of the node "node-9": no agent reading for the node "node-9"',
    });
    const bad = await getJson(`${t.url}/api/v1/nodes/Node_1/usage`, TOKENS.admin);
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ field: 'node' });
    const extra = await getJson(`${t.url}/api/v1/nodes/node-1/usage?x=1`, TOKENS.admin);
    expect(extra.status).toBe(400);
  });

  it('says there are no agents when the operator reads none', async () => {
    t = await startTestServer();
    const response = await getJson(`${t.url}/api/v1/nodes/node-1/usage`, TOKENS.admin);
    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({
      message: `no host statistics of the node "node-1": ${NO_AGENTS}`,
    });
  });
});

describe('GET /api/v1/namespaces/{ns}/pods/{pod}/processes', () => {
  it("serves the top processes of each container to a caller that may get the namespace's pods", async () => {
    t = await startTestServer({ agents });
    const response = await getJson(`${t.url}/api/v1/namespaces/team-a/pods/web-1/processes`, TOKENS.tenantA);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      namespace: 'team-a',
      pod: 'web-1',
      node: 'node-1',
      containers: [
        {
          container: 'app',
          containerId: APP_ID,
          time: new Date(T0 - 2000).toISOString(),
          count: 2,
          top: [
            {
              pid: 10,
              command: 'nginx',
              state: 'S',
              cpuSeconds: 12.5,
              rssBytes: 4096,
              startTime: new Date(T0 - 60_000).toISOString(),
            },
            {
              pid: 11,
              command: 'worker',
              state: 'R',
              cpuSeconds: 1,
              rssBytes: 8192,
              startTime: new Date(T0 - 50_000).toISOString(),
            },
          ],
        },
        {
          container: 'sidecar',
          containerId: SIDE_ID,
          time: new Date(T0 - 2000).toISOString(),
          count: 1,
          top: [],
        },
      ],
    });
  });

  it('403 in another namespace, 404 with the reason for a pod no agent reports', async () => {
    t = await startTestServer({ agents });
    const denied = await getJson(`${t.url}/api/v1/namespaces/team-b/pods/web-1/processes`, TOKENS.tenantA);
    expect(denied.status).toBe(403);
    const missing = await getJson(`${t.url}/api/v1/namespaces/team-a/pods/other/processes`, TOKENS.tenantA);
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({
      message: 'no processes of the pod "team-a/other": no agent reports the pod "team-a/other"',
    });
  });
});

describe("the pod's current usage with agents", () => {
  it('adds the network of the pod and the block I/O and process count of each container', async () => {
    t = await startTestServer({ agents });
    const response = await getJson(`${t.url}/api/v1/namespaces/team-a/pods/web-1/usage`, TOKENS.tenantA);
    expect(response.status).toBe(200);
    const body = response.body as Record<string, unknown> & { containers: Record<string, unknown>[] };
    expect(body.agent).toEqual({ node: 'node-1', time: new Date(T0 - 1000).toISOString() });
    expect(body.network).toEqual({ time: new Date(T0 - 1000).toISOString(), ...pod.network });
    expect(body.containers.map((c) => [c.container, c.cpuMillicores, c.blockIo, c.processCount])).toEqual([
      ['app', 250.5, { time: new Date(T0 - 2000).toISOString(), ...pod.containers[0]!.blockIo }, 2],
      ['sidecar', 10, null, 1],
    ]);
    expect(body.containers[0]!.cgroupCpu).toEqual({
      time: new Date(T0 - 2000).toISOString(),
      usageCoreSeconds: 12.75,
      throttledPeriods: 3,
      throttledSeconds: 0.5,
    });
    expect(body.containers[1]!.cgroupCpu).toBeNull();
    expect(body.absent).toEqual([
      { field: 'containers[sidecar].blockIo', reason: 'the cgroup has no block I/O accounting' },
    ]);
  });

  it('answers from the agents for a pod the store has no sample of, saying the sample fields are absent', async () => {
    t = await startTestServer({ agents });
    t.queries.samples = [];
    const response = await getJson(`${t.url}/api/v1/namespaces/team-a/pods/web-1/usage`, TOKENS.tenantA);
    expect(response.status).toBe(200);
    const body = response.body as Record<string, unknown> & { containers: Record<string, unknown>[] };
    expect(body.containers.map((c) => [c.container, c.cpuMillicores, c.memoryBytes, c.processCount])).toEqual(
      [
        ['app', null, null, 2],
        ['sidecar', null, null, 1],
      ],
    );
    expect(body.absent).toEqual([
      {
        field: 'containers[app].cpuMillicores',
        reason: 'no sample of this container recorded yet (no UsagePolicy collects it, or not yet)',
      },
      {
        field: 'containers[sidecar].cpuMillicores',
        reason: 'no sample of this container recorded yet (no UsagePolicy collects it, or not yet)',
      },
      { field: 'containers[sidecar].blockIo', reason: 'the cgroup has no block I/O accounting' },
    ]);
  });
});
