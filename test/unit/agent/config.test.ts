import { describe, expect, it } from '@jest/globals';
import { parseAgentCommandLine } from '../../../agent/config.js';
import { SharedRead } from '../../../agent/shared-read.js';

describe('agent settings', () => {
  it('defaults, with the node from the environment', () => {
    const line = parseAgentCommandLine([], { NODE_NAME: 'n1', HOST_IP: '10.0.0.5' });
    expect(line).toEqual({
      kind: 'run',
      config: {
        nodeName: 'n1',
        address: '10.0.0.5',
        port: 10265,
        cgroupRoot: '/sys/fs/cgroup',
        procRoot: '/proc',
        topProcesses: 10,
        minIntervalMs: 1000,
        logLevel: 'info',
      },
    });
  });

  it('flags win over the environment; clear errors', () => {
    const line = parseAgentCommandLine(['--node-name', 'n2', '--cgroup-version', '1', '--port', '0'], {
      NODE_NAME: 'n1',
    });
    expect(line.kind === 'run' && line.config).toMatchObject({ nodeName: 'n2', cgroupVersion: 1, port: 0 });
    expect(() => parseAgentCommandLine([], {})).toThrow('--node-name (NODE_NAME) is required');
    expect(() => parseAgentCommandLine(['--address', 'node-a'], { NODE_NAME: 'n' })).toThrow(
      '"node-a" is not an IP address',
    );
    expect(() => parseAgentCommandLine(['--tls-cert-file', 'a'], { NODE_NAME: 'n' })).toThrow('go together');
    expect(() => parseAgentCommandLine([], { NODE_NAME: 'n', CGROUP_VERSION: '3' })).toThrow(
      'environment variable CGROUP_VERSION (--cgroup-version): "3" is not one of auto, 1, 2',
    );
  });
});

describe('shared reads', () => {
  it('one read at a time; a read younger than the interval answers later callers', async () => {
    let now = 1000;
    let reads = 0;
    const shared = new SharedRead(
      async () => ({ time: now, n: ++reads }),
      500,
      () => now,
    );
    const [a, b] = await Promise.all([shared.get(), shared.get()]);
    expect([a.n, b.n]).toEqual([1, 1]);
    now = 1400;
    expect((await shared.get()).n).toBe(1);
    now = 1500;
    expect((await shared.get()).n).toBe(2);
  });
});
