/**
 * The two Kubernetes reviews the HTTP API relies on, as small interfaces. The implementations
 * (TokenReview and SubjectAccessReview through client-node) live in operator/runtime.
 */

/** The caller as the apiserver's TokenReview reports it. */
export interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

export interface TokenReviewResult {
  authenticated: boolean;
  user?: UserInfo;
}

export interface TokenReviewer {
  /** Rejects only when the review itself fails (apiserver unreachable), never for a bad token. */
  review(token: string): Promise<TokenReviewResult>;
}

/** The resource attributes of a SubjectAccessReview. No namespace means cluster-wide. */
export interface ResourceAttributes {
  verb: string;
  resource: string;
  group?: string;
  namespace?: string;
  subresource?: string;
  /** One object by name (e.g. the node of `nodes/stats`); all objects when absent. */
  name?: string;
}

/** A non-resource URL of a SubjectAccessReview, e.g. `get` on `/metrics` (as kube-rbac-proxy checks). */
export interface NonResourceAttributes {
  verb: string;
  path: string;
}

export interface AccessReviewer {
  /** Rejects only when the review itself fails, never for a denial. */
  canI(user: UserInfo, attrs: ResourceAttributes | NonResourceAttributes): Promise<boolean>;
}

export function isNonResource(
  attrs: ResourceAttributes | NonResourceAttributes,
): attrs is NonResourceAttributes {
  return 'path' in attrs;
}
