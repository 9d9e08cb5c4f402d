/** The one RFC 3339 formatter: whole seconds in UTC, as Kubernetes writes times ("2026-11-21T10:00:30Z"). */
export function formatTimestamp(time: number | Date): string {
  const ms = typeof time === 'number' ? time : time.getTime();
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}
