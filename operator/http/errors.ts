import { STATUS_CODES } from 'node:http';

/** The body of every error response: a CamelCase reason, a sentence, and the offending field if any. */
export interface ErrorBody {
  error: string;
  message: string;
  field?: string;
}

/** An error meant for the caller: its status and message are sent as they are. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly field?: string,
    /** Response headers, e.g. Retry-After. */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toBody(): ErrorBody {
    return errorBody(this.statusCode, this.message, this.field);
  }
}

export function badRequest(message: string, field?: string): ApiError {
  return new ApiError(400, message, field);
}

export function errorBody(statusCode: number, message: string, field?: string): ErrorBody {
  return { error: reason(statusCode), message, ...(field === undefined ? {} : { field }) };
}

/** `404` -> `NotFound`, `503` -> `ServiceUnavailable`, like Kubernetes' status reasons. */
function reason(statusCode: number): string {
  if (statusCode === 500) return 'InternalError';
  return (STATUS_CODES[statusCode] ?? 'Error').replace(/[^A-Za-z]/g, '');
}
