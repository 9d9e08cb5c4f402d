import { createHash } from 'node:crypto';
import type { Clock } from '../model.js';
import { errorMessage } from '../logging.js';
import type { AccessReviewer, ResourceAttributes, TokenReviewer, UserInfo } from './auth-types.js';
import { ApiError } from './errors.js';
import { ExpiringCache } from './expiring-cache.js';

export interface AccessControlOptions {
  clock: Clock;
  /** How long a TokenReview result is reused (default 10 s). */
  tokenTtlMs?: number;
  /** How long a SubjectAccessReview result is reused (default 10 s). */
  accessTtlMs?: number;
  /** Bound on each cache (default 1000 tokens, 10000 access decisions). */
  maxTokens?: number;
  maxDecisions?: number;
}

const BEARER = /^Bearer +([^\s]+)\s*$/i;

/**
 * Authentication by TokenReview of the caller's bearer token and authorization by
 * SubjectAccessReview, both cached briefly so that a busy client does not cost an apiserver
 * round trip per request. Tokens are cached under their SHA-256, never in clear.
 */
export class AccessControl {
  private readonly tokens: ExpiringCache<UserInfo | undefined>;
  private readonly decisions: ExpiringCache<boolean>;

  constructor(
    private readonly tokenReviewer: TokenReviewer,
    private readonly accessReviewer: AccessReviewer,
    options: AccessControlOptions,
  ) {
    this.tokens = new ExpiringCache(options.clock, options.tokenTtlMs ?? 10_000, options.maxTokens ?? 1000);
    this.decisions = new ExpiringCache(
      options.clock,
      options.accessTtlMs ?? 10_000,
      options.maxDecisions ?? 10_000,
    );
  }

  /** The caller behind an `Authorization` header; 401 without a valid bearer token. */
  async authenticate(authorization: string | undefined): Promise<UserInfo> {
    if (!authorization) throw new ApiError(401, 'a bearer token is required (Authorization: Bearer <token>)');
    const token = BEARER.exec(authorization)?.[1];
    if (!token) throw new ApiError(401, 'the Authorization header must be "Bearer <token>"');
    const key = createHash('sha256').update(token).digest('hex');
    const user = await this.tokens.getOrLoad(key, async () => {
      const result = await this.tokenReviewer.review(token).catch((err: unknown) => {
        throw new ApiError(503, `cannot review the token: ${errorMessage(err)}`);
      });
      return result.authenticated ? result.user : undefined;
    });
    if (!user) throw new ApiError(401, 'the bearer token is not valid');
    return user;
  }

  /** Whether the user may act as `attrs` say; rejects with a 503 when the review cannot be made. */
  canI(user: UserInfo, attrs: ResourceAttributes): Promise<boolean> {
    const key = JSON.stringify([
      user.username,
      user.uid ?? '',
      [...user.groups].sort(),
      Object.entries(user.extra ?? {}).sort(([a], [b]) => a.localeCompare(b)),
      attrs.verb,
      attrs.group ?? '',
      attrs.resource,
      attrs.subresource ?? '',
      attrs.namespace ?? '',
    ]);
    return this.decisions.getOrLoad(key, () =>
      this.accessReviewer.canI(user, attrs).catch((err: unknown) => {
        throw new ApiError(503, `cannot review access: ${errorMessage(err)}`);
      }),
    );
  }

  /** Throws a 403 naming the user and the permission it lacks. */
  async authorize(user: UserInfo, attrs: ResourceAttributes): Promise<void> {
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
function forbiddenMessage(user: UserInfo, attrs: ResourceAttributes): string {
  const resource = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
  const scope = attrs.namespace ? `in the namespace "${attrs.namespace}"` : 'at the cluster scope';
  return `User "${user.username}" cannot ${attrs.verb} resource "${resource}" in API group "${attrs.group ?? ''}" ${scope}`;
}
