/** The window picker's presets and how each turns into the `from`/`to` the API takes. */
export const WINDOW_PRESETS = ['1h', 'today', '24h', '7d', '30d', 'custom'] as const;
export type WindowPreset = (typeof WINDOW_PRESETS)[number];

export const WINDOW_LABELS: Record<WindowPreset, string> = {
  '1h': 'Last hour',
  today: 'Today',
  '24h': 'Last 24 hours',
  '7d': 'Last 7 days',
  '30d': 'Last 30 days',
  custom: 'Custom',
};

export interface TimeRange {
  from: Date;
  to: Date;
}

const HOUR = 3_600_000;
const SPANS: Record<'1h' | '24h' | '7d' | '30d', number> = {
  '1h': HOUR,
  '24h': 24 * HOUR,
  '7d': 7 * 24 * HOUR,
  '30d': 30 * 24 * HOUR,
};

export function isPreset(text: string | null | undefined): text is WindowPreset {
  return (WINDOW_PRESETS as readonly string[]).includes(text ?? '');
}

/**
 * The range a preset means at `now`: today runs from local midnight; custom needs both ends
 * and `from` before `to`, otherwise the result says what is wrong.
 */
export function resolveWindow(
  preset: WindowPreset,
  now: Date,
  custom?: { from?: Date; to?: Date },
): TimeRange | { error: string } {
  if (preset === 'today') {
    const midnight = new Date(now);
    midnight.setHours(0, 0, 0, 0);
    // Just after midnight the range would be empty; the API needs from < to.
    return { from: midnight, to: new Date(Math.max(now.getTime(), midnight.getTime() + 1000)) };
  }
  if (preset === 'custom') {
    const { from, to } = custom ?? {};
    if (!from || Number.isNaN(from.getTime()) || !to || Number.isNaN(to.getTime()))
      return { error: 'Choose both the start and the end of the custom window.' };
    if (from >= to) return { error: 'The start of the custom window must be before its end.' };
    return { from, to };
  }
  return { from: new Date(now.getTime() - SPANS[preset]), to: now };
}

/** `2026-11-21T10:00:30` in local time, the value format of `<input type="datetime-local">`. */
export function toLocalInput(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

/** Parses a datetime-local value as local time (undefined when empty or invalid). */
export function fromLocalInput(text: string | null | undefined): Date | undefined {
  if (!text) return undefined;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
