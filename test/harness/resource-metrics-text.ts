/**
 * The text of a kubelet's `/metrics/resource` answer (Prometheus text format 0.0.4), read and
 * rewritten the plain way for tests: the CPU counters per container, one container's counter
 * lowered (a counter glitch with an unchanged start time), and every sample stamped with a time
 * (a kubelet writes the time of its stats; kwok writes none). Pure.
 */

export interface ContainerRef {
  namespace: string;
  pod: string;
  container: string;
}

export interface CounterSample extends ContainerRef {
  /** `container_cpu_usage_seconds_total`, core-seconds. */
  cpu: number;
}

const CPU_COUNTER = 'container_cpu_usage_seconds_total';
/** name, optional {labels}, value, optional timestamp. */
const SAMPLE = /^([A-Za-z_:][A-Za-z0-9_:]*)(\{[^}]*\})?\s+(\S+)(?:\s+(-?\d+))?\s*$/;

function labelsOf(text: string | undefined): Record<string, string> {
  if (text === undefined) return {};
  return Object.fromEntries([...text.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!] as const));
}

/** `namespace/pod/container`. */
export function containerKey(ref: ContainerRef): string {
  return `${ref.namespace}/${ref.pod}/${ref.container}`;
}

/** Every container's CPU counter in the answer. */
export function counterSamples(body: string): CounterSample[] {
  const out: CounterSample[] = [];
  for (const line of body.split('\n')) {
    const match = SAMPLE.exec(line);
    if (!match || match[1] !== CPU_COUNTER) continue;
    const labels = labelsOf(match[2]);
    if (labels.namespace === undefined || labels.pod === undefined || labels.container === undefined)
      continue;
    out.push({
      namespace: labels.namespace,
      pod: labels.pod,
      container: labels.container,
      cpu: Number(match[3]),
    });
  }
  return out;
}

/**
 * The answer with one container's CPU counter multiplied by `factor` (< 1: lower, its start
 * time unchanged); undefined when the container is not in it.
 */
export function lowerCounter(
  body: string,
  target: ContainerRef,
  factor: number,
): { body: string; before: number; after: number } | undefined {
  let found: { before: number; after: number } | undefined;
  const lines = body.split('\n').map((line) => {
    const match = SAMPLE.exec(line);
    if (!match || match[1] !== CPU_COUNTER || found) return line;
    const labels = labelsOf(match[2]);
    if (
      labels.namespace !== target.namespace ||
      labels.pod !== target.pod ||
      labels.container !== target.container
    )
      return line;
    const before = Number(match[3]);
    const after = before * factor;
    found = { before, after };
    return `${match[1]}${match[2] ?? ''} ${after}${match[4] === undefined ? '' : ` ${match[4]}`}`;
  });
  return found && { body: lines.join('\n'), ...found };
}

/** The answer with every sample stamped `timeMs` (an existing timestamp is replaced). */
export function stampSamples(body: string, timeMs: number): string {
  const stamp = String(Math.round(timeMs));
  return body
    .split('\n')
    .map((line) => {
      if (line.startsWith('#')) return line;
      const match = SAMPLE.exec(line);
      return match ? `${match[1]}${match[2] ?? ''} ${match[3]} ${stamp}` : line;
    })
    .join('\n');
}
