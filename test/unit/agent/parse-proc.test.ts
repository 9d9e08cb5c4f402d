import { describe, expect, it } from '@jest/globals';
import {
  parseDiskstats,
  parseHostStat,
  parseLoadavg,
  parseMeminfo,
  parseNetDev,
  parseProcStat,
  parseStatmResidentPages,
  podNetwork,
} from '../../../agent/parse-proc.js';

describe('/proc/<pid>/stat and statm', () => {
  it('reads utime, stime and start time, with a command holding spaces and parentheses', () => {
    const text =
      '4242 (my (odd) cmd) R 1 4242 4242 0 -1 4194304 120 0 0 0 250 75 0 0 20 0 1 0 98765 12345678 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n';
    expect(parseProcStat(text)).toEqual({
      pid: 4242,
      command: 'my (odd) cmd',
      state: 'R',
      utimeTicks: 250,
      stimeTicks: 75,
      startTicks: 98765,
    });
  });

  it('rejects a truncated stat', () => {
    expect(() => parseProcStat('12 (x) S 1 2')).toThrow('/proc/12/stat: too few fields');
    expect(() => parseProcStat('garbage')).toThrow('no "(comm)"');
  });

  it('statm: the second field is resident pages', () => {
    expect(parseStatmResidentPages('5000 1234 300 10 0 800 0\n')).toBe(1234);
  });
});

const NET_DEV = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  eth0: 123456     100    1    2    0     0          0         0    65432      90    3    4    0     0       0          0
tap0:5 1 0 0 0 0 0 0 7 1 0 0 0 0 0 0
`;

describe('net/dev', () => {
  it('reads every interface, TAP included, even without a space after the colon', () => {
    const all = parseNetDev(NET_DEV);
    expect(all.map((i) => i.name)).toEqual(['lo', 'eth0', 'tap0']);
    expect(all[1]).toEqual({
      name: 'eth0',
      rxBytes: 123456,
      rxPackets: 100,
      rxErrors: 1,
      rxDrops: 2,
      txBytes: 65432,
      txPackets: 90,
      txErrors: 3,
      txDrops: 4,
    });
    expect(all[2]).toMatchObject({ rxBytes: 5, txBytes: 7 });
  });

  it("a pod's network sums its interfaces without lo", () => {
    const net = podNetwork(parseNetDev(NET_DEV));
    expect(net.interfaces.map((i) => i.name)).toEqual(['eth0', 'tap0']);
    expect(net).toMatchObject({
      rxBytes: 123461,
      txBytes: 65439,
      rxPackets: 101,
      txPackets: 91,
      rxErrors: 1,
      txDrops: 4,
    });
  });
});

describe('host files', () => {
  it('/proc/stat: CPU seconds by mode, CPU count and boot time', () => {
    const text =
      'cpu  1000 20 300 40000 50 6 7 8 9 10\ncpu0 500 10 150 20000 25 3 3 4 4 5\ncpu1 500 10 150 20000 25 3 4 4 5 5\nintr 1 2\nctxt 99\nbtime 1764633600\nprocesses 10\n';
    expect(parseHostStat(text)).toEqual({
      cpu: {
        user: 10,
        nice: 0.2,
        system: 3,
        idle: 400,
        iowait: 0.5,
        irq: 0.06,
        softirq: 0.07,
        steal: 0.08,
        guest: 0.09,
        guestNice: 0.1,
        cpus: 2,
      },
      bootTime: 1764633600000,
    });
    expect(() => parseHostStat('cpu 1 2 3 4\n')).toThrow('no "btime" line');
  });

  it('/proc/meminfo in bytes', () => {
    const text =
      'MemTotal:       16384000 kB\nMemFree:         1024000 kB\nMemAvailable:    8192000 kB\nBuffers:           10000 kB\nCached:          4000000 kB\nSwapTotal:             0 kB\nSwapFree:              0 kB\nHugePages_Total:       0\n';
    expect(parseMeminfo(text)).toEqual({
      totalBytes: 16384000 * 1024,
      freeBytes: 1024000 * 1024,
      availableBytes: 8192000 * 1024,
      buffersBytes: 10000 * 1024,
      cachedBytes: 4000000 * 1024,
      swapTotalBytes: 0,
      swapFreeBytes: 0,
    });
    expect(() => parseMeminfo('MemFree: 1 kB\n')).toThrow('no MemTotal');
  });

  it('/proc/loadavg', () => {
    expect(parseLoadavg('0.52 1.25 2.00 3/456 7890\n')).toEqual({
      one: 0.52,
      five: 1.25,
      fifteen: 2,
      runnable: 3,
      threads: 456,
    });
  });

  it('/proc/diskstats: sectors are 512 bytes', () => {
    const [disk] = parseDiskstats(
      ' 254       0 vda 10670 6350 614386 8833 7333 249122 10292944 168142 0 11884 178819 3111 90 40752 1828 8 15\n',
    );
    expect(disk).toEqual({
      name: 'vda',
      device: '254:0',
      readsCompleted: 10670,
      readsMerged: 6350,
      readBytes: 614386 * 512,
      readTimeMs: 8833,
      writesCompleted: 7333,
      writesMerged: 249122,
      writeBytes: 10292944 * 512,
      writeTimeMs: 168142,
      ioInProgress: 0,
      ioTimeMs: 11884,
      weightedIoTimeMs: 178819,
    });
  });
});
