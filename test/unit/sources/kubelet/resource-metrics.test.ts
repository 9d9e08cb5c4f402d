import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  parseResourceMetrics,
  ResourceMetricsFormatError,
} from '../../../../operator/sources/kubelet/resource-metrics.js';

const NOW = Date.UTC(2026, 11, 2, 1, 0, 0);

/** An answer as a kubelet 1.3x writes it (stats timestamps on every sample). */
const KUBELET = `# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container in core-seconds
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{container="coredns",namespace="kube-system",pod="coredns-55fddfc79-6gx8x"} 2.106698031 1764637198123
container_cpu_usage_seconds_total{container="web",namespace="shop",pod="web-0"} 12345.678901234 1764637197987
# HELP container_memory_working_set_bytes [STABLE] Current working set of the container in bytes
# TYPE container_memory_working_set_bytes gauge
container_memory_working_set_bytes{container="coredns",namespace="kube-system",pod="coredns-55fddfc79-6gx8x"} 1.4323712e+07 1764637198123
container_memory_working_set_bytes{container="web",namespace="shop",pod="web-0"} 134217728 1764637197987
# HELP container_start_time_seconds [STABLE] Start time of the container since unix epoch in seconds
# TYPE container_start_time_seconds gauge
container_start_time_seconds{container="coredns",namespace="kube-system",pod="coredns-55fddfc79-6gx8x"} 1.7646e+09 1764600000000
container_start_time_seconds{container="web",namespace="shop",pod="web-0"} 1.7646123456789e+09 1764612345678
# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds
# TYPE node_cpu_usage_seconds_total counter
node_cpu_usage_seconds_total 35641.871306 1764637198000
# HELP node_memory_working_set_bytes [STABLE] Current working set of the node in bytes
# TYPE node_memory_working_set_bytes gauge
node_memory_working_set_bytes 1.175588864e+09 1764637198000
# HELP pod_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the pod in core-seconds
# TYPE pod_cpu_usage_seconds_total counter
pod_cpu_usage_seconds_total{namespace="shop",pod="web-0"} 12345.7 1764637197987
# HELP resource_scrape_error [STABLE] 1 if there was an error while getting container metrics, 0 otherwise
# TYPE resource_scrape_error gauge
resource_scrape_error 0
`;

/** What kwok serves: no timestamps, labels in its own order, the pod's age as start time. */
const KWOK = `# HELP container_cpu_usage_seconds_total [ALPHA] Cumulative cpu time consumed by the container in core-seconds
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{container="app",namespace="team-a",pod="web-1"} 3.7500003
# HELP container_memory_working_set_bytes [ALPHA] Current working set of the container in bytes
# TYPE container_memory_working_set_bytes gauge
container_memory_working_set_bytes{container="app",namespace="team-a",pod="web-1"} 1.34217728e+08
# HELP container_start_time_seconds [ALPHA] Start time of the container since unix epoch in seconds
# TYPE container_start_time_seconds gauge
container_start_time_seconds{container="app",namespace="team-a",pod="web-1"} 42.918312
# HELP scrape_error [ALPHA] 1 if there was an error while getting metrics from the node, 0 otherwise
# TYPE scrape_error gauge
scrape_error 0
`;

