/** Kubernetes-style quantity strings for status and messages: "910m", "2", "1.5Gi", "100Mi". */
import type { Metric } from './rule.js';

const BINARY_SUFFIXES = ['Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'] as const;

/** Millicores as a CPU quantity: whole cores as "2", otherwise millicores as "910m" (or "2.5m" below 10m). */
export function formatCpu(millicores: number): string {
  if (millicores % 1000 === 0) return String(millicores / 1000);
  return `${trim(millicores, Math.abs(millicores) < 10 ? 1 : 0)}m`;
}

/** Bytes as a memory quantity with a binary suffix and up to three significant digits: "1.5Gi", "100Mi", "512". */
export function formatMemory(bytes: number): string {
  let scaled = bytes;
  let suffix = '';
  for (const next of BINARY_SUFFIXES) {
    if (Math.abs(scaled) < 1024) break;
    scaled /= 1024;
    suffix = next;
  }
  if (suffix === '') return trim(scaled, 0);
  const abs = Math.abs(scaled);
  return `${trim(scaled, abs < 10 ? 2 : abs < 100 ? 1 : 0)}${suffix}`;
}

export function formatQuantity(metric: Metric, value: number): string {
  return metric === 'cpu' ? formatCpu(value) : formatMemory(value);
}

/** RFC 3339 in whole seconds, as Kubernetes writes times (the project's one formatter). */
export { formatTimestamp as formatTime } from '../../api/timestamp.js';

function trim(value: number, decimals: number): string {
  return String(Number(value.toFixed(decimals)));
}
