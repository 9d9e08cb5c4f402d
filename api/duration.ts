/**
 * Durations as users write them in a spec: Go-style units plus days, largest unit first, each unit
 * at most once, whole numbers only: `30s`, `5m`, `1h30m`, `7d`, `1d12h`.
 *
 * The same grammar is checked by the CRD's CEL rules (celIsDuration), so the apiserver and this
 * parser accept exactly the same strings. The digit limits keep every value far below the range of a
 * Go time.Duration (~292 years), which the CRD's CEL rules convert to (see celDurationSeconds).
 */

export class DurationError extends Error {
  constructor(
    readonly input: string,
    reason: string,
  ) {
    super(`invalid duration ${JSON.stringify(input)}: ${reason}`);
    this.name = 'DurationError';
  }
}

export const DURATION_PATTERN = '^(?:([0-9]{1,4})d)?(?:([0-9]{1,5})h)?(?:([0-9]{1,6})m)?(?:([0-9]{1,7})s)?$';
export const DURATION_FORMAT_HINT =
  'use whole numbers with the units d, h, m and s, largest first, e.g. 30s, 5m, 1h30m, 7d';

const DURATION = new RegExp(DURATION_PATTERN);

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000 } as const;

/** Parses `1d12h` into milliseconds. Throws DurationError naming the input. */
export function parseDuration(input: string): number {
  const match = input === '' ? null : DURATION.exec(input);
  if (!match) throw new DurationError(input, DURATION_FORMAT_HINT);
  const [, days, hours, minutes, seconds] = match;
  return (
    Number(days ?? 0) * UNIT_MS.d +
    Number(hours ?? 0) * UNIT_MS.h +
    Number(minutes ?? 0) * UNIT_MS.m +
    Number(seconds ?? 0) * UNIT_MS.s
  );
}

/** A CEL expression: whether the string `expr` is a duration in this notation. */
export function celIsDuration(expr: string): string {
  return `${expr}.matches('${DURATION_PATTERN}')`;
}

/**
 * A CEL expression giving the length in seconds (an int) of the duration string `expr`; guard it
 * with celIsDuration, or it fails at run time on a malformed string. CEL's duration() reads Go durations but not days, so days are
 * counted apart: `7d12h` is 7 * 86400 + duration('12h').getSeconds(). The apiserver estimates the
 * cost of every rule; this form stays within budget (building a string with string(int) does not).
 */
export function celDurationSeconds(expr: string): string {
  const days = `${expr}.substring(0, ${expr}.indexOf('d'))`;
  const rest = `${expr}.substring(${expr}.indexOf('d') + 1)`;
  return (
    `(${expr}.contains('d') ? int(${days}) * 86400 + (${rest} == '' ? 0 : duration(${rest}).getSeconds()) ` +
    `: duration(${expr}).getSeconds())`
  );
}
