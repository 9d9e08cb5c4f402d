import { createHash } from 'node:crypto';
import type { Clock } from '../model.js';
import { errorMessage, type Logger } from '../logging.js';
import {
  isNonResource,
  type AccessReviewer,
  type NonResourceAttributes,
  type ResourceAttributes,
  type TokenReviewer,
  type UserInfo,
} from './auth-types.js';
import { ApiError } from './errors.js';
import { ExpiringCache } from './expiring-cache.js';
import { TokenReviewLimiter } from './token-review-limiter.js';

export interface AccessControlOptions {
  clock: Clock;
  /** How long a TokenReview result is reused (default 10 s). */
  tokenTtlMs?: number;
  /** How long a SubjectAccessReview result is reused (default 10 s). */
  accessTtlMs?: number;
  /** How long a token the apiserver refused is refused without asking again (default 5 s). */
  negativeTtlMs?: number;
  /** Bound on each cache (default 1000 valid tokens, 10000 refused ones, 10000 access decisions). */
  maxTokens?: number;
  maxRefusedTokens?: number;
  maxDecisions?: number;
  /** TokenReviews of tokens not in a cache: a sustained rate and a burst (default 20/s, 50). */
  tokenReviewsPerSecond?: number;
  tokenReviewBurst?: number;
  /** TokenReviews in flight at once (default 10): a slow apiserver does not pile them up. */
  maxConcurrentReviews?: number;
  /** Counts TokenReviews made, by result. */
  onTokenReview?: (result: 'authenticated' | 'refused' | 'error' | 'rate-limited') => void;
  logger?: Logger;
}

const BEARER = /^Bearer +([^\s]+)\s*$/i;

/** The bodies unauthenticated callers get: never the apiserver's words. */
export const UNAUTHENTICATED = 'a valid bearer token is required (Authorization: Bearer <token>)';
export const AUTH_UNAVAILABLE = 'authentication is unavailable at the moment; retry later';

/**
 * Authentication by TokenReview of the caller's bearer token and authorization by
 * SubjectAccessReview, both cached briefly so that a busy client does not cost an apiserver
 * round trip per request. Tokens are cached under their SHA-256, never in clear.
 *
 * Unknown tokens cannot be used to load the apiserver or to push good tokens out: refused
 * tokens live in a cache of their own (a short time), and TokenReviews of tokens in neither
 * cache are rate-limited (over the limit: 429 with Retry-After). Errors from the apiserver go
 * to the log; callers get a generic 401 or 503.
 */
export class AccessControl {
  private readonly tokens: ExpiringCache<UserInfo>;
  private readonly refused: ExpiringCache<true>;
  private readonly reviewing = new Map<string, Promise<UserInfo | undefined>>();
  private readonly decisions: ExpiringCache<boolean>;
  private readonly reviews: TokenReviewLimiter;

  constructor(
    private readonly tokenReviewer: TokenReviewer,
    private readonly accessReviewer: AccessReviewer,
    private readonly options: AccessControlOptions,
  ) {
    this.tokens = new ExpiringCache(options.clock, options.tokenTtlMs ?? 10_000, options.maxTokens ?? 1000);
    this.refused = new ExpiringCache(
      options.clock,
      options.negativeTtlMs ?? 5_000,
      options.maxRefusedTokens ?? 10_000,
    );
    this.decisions = new ExpiringCache(
      options.clock,
      options.accessTtlMs ?? 10_000,
      options.maxDecisions ?? 10_000,
    );
    this.reviews = new TokenReviewLimiter(
      options.clock,
      options.tokenReviewsPerSecond ?? 20,
      options.tokenReviewBurst ?? 50,
    );
  }

