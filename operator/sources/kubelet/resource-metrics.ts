/**
 * The kubelet's resource metrics endpoint (`/metrics/resource`, Prometheus text format 0.0.4)
 * parsed into per-container figures. Pure and allocation-light: it runs over every node's
 * answer each cycle (10,000 containers and more).
 *
 * Only the samples the accounting uses are parsed, and those strictly:
 * - `container_cpu_usage_seconds_total` (counter, core-seconds since the container started),
 * - `container_memory_working_set_bytes` (gauge, bytes),
 * - `container_start_time_seconds` (gauge, Unix seconds),
 * each with its `namespace`, `pod` and `container` labels and its own timestamp (ms) when the
 * kubelet writes one. A malformed sample of these metrics, a non-finite or negative value, a
 * missing label or a second sample for the same container is an error naming the line: the
 * caller reports the node as unreadable rather than guessing. Comments (`# HELP`, `# TYPE`),
 * blank lines and samples of other metrics are skipped without being parsed.
 *
 * `resource_scrape_error` (`scrape_error` on older kubelets and kwok) is read too: 1 means the
 * kubelet could not collect all stats, so the containers listed may be incomplete.
 */

/** One container as the endpoint describes it. */
export interface ContainerResourceMetrics {
  namespace: string;
  pod: string;
  container: string;
  /** `container_cpu_usage_seconds_total` and when it was read (ms since epoch). */
  cpu?: { coreSecondsTotal: number; time: number };
  /** `container_memory_working_set_bytes` and when it was read (ms since epoch). */
  memoryWorkingSet?: { bytes: number; time: number };
  /**
   * `container_start_time_seconds` as ms since epoch, exactly as written (sub-millisecond
   * digits kept, so the same start always compares equal).
   */
  startTime?: number;
}

export interface ResourceMetrics {
  containers: ContainerResourceMetrics[];
  /** The endpoint's own `resource_scrape_error` / `scrape_error` gauge was non-zero. */
  scrapeError: boolean;
}

/** The text is not valid resource metrics; `line` is 1-based. */
export class ResourceMetricsFormatError extends Error {
  constructor(
    readonly line: number,
    readonly problem: string,
  ) {
    super(`line ${line}: ${problem}`);
    this.name = 'ResourceMetricsFormatError';
  }
}

const CPU = 'container_cpu_usage_seconds_total';
const MEMORY = 'container_memory_working_set_bytes';
const START = 'container_start_time_seconds';
const SCRAPE_ERRORS = ['resource_scrape_error', 'scrape_error'];

const METRIC_CPU = 0;
const METRIC_MEMORY = 1;
const METRIC_START = 2;
const METRIC_SCRAPE_ERROR = 3;
const METRIC_OTHER = 4;
type Metric = 0 | 1 | 2 | 3 | 4;

const C_NEWLINE = 10;
const C_RETURN = 13;
const C_SPACE = 32;
const C_TAB = 9;
const C_HASH = 35;
const C_BRACE_OPEN = 123;
const C_BRACE_CLOSE = 125;
const C_QUOTE = 34;
const C_BACKSLASH = 92;
const C_EQUALS = 61;
const C_COMMA = 44;

/** A decimal float as Go's strconv writes it (no hex, no underscores). */
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER = /^-?\d+$/;

function isNameChar(c: number): boolean {
  return (
    (c >= 97 && c <= 122) || // a-z
    (c >= 65 && c <= 90) || // A-Z
    (c >= 48 && c <= 57) || // 0-9
    c === 95 || // _
    c === 58 // :
  );
}

function isBlank(c: number): boolean {
  return c === C_SPACE || c === C_TAB;
}

function metricOf(text: string, start: number, end: number): Metric {
  const length = end - start;
  if (length === CPU.length && text.startsWith(CPU, start)) return METRIC_CPU;
  if (length === MEMORY.length && text.startsWith(MEMORY, start)) return METRIC_MEMORY;
  if (length === START.length && text.startsWith(START, start)) return METRIC_START;
  for (const name of SCRAPE_ERRORS)
    if (length === name.length && text.startsWith(name, start)) return METRIC_SCRAPE_ERROR;
  return METRIC_OTHER;
}

/**
 * Parses one endpoint answer. `defaultTime` (ms since epoch) stands for samples written
 * without a timestamp (kwok writes none; the kubelet writes the time of its stats), as
 * metrics-server does with the time it sent the request.
 */
