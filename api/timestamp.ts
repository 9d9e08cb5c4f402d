/**
 * The project's RFC 3339 formatters, both in UTC with a `Z`:
 * - formatTimestamp: whole seconds, as Kubernetes writes times (status, conditions, Events);
 * - formatInstant: with milliseconds, for the HTTP API's sample times and Alertmanager's endsAt,
 *   where a sample time is exact to the millisecond and rounding would move it.
 */
export function formatTimestamp(time: number | Date): string {
  return `${formatInstant(time).slice(0, 19)}Z`;
}

/** "2026-11-21T10:00:30.250Z". */
export function formatInstant(time: number | Date): string {
  return new Date(typeof time === 'number' ? time : time.getTime()).toISOString();
}