  /** The caller behind an `Authorization` header; 401 without a valid bearer token. */
  async authenticate(authorization: string | undefined): Promise<UserInfo> {
    const token = authorization ? BEARER.exec(authorization)?.[1] : undefined;
    if (!token) throw new ApiError(401, UNAUTHENTICATED);
    const key = createHash('sha256').update(token).digest('hex');
    const cached = this.tokens.get(key);
    if (cached) return cached;
    if (this.refused.get(key)) throw new ApiError(401, UNAUTHENTICATED);
    let pending = this.reviewing.get(key);
    if (!pending) {
      if (this.reviewing.size >= (this.options.maxConcurrentReviews ?? 10) || !this.reviews.take()) {
        this.options.onTokenReview?.('rate-limited');
        throw new ApiError(429, 'too many new tokens to review at the moment; retry shortly', undefined, {
          'retry-after': '1',
        });
      }
      pending = this.review(key, token);
      this.reviewing.set(key, pending);
      void pending.finally(() => this.reviewing.delete(key)).catch(() => undefined);
    }
    const user = await pending;
    if (!user) throw new ApiError(401, UNAUTHENTICATED);
    return user;
  }

  private async review(key: string, token: string): Promise<UserInfo | undefined> {
    let result;
    try {
      result = await this.tokenReviewer.review(token);
    } catch (err) {
      this.options.onTokenReview?.('error');
      this.options.logger?.warn('TokenReview failed', { error: errorMessage(err) });
      throw new ApiError(503, AUTH_UNAVAILABLE);
    }
    if (result.authenticated && result.user) {
      this.options.onTokenReview?.('authenticated');
      this.tokens.set(key, result.user);
      return result.user;
    }
    this.options.onTokenReview?.('refused');
    this.refused.set(key, true);
    return undefined;
  }

  /** Whether the user may act as `attrs` say; rejects with a 503 when the review cannot be made. */
  canI(user: UserInfo, attrs: ResourceAttributes | NonResourceAttributes): Promise<boolean> {
    const what = isNonResource(attrs)
      ? ['nonResource', attrs.verb, attrs.path]
      : [
          attrs.verb,
          attrs.group ?? '',
          attrs.resource,
          attrs.subresource ?? '',
          attrs.namespace ?? '',
          attrs.name ?? '',
        ];
    const key = JSON.stringify([
      user.username,
      user.uid ?? '',
      [...user.groups].sort(),
      Object.entries(user.extra ?? {}).sort(([a], [b]) => a.localeCompare(b)),
      ...what,
    ]);
    return this.decisions.getOrLoad(key, () =>
      this.accessReviewer.canI(user, attrs).catch((err: unknown) => {
        this.options.logger?.warn('SubjectAccessReview failed', { error: errorMessage(err) });
        throw new ApiError(503, 'authorization is unavailable at the moment; retry later');
      }),
    );
  }

  /** Throws a 403 naming the user and the permission it lacks. */
  async authorize(user: UserInfo, attrs: ResourceAttributes | NonResourceAttributes): Promise<void> {
    if (!(await this.canI(user, attrs))) throw new ApiError(403, forbiddenMessage(user, attrs));
  }
}

/** `get pods` in the namespace for one pod's data. */
export function podPermission(namespace: string): ResourceAttributes {
  return { verb: 'get', resource: 'pods', namespace };
}

/** `list pods` in the namespace asked for, or cluster-wide when none is. */
export function listPermission(namespace: string | undefined): ResourceAttributes {
  return namespace === undefined
    ? { verb: 'list', resource: 'pods' }
    : { verb: 'list', resource: 'pods', namespace };
}

/** Worded like the apiserver's own denials, so that people recognise what RBAC rule is missing. */
function forbiddenMessage(user: UserInfo, attrs: ResourceAttributes | NonResourceAttributes): string {
  if (isNonResource(attrs)) return `User "${user.username}" cannot ${attrs.verb} path "${attrs.path}"`;
  const resource = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
  const scope = attrs.namespace ? `in the namespace "${attrs.namespace}"` : 'at the cluster scope';
  return `User "${user.username}" cannot ${attrs.verb} resource "${resource}" in API group "${attrs.group ?? ''}" ${scope}`;
}