export function parseResourceMetrics(text: string, defaultTime: number): ResourceMetrics {
  const containers = new Map<string, ContainerResourceMetrics>();
  const byLabelText = new Map<string, ContainerResourceMetrics>();
  // The containers in the order of the first family, with their label text as written.
  const inOrder: ContainerResourceMetrics[] = [];
  const labelTexts: string[] = [];
  let lastMetric: Metric = METRIC_OTHER;
  let positionInFamily = 0;
  let scrapeError = false;
  let line = 0;
  let pos = 0;
  const length = text.length;
  // Where the next backslash is (escapes in label values are rare): found once, not per label.
  let nextBackslash = -1;
  // Samples of one answer mostly share their timestamp.
  let lastStampText = '';
  let lastStamp = 0;

  // Per-sample state, reset for each sample of a metric we read.
  let namespace: string | undefined;
  let pod: string | undefined;
  let container: string | undefined;

  while (pos < length) {
    line++;
    let eol = text.indexOf('\n', pos);
    if (eol === -1) eol = length;
    let i = pos;
    while (i < eol && isBlank(text.charCodeAt(i))) i++;
    const first = i < eol ? text.charCodeAt(i) : C_NEWLINE;
    if (first === C_HASH || first === C_NEWLINE || (first === C_RETURN && i + 1 >= eol)) {
      pos = eol + 1;
      continue;
    }
    const nameStart = i;
    while (i < eol && isNameChar(text.charCodeAt(i))) i++;
    const metric = metricOf(text, nameStart, i);
    if (metric === METRIC_OTHER) {
      pos = eol + 1;
      continue;
    }
    const nameEnd = i;
    namespace = pod = container = undefined;

    if (i < eol && !isBlank(text.charCodeAt(i)) && text.charCodeAt(i) !== C_BRACE_OPEN)
      throw sampleError(text, line, nameStart, nameEnd, `unexpected character at column ${i - pos + 1}`);
    while (i < eol && isBlank(text.charCodeAt(i))) i++;
    const labelsStart = i;
    if (i < eol && text.charCodeAt(i) === C_BRACE_OPEN) {
      i++;
      for (;;) {
        while (i < eol && isBlank(text.charCodeAt(i))) i++;
        if (i >= eol) throw sampleError(text, line, nameStart, nameEnd, 'unterminated label set');
        if (text.charCodeAt(i) === C_BRACE_CLOSE) {
          i++;
          break;
        }
        const labelStart = i;
        while (i < eol && isNameChar(text.charCodeAt(i))) i++;
        if (i === labelStart)
          throw sampleError(text, line, nameStart, nameEnd, `expected a label name at column ${i - pos + 1}`);
        const labelEnd = i;
        while (i < eol && isBlank(text.charCodeAt(i))) i++;
        if (text.charCodeAt(i) !== C_EQUALS)
          throw sampleError(
            text,
            line,
            nameStart,
            nameEnd,
            `expected "=" after a label name at column ${i - pos + 1}`,
          );
        i++;
        while (i < eol && isBlank(text.charCodeAt(i))) i++;
        if (text.charCodeAt(i) !== C_QUOTE)
          throw sampleError(
            text,
            line,
            nameStart,
            nameEnd,
            `expected a quoted label value at column ${i - pos + 1}`,
          );
        i++;
        const valueStart = i;
        let close = text.indexOf('"', i);
        if (close === -1 || close >= eol)
          throw sampleError(text, line, nameStart, nameEnd, 'unterminated label value');
        let value: string;
        const backslash = nextBackslash < i ? (nextBackslash = indexOrEnd(text, '\\', i)) : nextBackslash;
        if (backslash > close) {
          value = text.slice(valueStart, close);
        } else {
          // Escapes: find the quote that is not escaped.
          i = backslash;
          while (i < eol) {
            const c = text.charCodeAt(i);
            if (c === C_QUOTE) break;
            i += c === C_BACKSLASH ? 2 : 1;
          }
          if (i >= eol) throw sampleError(text, line, nameStart, nameEnd, 'unterminated label value');
          close = i;
          value = unescapeLabel(text.slice(valueStart, close));
        }
        i = close;
        i++; // closing quote
        const labelLength = labelEnd - labelStart;
        if (labelLength === 9 && text.startsWith('namespace', labelStart)) namespace = value;
        else if (labelLength === 3 && text.startsWith('pod', labelStart)) pod = value;
        else if (labelLength === 9 && text.startsWith('container', labelStart)) container = value;
        while (i < eol && isBlank(text.charCodeAt(i))) i++;
        const c = text.charCodeAt(i);
        if (c === C_COMMA) i++;
        else if (c !== C_BRACE_CLOSE)
          throw sampleError(text, line, nameStart, nameEnd, `expected "," or "}" at column ${i - pos + 1}`);
      }
    }

    const labelsEnd = i;

    // Value, then an optional timestamp.
    while (i < eol && isBlank(text.charCodeAt(i))) i++;
    const valueStart = i;
    while (i < eol && !isBlank(text.charCodeAt(i)) && text.charCodeAt(i) !== C_RETURN) i++;
    const valueText = text.slice(valueStart, i);
    while (i < eol && isBlank(text.charCodeAt(i))) i++;
    const stampStart = i;
    while (i < eol && !isBlank(text.charCodeAt(i)) && text.charCodeAt(i) !== C_RETURN) i++;
    const stampText = text.slice(stampStart, i);
    while (i < eol && (isBlank(text.charCodeAt(i)) || text.charCodeAt(i) === C_RETURN)) i++;
    if (i < eol)
      throw sampleError(
        text,
        line,
        nameStart,
        nameEnd,
        `unexpected text after the timestamp at column ${i - pos + 1}`,
      );
    pos = eol + 1;

    if (valueText === '') throw sampleError(text, line, nameStart, nameEnd, 'missing value');
    if (!DECIMAL.test(valueText))
      throw sampleError(
        text,
        line,
        nameStart,
        nameEnd,
        `value ${JSON.stringify(valueText)} is not a finite number`,
      );
    const value = Number(valueText);
    if (!Number.isFinite(value))
      throw sampleError(text, line, nameStart, nameEnd, `value ${valueText} is not a finite number`);
    let time = defaultTime;
    if (stampText !== '') {
      if (stampText !== lastStampText && !INTEGER.test(stampText))
        throw sampleError(
          text,
          line,
          nameStart,
          nameEnd,
          `timestamp ${JSON.stringify(stampText)} is not an integer`,
        );
      if (stampText !== lastStampText) {
        lastStamp = Number(stampText);
        lastStampText = stampText;
      }
      time = lastStamp;
      if (!Number.isSafeInteger(time))
        throw sampleError(text, line, nameStart, nameEnd, `timestamp ${stampText} is out of range`);
    }

    if (metric === METRIC_SCRAPE_ERROR) {
      if (value !== 0) scrapeError = true;
      continue;
    }
    if (namespace === undefined || namespace === '')
      throw sampleError(text, line, nameStart, nameEnd, 'missing label "namespace"');
    if (pod === undefined || pod === '')
      throw sampleError(text, line, nameStart, nameEnd, 'missing label "pod"');
    if (container === undefined || container === '')
      throw sampleError(text, line, nameStart, nameEnd, 'missing label "container"');
    if (value < 0) throw sampleError(text, line, nameStart, nameEnd, `negative value ${valueText}`);
    // The label set as written is the fast key (the kubelet writes it the same way for each
    // metric); the same container written with its labels in another order is found by name.
    const written = text.slice(labelsStart, labelsEnd);
    if (metric !== lastMetric) {
      lastMetric = metric;
      positionInFamily = 0;
    }
    // Each family lists the containers in the same order: try the one at this position first.
    let entry: ContainerResourceMetrics | undefined = inOrder[positionInFamily];
    if (entry === undefined || labelTexts[positionInFamily] !== written) entry = byLabelText.get(written);
    if (entry === undefined) {
      const key = `${namespace}\u0000${pod}\u0000${container}`;
      entry = containers.get(key);
      if (entry === undefined) {
        entry = { namespace, pod, container };
        containers.set(key, entry);
      }
      byLabelText.set(written, entry);
    }
    if (positionInFamily >= inOrder.length) {
      inOrder.push(entry);
      labelTexts.push(written);
    }
    positionInFamily++;
    const seen =
      metric === METRIC_CPU
        ? entry.cpu !== undefined
        : metric === METRIC_MEMORY
          ? entry.memoryWorkingSet !== undefined
          : entry.startTime !== undefined;
    if (seen)
      throw sampleError(
        text,
        line,
        nameStart,
        nameEnd,
        `second sample for namespace="${namespace}", pod="${pod}", container="${container}"`,
      );
    switch (metric) {
      case METRIC_CPU:
        entry.cpu = { coreSecondsTotal: value, time };
        break;
      case METRIC_MEMORY:
        entry.memoryWorkingSet = { bytes: value, time };
        break;
      case METRIC_START:
        entry.startTime = value * 1000;
        break;
    }
  }
  return { containers: [...containers.values()], scrapeError };
}

function indexOrEnd(text: string, search: string, from: number): number {
  const at = text.indexOf(search, from);
  return at === -1 ? text.length : at;
}

function sampleError(
  text: string,
  line: number,
  nameStart: number,
  nameEnd: number,
  problem: string,
): ResourceMetricsFormatError {
  return new ResourceMetricsFormatError(line, `${text.slice(nameStart, nameEnd)}: ${problem}`);
}

/** Label value escapes of the text format: `\\`, `\"` and `\n`; anything else stays as written. */
function unescapeLabel(raw: string): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === '\\' && i + 1 < raw.length) {
      const next = raw[++i];
      out += next === 'n' ? '\n' : next === '\\' || next === '"' ? next : `\\${next}`;
    } else {
      out += c;
    }
  }
  return out;
}