describe('parseResourceMetrics', () => {
  it("reads a kubelet's containers exactly, with each sample's own timestamp", () => {
    const { containers, scrapeError } = parseResourceMetrics(KUBELET, NOW);
    expect(scrapeError).toBe(false);
    expect(containers).toEqual([
      {
        namespace: 'kube-system',
        pod: 'coredns-55fddfc79-6gx8x',
        container: 'coredns',
        cpu: { coreSecondsTotal: 2.106698031, time: 1764637198123 },
        memoryWorkingSet: { bytes: 14_323_712, time: 1764637198123 },
        startTime: 1.7646e12,
      },
      {
        namespace: 'shop',
        pod: 'web-0',
        container: 'web',
        cpu: { coreSecondsTotal: 12345.678901234, time: 1764637197987 },
        memoryWorkingSet: { bytes: 134_217_728, time: 1764637197987 },
        startTime: 1.7646123456789e9 * 1000,
      },
    ]);
  });

  it('gives samples without a timestamp the time of the request (as metrics-server does)', () => {
    const { containers } = parseResourceMetrics(KWOK, NOW);
    expect(containers).toEqual([
      {
        namespace: 'team-a',
        pod: 'web-1',
        container: 'app',
        cpu: { coreSecondsTotal: 3.7500003, time: NOW },
        memoryWorkingSet: { bytes: 134_217_728, time: NOW },
        startTime: 42_918.312,
      },
    ]);
  });

  it('reports the endpoint’s own scrape error gauge', () => {
    expect(parseResourceMetrics('resource_scrape_error 1\n', NOW).scrapeError).toBe(true);
    expect(parseResourceMetrics('scrape_error 1 1764637198000\n', NOW).scrapeError).toBe(true);
    expect(parseResourceMetrics('scrape_error 0\n', NOW).scrapeError).toBe(false);
  });

  it('accepts labels in any order, extra labels, spaces, a trailing comma, CRLF and a missing final newline', () => {
    const text =
      '  container_cpu_usage_seconds_total { pod = "p" , id="/kubepods/x", container="c",namespace="n", } 1e-3\t 1700000000000\r\n' +
      'container_memory_working_set_bytes{namespace="n",pod="p",container="c"} 0';
    expect(parseResourceMetrics(text, NOW).containers).toEqual([
      {
        namespace: 'n',
        pod: 'p',
        container: 'c',
        cpu: { coreSecondsTotal: 0.001, time: 1_700_000_000_000 },
        memoryWorkingSet: { bytes: 0, time: NOW },
      },
    ]);
  });

  it('unescapes label values', () => {
    const text = String.raw`container_cpu_usage_seconds_total{namespace="n",pod="a\"b\\c\nd",container="x"} 1`;
    expect(parseResourceMetrics(text, NOW).containers[0]?.pod).toBe('a"b\\c\nd');
  });

  it('skips other metrics, comments and blank lines without parsing them', () => {
    const text = [
      '# a comment',
      '',
      'container_cpu_usage_seconds_totals{this is not parsed} nonsense',
      'node_cpu_usage_seconds_total +Inf',
      'machine_cpu_cores{x="y"} NaN',
      '   ',
      'container_cpu_usage_seconds_total{namespace="n",pod="p",container="c"} 5',
    ].join('\n');
    expect(parseResourceMetrics(text, NOW).containers).toEqual([
      { namespace: 'n', pod: 'p', container: 'c', cpu: { coreSecondsTotal: 5, time: NOW } },
    ]);
  });

  it('an empty answer has no containers', () => {
    expect(parseResourceMetrics('', NOW)).toEqual({ containers: [], scrapeError: false });
  });

  it.each([
    ['container_cpu_usage_seconds_total{namespace="n",pod="p"} 1', 'missing label "container"'],
    ['container_cpu_usage_seconds_total{namespace="n",container="c"} 1', 'missing label "pod"'],
    ['container_memory_working_set_bytes{pod="p",container="c"} 1', 'missing label "namespace"'],
    ['container_cpu_usage_seconds_total 1', 'missing label "namespace"'],
    ['container_cpu_usage_seconds_total{namespace="n",pod="p",container="c"} NaN', 'is not a finite number'],
    ['container_cpu_usage_seconds_total{namespace="n",pod="p",container="c"} +Inf', 'is not a finite number'],
    ['container_cpu_usage_seconds_total{namespace="n",pod="p",container="c"} 0x10', 'is not a finite number'],
    ['container_cpu_usage_seconds_total{namespace="n",pod="p",container="c"} -1', 'negative value -1'],
    ['container_cpu_usage_seconds_total{namespace="n",pod="p",container="c"}', 'missing value'],
    ['container_cpu_usage_seconds_total{namespace="n",pod="p",container="c"} 1 12.5', 'is not an integer'],
    ['container_cpu_usage_seconds_total{namespace="n",pod="p",container="c"} 1 2 3', 'unexpected text'],
    ['container_cpu_usage_seconds_total{namespace="n",pod="p",container="c" 1', 'expected "," or "}"'],
    ['container_cpu_usage_seconds_total{namespace="n,pod="p"} 1', 'expected "," or "}"'],
    ['container_cpu_usage_seconds_total{namespace=n} 1', 'expected a quoted label value'],
    ['container_cpu_usage_seconds_total{namespace="n', 'unterminated label value'],
    ['container_cpu_usage_seconds_total{="n"} 1', 'expected a label name'],
    ['container_start_time_seconds-1 2', 'unexpected character'],
    ['resource_scrape_error x', 'is not a finite number'],
  ])('rejects %j: %s', (line, problem) => {
    const text = `# TYPE x gauge\n${line}\n`;
    expect(() => parseResourceMetrics(text, NOW)).toThrow(ResourceMetricsFormatError);
    expect(() => parseResourceMetrics(text, NOW)).toThrow(`line 2: `);
    expect(() => parseResourceMetrics(text, NOW)).toThrow(problem);
  });

  it('rejects a second sample for the same container and metric', () => {
    const line = 'container_memory_working_set_bytes{namespace="n",pod="p",container="c"} 1\n';
    expect(() => parseResourceMetrics(line + line, NOW)).toThrow(
      'line 2: container_memory_working_set_bytes: second sample for namespace="n", pod="p", container="c"',
    );
  });

  it('reads back any set of containers it is given, exactly (property)', () => {
    const name = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/);
    const labelValue = fc.string({ maxLength: 12 }).filter((s) => s.length > 0);
    const container = fc.record({
      namespace: name,
      pod: labelValue,
      container: name,
      cpu: fc.option(
        fc.record({
          coreSecondsTotal: fc.double({ min: 0, max: 1e9, noNaN: true }).map((x) => Math.abs(x)),
          time: fc.integer({ min: 0, max: 2 ** 45 }),
        }),
        { nil: undefined },
      ),
      memoryWorkingSet: fc.option(
        fc.record({
          bytes: fc.integer({ min: 0, max: 2 ** 50 }),
          time: fc.integer({ min: 0, max: 2 ** 45 }),
        }),
        { nil: undefined },
      ),
    });
    const escape = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
    fc.assert(
      fc.property(
        fc.uniqueArray(container, {
          selector: (c) => `${c.namespace}/${c.pod}/${c.container}`,
          maxLength: 20,
        }),
        (list) => {
          const lines: string[] = [];
          for (const c of list) {
            const labels = `{container="${escape(c.container)}",namespace="${escape(c.namespace)}",pod="${escape(c.pod)}"}`;
            if (c.cpu)
              lines.push(
                `container_cpu_usage_seconds_total${labels} ${c.cpu.coreSecondsTotal} ${c.cpu.time}`,
              );
            if (c.memoryWorkingSet)
              lines.push(
                `container_memory_working_set_bytes${labels} ${c.memoryWorkingSet.bytes} ${c.memoryWorkingSet.time}`,
              );
          }
          const expected = list
            .filter((c) => c.cpu || c.memoryWorkingSet)
            .map((c) => {
              const out: Record<string, unknown> = {
                namespace: c.namespace,
                pod: c.pod,
                container: c.container,
              };
              if (c.cpu) out.cpu = c.cpu;
              if (c.memoryWorkingSet) out.memoryWorkingSet = c.memoryWorkingSet;
              return out;
            });
          expect(parseResourceMetrics(lines.join('\n'), NOW).containers).toEqual(expected);
        },
      ),
    );
  });
});
