import { describe, expect, it } from '@jest/globals';
import {
  blockIoFromV1,
  blockIoFromV2,
  containerIdOfStatus,
  cpuFromV1,
  cpuFromV2,
  memoryFromV1,
  memoryFromV2,
  parseContainerCgroupName,
  parsePodCgroupName,
  parseQosCgroupName,
} from '../../../agent/parse-cgroup.js';

const ID = 'a'.repeat(8) + '0123456789abcdef'.repeat(3) + 'b'.repeat(8);
const UID = '6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f';

describe('kubelet cgroup names', () => {
  it('reads the pod UID in both drivers and all QoS classes', () => {
    expect(parsePodCgroupName(`pod${UID}`)).toEqual({ uid: UID, driver: 'cgroupfs' });
    const underscored = UID.replaceAll('-', '_');
    expect(parsePodCgroupName(`kubepods-burstable-pod${underscored}.slice`)).toEqual({
      uid: UID,
      driver: 'systemd',
    });
    expect(parsePodCgroupName(`kubepods-besteffort-pod${underscored}.slice`)).toEqual({
      uid: UID,
      driver: 'systemd',
    });
    expect(parsePodCgroupName(`kubepods-pod${underscored}.slice`)).toEqual({ uid: UID, driver: 'systemd' });
  });

  it('rejects names that are not pod cgroups', () => {
    expect(parsePodCgroupName('burstable')).toBeUndefined();
    expect(parsePodCgroupName(`pod${UID}x`)).toBeUndefined();
    expect(parsePodCgroupName(`kubepods-burstable-pod${UID}.slice`)).toBeUndefined(); // dashes: not systemd's escaping
    expect(parsePodCgroupName('kubepods-burstable.slice')).toBeUndefined();
  });

  it('reads QoS directories of both drivers', () => {
    expect(parseQosCgroupName('burstable')).toBe('burstable');
    expect(parseQosCgroupName('kubepods-besteffort.slice')).toBe('besteffort');
    expect(parseQosCgroupName(`pod${UID}`)).toBeUndefined();
  });

  it('reads container ids of cgroupfs, containerd, CRI-O and docker scopes, not conmon', () => {
    expect(parseContainerCgroupName(ID)).toBe(ID);
    expect(parseContainerCgroupName(`cri-containerd-${ID}.scope`)).toBe(ID);
    expect(parseContainerCgroupName(`crio-${ID}.scope`)).toBe(ID);
    expect(parseContainerCgroupName(`docker-${ID}.scope`)).toBe(ID);
    expect(parseContainerCgroupName(`crio-conmon-${ID}.scope`)).toBeUndefined();
    expect(parseContainerCgroupName('cpu.stat')).toBeUndefined();
    expect(containerIdOfStatus(`containerd://${ID}`)).toBe(ID);
    expect(containerIdOfStatus('')).toBeUndefined();
  });
});

describe('CPU', () => {
  it('v2 cpu.stat in core-seconds with throttling', () => {
    const cpu = cpuFromV2(
      'usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 40\nnr_throttled 3\nthrottled_usec 125000\nnr_bursts 0\nburst_usec 0\n',
    );
    expect(cpu).toEqual({
      usageCoreSeconds: 2.5,
      userCoreSeconds: 2,
      systemCoreSeconds: 0.5,
      periods: 40,
      throttledPeriods: 3,
      throttledSeconds: 0.125,
    });
  });

  it('v2 cpu.stat without the cpu controller has no throttling figures', () => {
    expect(cpuFromV2('usage_usec 7\nuser_usec 4\nsystem_usec 3\n')).toEqual({
      usageCoreSeconds: 7e-6,
      userCoreSeconds: 4e-6,
      systemCoreSeconds: 3e-6,
    });
  });

  it('v1 cpuacct.usage (ns), cpuacct.stat (ticks) and cpu.stat throttled_time (ns)', () => {
    const cpu = cpuFromV1(
      '1500000000\n',
      'user 120\nsystem 30\n',
      'nr_periods 10\nnr_throttled 2\nthrottled_time 40000000\n',
    );
    expect(cpu).toEqual({
      usageCoreSeconds: 1.5,
      userCoreSeconds: 1.2,
      systemCoreSeconds: 0.3,
      periods: 10,
      throttledPeriods: 2,
      throttledSeconds: 0.04,
    });
  });

  it('names the file and line when a file is malformed', () => {
    expect(() => cpuFromV2('usage_usec x\n')).toThrow(
      'cpu.stat usage_usec: "x" is not a non-negative integer',
    );
    expect(() => cpuFromV2('user_usec 1\n')).toThrow('cpu.stat: no usage_usec line');
    expect(() => cpuFromV1('-1')).toThrow('cpuacct.usage');
  });
});

