/** The HTTP status of a failed Kubernetes API call (client-node's ApiException carries it as `code`). */
function apiStatusCode(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { code, statusCode } = err as { code?: unknown; statusCode?: unknown };
  if (typeof code === 'number') return code;
  if (typeof statusCode === 'number') return statusCode;
  return undefined;
}

/** 409: someone else changed the object first (optimistic concurrency) or it already exists. */
export function isConflict(err: unknown): boolean {
  return apiStatusCode(err) === 409;
}

export function isNotFound(err: unknown): boolean {
  return apiStatusCode(err) === 404;
}

/** 410: the requested resourceVersion is too old; list again. */
export function isGone(err: unknown): boolean {
  return apiStatusCode(err) === 410;
}
