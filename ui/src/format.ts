/** Display formats. Figures shown rounded; CSV exports keep the API's full precision. */

export function cpu(millicores: number | null | undefined): string {
  if (millicores === null || millicores === undefined) return '–';
  if (Math.abs(millicores) < 1000) return `${round(millicores, millicores < 10 ? 2 : 0)}m`;
  const cores = millicores / 1000;
  return `${round(cores, 3)} ${cores === 1 ? 'core' : 'cores'}`;
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function bytes(value: number | null | undefined): string {
  if (value === null || value === undefined) return '–';
  let v = value;
  let unit = 0;
  while (Math.abs(v) >= 1024 && unit < BYTE_UNITS.length - 1) {
    v /= 1024;
    unit++;
  }
  return `${round(v, unit === 0 ? 0 : 1)} ${BYTE_UNITS[unit]}`;
}

export function number(value: number | null | undefined, digits = 3): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

export function money(value: number, currency: string): string {
  const digits = Math.abs(value) < 1 ? 4 : 2;
  return `${currency}${value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })}`;
}

export function percent(fraction: number | undefined): string {
  return fraction === undefined ? '–' : `${round(fraction * 100, 1)}%`;
}

export function time(iso: string | null | undefined): string {
  if (!iso) return '–';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

function round(value: number, digits: number): string {
  return value.toLocaleString('en-US', { maximumFractionDigits: digits });
}

/** `networkRxBytes` -> `Network rx bytes`: a readable name for fields the dashboard does not know. */
export function humanize(key: string): string {
  const words = key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A value of a field the dashboard does not know, formatted by what its name says it holds. */
export function byName(key: string, value: number): string {
  if (/bytes$/i.test(key)) return bytes(value);
  if (/millicores$/i.test(key)) return cpu(value);
  if (/percent/i.test(key)) return `${number(value, 1)}%`;
  if (/seconds$/i.test(key)) return `${number(value, 0)} s`;
  return number(value);
}