describe('memory', () => {
  it('v2: working set is usage minus inactive_file; anon is RSS, file is cache; oom_kill', () => {
    const mem = memoryFromV2(
      '10485760\n',
      'anon 6291456\nfile 4194304\nkernel 0\ninactive_file 3145728\nactive_file 1048576\n',
      'low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n',
    );
    expect(mem).toEqual({
      usageBytes: 10485760,
      workingSetBytes: 10485760 - 3145728,
      rssBytes: 6291456,
      cacheBytes: 4194304,
      oomKills: 1,
    });
  });

  it('working set never goes below zero', () => {
    expect(memoryFromV2('100', 'inactive_file 200\n').workingSetBytes).toBe(0);
  });

  it('v1 prefers the hierarchical total_* keys as the kubelet does', () => {
    const mem = memoryFromV1(
      '8192000\n',
      'cache 1\nrss 2\ninactive_file 3\ntotal_cache 4096000\ntotal_rss 3000000\ntotal_inactive_file 1000000\n',
      'oom_kill_disable 0\nunder_oom 0\noom_kill 4\n',
    );
    expect(mem).toEqual({
      usageBytes: 8192000,
      workingSetBytes: 7192000,
      rssBytes: 3000000,
      cacheBytes: 4096000,
      oomKills: 4,
    });
  });
});

describe('block I/O', () => {
  it('v2 io.stat summed over devices', () => {
    const io = blockIoFromV2(
      '254:0 rbytes=4096 wbytes=1048576 rios=1 wios=16 dbytes=0 dios=0\n8:16 rbytes=512 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n',
    );
    expect(io).toEqual({
      readBytes: 4608,
      writeBytes: 1048576,
      readOps: 2,
      writeOps: 16,
      devices: [
        { device: '254:0', readBytes: 4096, writeBytes: 1048576, readOps: 1, writeOps: 16 },
        { device: '8:16', readBytes: 512, writeBytes: 0, readOps: 1, writeOps: 0 },
      ],
    });
  });

  it('v1 blkio.throttle files: Read/Write per device, Total lines ignored', () => {
    const bytes =
      '254:0 Read 8192\n254:0 Write 1048576\n254:0 Sync 1048576\n254:0 Async 8192\n254:0 Discard 0\n254:0 Total 1056768\nTotal 1056768\n';
    const ops =
      '254:0 Read 2\n254:0 Write 16\n254:0 Sync 16\n254:0 Async 2\n254:0 Discard 0\n254:0 Total 18\nTotal 18\n';
    expect(blockIoFromV1(bytes, ops)).toEqual({
      readBytes: 8192,
      writeBytes: 1048576,
      readOps: 2,
      writeOps: 16,
      devices: [{ device: '254:0', readBytes: 8192, writeBytes: 1048576, readOps: 2, writeOps: 16 }],
    });
  });

  it('v1 with no I/O yet is zero, not an error', () => {
    expect(blockIoFromV1('Total 0\n', 'Total 0\n')).toEqual({
      readBytes: 0,
      writeBytes: 0,
      readOps: 0,
      writeOps: 0,
      devices: [],
    });
  });

  it('rejects a malformed line', () => {
    expect(() => blockIoFromV2('sda rbytes=1')).toThrow('io.stat: bad device');
    expect(() => blockIoFromV1('254:0 Read', 'Total 0')).toThrow('blkio.throttle.io_service_bytes');
  });
});
