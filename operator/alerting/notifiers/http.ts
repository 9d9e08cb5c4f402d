/** The one HTTP call the HTTP notifiers make: POST a JSON body, with a timeout. */
import { errorMessage } from '../../logging.js';
import { DeliveryError } from './notification.js';

export const DEFAULT_HTTP_TIMEOUT_MS = 10_000;

/**
 * POSTs `body` as JSON. Throws a DeliveryError on a network error, a timeout or a non-2xx
 * answer; 4xx answers other than 408 and 429 are not retryable. The error message names the
 * URL's origin only (webhook paths often embed a secret) and never the request headers.
 */
export async function postJson(
  url: string,
  body: unknown,
  options: { signal: AbortSignal; timeoutMs: number; headers?: Record<string, string> },
): Promise<void> {
  const where = `POST ${originOf(url)}`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...options.headers },
      body: JSON.stringify(body),
      signal: AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)]),
    });
  } catch (err) {
    throw new DeliveryError(`${where} failed: ${describeFetchError(err)}`, true);
  }
  if (response.ok) {
    await response.body?.cancel();
    return;
  }
  const text = (await response.text().catch(() => '')).slice(0, 200).trim();
  const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
  throw new DeliveryError(`${where} returned HTTP ${response.status}${text ? `: ${text}` : ''}`, retryable);
}

/** fetch's "fetch failed" with its cause ("connect ECONNREFUSED ..."); duck-typed, as errors may come from another realm. */
function describeFetchError(err: unknown): string {
  const { message, cause } = (err ?? {}) as { message?: unknown; cause?: { message?: unknown } };
  const text = typeof message === 'string' ? message : errorMessage(err);
  return typeof cause?.message === 'string' ? `${text}: ${cause.message}` : text;
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    throw new DeliveryError(`invalid receiver URL ${JSON.stringify(url)}`, false);
  }
}
