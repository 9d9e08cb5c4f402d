/**
 * PodMetrics of the resource metrics API (`metrics.k8s.io/v1beta1`) as plain numbers, and the
 * exact translation of a PodMetricsList body into them: CPU in nanocores, memory in bytes, the
 * window in seconds. A malformed answer is an error naming the field at fault. Pure.
 */
import { parseCpuNanocores, parseMemoryBytes } from '../../../api/quantity.js';
import { errorMessage } from '../../logging.js';

/** One container of a PodMetrics object: its usage over the object's window. */
export interface ContainerMetrics {
  name: string;
  /** Average CPU over the window, nanocores. */
  cpuNanocores: number;
  /** Working set at the end of the window, bytes. */
  memoryBytes: number;
}

/** One PodMetrics object: the usage of a pod's containers over one window. */
export interface PodMetricsItem {
  namespace: string;
  name: string;
  /** End of the measurement window, ms since epoch. */
  timestamp: number;
  windowSeconds: number;
  containers: ContainerMetrics[];
}

const GO_DURATION_PART = /(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/gy;
const SECONDS_PER_UNIT: Record<string, number> = {
  h: 3600,
  m: 60,
  s: 1,
  ms: 1e-3,
  us: 1e-6,
  µs: 1e-6,
  ns: 1e-9,
};

/** Parses a Go duration such as `15.011s` or `1m0s` into seconds. */
export function goDurationSeconds(duration: string): number {
  if (duration === '0') return 0;
  GO_DURATION_PART.lastIndex = 0;
  let seconds = 0;
  let consumed = 0;
  for (let part = GO_DURATION_PART.exec(duration); part; part = GO_DURATION_PART.exec(duration)) {
    seconds += Number(part[1]) * (SECONDS_PER_UNIT[part[2] ?? ''] ?? NaN);
    consumed = GO_DURATION_PART.lastIndex;
  }
  if (consumed === 0 || consumed !== duration.length)
    throw new Error(`invalid duration ${JSON.stringify(duration)}`);
  return seconds;
}

/** metrics-server writes whole nanocores and whole KiB; those take a fast exact path, the rest the full parser. */
const WHOLE_NANOCORES = /^(\d{1,15})n$/;
const WHOLE_KIBIBYTES = /^(\d{1,12})Ki$/;

function usageCpuNanocores(quantity: string): number {
  const whole = WHOLE_NANOCORES.exec(quantity);
  return whole ? Number(whole[1]) : parseCpuNanocores(quantity);
}

function usageMemoryBytes(quantity: string): number {
  const whole = WHOLE_KIBIBYTES.exec(quantity);
  return whole ? Number(whole[1]) * 1024 : parseMemoryBytes(quantity);
}

/** A problem at `path` inside the answer; enclosing readers prefix their part of the path. */
class FieldError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(path === '' ? problem : `${path}: ${problem}`);
  }

  static within(prefix: string, err: unknown): FieldError {
    if (err instanceof FieldError)
      return new FieldError(err.path === '' ? prefix : `${prefix}.${err.path}`, err.problem);
    return new FieldError(prefix, errorMessage(err));
  }
}

function record(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new FieldError(path, 'expected an object');
  return value as Record<string, unknown>;
}

function text(object: Record<string, unknown>, key: string): string {
  const value = object[key];
  if (typeof value !== 'string' || value === '') throw new FieldError(key, 'expected a non-empty string');
  return value;
}

function list(object: Record<string, unknown>, key: string): unknown[] {
  const value = object[key];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new FieldError(key, 'expected a list');
  return value;
}

function parsed<T>(object: Record<string, unknown>, key: string, parse: (value: string) => T): T {
  const value = text(object, key);
  try {
    return parse(value);
  } catch (err) {
    throw new FieldError(key, errorMessage(err));
  }
}

/** Runs `read`, prefixing the path of any FieldError it throws with `prefix`. */
function within<T>(prefix: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    throw FieldError.within(prefix, err);
  }
}

function containerMetrics(json: unknown): ContainerMetrics {
  const container = record(json, '');
  const name = text(container, 'name');
  return within('usage', () => {
    const usage = record(container['usage'], '');
    return {
      name,
      cpuNanocores: parsed(usage, 'cpu', usageCpuNanocores),
      memoryBytes: parsed(usage, 'memory', usageMemoryBytes),
    };
  });
}

/** One PodMetrics object; `timestamps` caches parsed times (the items of one scrape share them). */
function podMetricsItem(json: unknown, timestamps: Map<string, number>): PodMetricsItem {
  const object = record(json, '');
  const { namespace, name } = within('metadata', () => {
    const metadata = record(object['metadata'], '');
    return { namespace: text(metadata, 'namespace'), name: text(metadata, 'name') };
  });
  const time = text(object, 'timestamp');
  let timestamp = timestamps.get(time);
  if (timestamp === undefined) {
    timestamp = Date.parse(time);
    if (Number.isNaN(timestamp))
      throw new FieldError('timestamp', `invalid timestamp ${JSON.stringify(time)}`);
    timestamps.set(time, timestamp);
  }
  return {
    namespace,
    name,
    timestamp,
    windowSeconds: parsed(object, 'window', goDurationSeconds),
    containers: list(object, 'containers').map((entry, i) =>
      within(`containers[${i}]`, () => containerMetrics(entry)),
    ),
  };
}

/** Translates a PodMetricsList response body. Throws an error naming the field at fault. */
export function podMetricsItems(body: unknown): PodMetricsItem[] {
  const timestamps = new Map<string, number>();
  return within('PodMetricsList', () =>
    list(record(body, ''), 'items').map((item, i) =>
      within(`items[${i}]`, () => podMetricsItem(item, timestamps)),
    ),
  );
}
