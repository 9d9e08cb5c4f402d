import { isDeepStrictEqual } from 'node:util';
import { setCondition, type Condition } from '../../api/v1alpha1/conditions.js';
import { systemClock, type Clock } from '../model.js';

/** A condition as a controller computes it; the writer fills in a missing lastTransitionTime. */
export type DesiredCondition = Omit<Condition, 'lastTransitionTime'> & { lastTransitionTime?: string };

/** The whole status a controller wants the object to have. */
export type DesiredStatus = Record<string, unknown> & { conditions?: readonly DesiredCondition[] };

/** The object as last observed (from the informer cache). */
export interface StatusObject {
  metadata: { namespace?: string; name?: string; resourceVersion?: string };
  status?: Record<string, unknown>;
}

/** Sends a JSON merge patch to the `/status` subresource of one object. A 409 must reject. */
export interface StatusPatcher {
  patchStatus(namespace: string, name: string, patch: Record<string, unknown>): Promise<void>;
}

/**
 * Where a controller's reconciler writes an object's status ({@link StatusWriter}, or a fake in
 * tests). Returns whether a patch was sent.
 */
export interface StatusSink {
  write(object: StatusObject, desired: DesiredStatus, signal?: AbortSignal): Promise<boolean>;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface StatusWriterOptions {
  clock?: Clock;
  /**
   * The condition types this writer owns. Conditions of other types (written by other tools)
   * are kept as they are, where they are; a type owned here but not desired is removed.
   */
  ownedConditionTypes?: readonly string[];
}

/**
 * Writes the status of objects of one kind, only when it differs from what the object has.
 * The patch carries the observed resourceVersion, so a status computed from a stale object is
 * refused with a 409 (requeue and compute again) instead of overwriting a newer one; for the
 * same reason a condition another writer added meanwhile is never erased by the list we send.
 */
export class StatusWriter implements StatusSink {
  private readonly clock: Clock;
  private readonly owned?: ReadonlySet<string>;

  constructor(
    private readonly patcher: StatusPatcher,
    options: StatusWriterOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    if (options.ownedConditionTypes) this.owned = new Set(options.ownedConditionTypes);
  }

  /**
   * Makes `desired` the object's status. Conditions keep their lastTransitionTime while their
   * status is unchanged. Returns whether a patch was sent: nothing is sent when the status is
   * already right, or when `signal` has aborted (the caller no longer leads).
   */
  async write(object: StatusObject, desired: DesiredStatus, signal?: AbortSignal): Promise<boolean> {
    const { namespace, name, resourceVersion } = object.metadata;
    if (!namespace || !name) throw new Error('status write needs metadata.namespace and metadata.name');
    const current = (object.status ?? {}) as Json;
    const next = desiredWithTransitionTimes(object.status, desired, new Date(this.clock.now()), this.owned);
    const statusPatch = mergePatch(current, next);
    if (statusPatch === undefined || signal?.aborted) return false;
    const patch: Record<string, unknown> = { status: statusPatch };
    if (resourceVersion) patch.metadata = { resourceVersion };
    await this.patcher.patchStatus(namespace, name, patch);
    return true;
  }
}

/**
 * `desired` as plain JSON. A condition without a lastTransitionTime keeps the current one while
 * its status is unchanged, and gets `now` when it changes (setCondition).
 */
function desiredWithTransitionTimes(
  current: Record<string, unknown> | undefined,
  desired: DesiredStatus,
  now: Date,
  owned: ReadonlySet<string> | undefined,
): Json {
  const status = JSON.parse(JSON.stringify(desired)) as { [key: string]: Json };
  if (desired.conditions) {
    const currentConditions = Array.isArray(current?.conditions) ? (current.conditions as Condition[]) : [];
    const ours = desired.conditions.map((condition) =>
      condition.lastTransitionTime
        ? condition
        : setCondition(currentConditions, condition, now).find((c) => c.type === condition.type)!,
    );
    const conditions = owned ? withForeignConditions(currentConditions, ours, owned) : ours;
    status.conditions = JSON.parse(JSON.stringify(conditions)) as Json;
  }
  return status;
}

/**
 * The current list with our conditions set: foreign ones (types not owned here) stay in place,
 * ours replace theirs in place or are appended, and owned types no longer desired are removed.
 */
function withForeignConditions(
  current: readonly Condition[],
  ours: readonly DesiredCondition[],
  owned: ReadonlySet<string>,
): DesiredCondition[] {
  const byType = new Map(ours.map((condition) => [condition.type, condition]));
  const result: DesiredCondition[] = [];
  for (const condition of current) {
    const mine = byType.get(condition.type);
    if (mine) {
      result.push(mine);
      byType.delete(condition.type);
    } else if (!owned.has(condition.type)) {
      result.push(condition);
    }
  }
  return [...result, ...byType.values()];
}

/**
 * The JSON merge patch (RFC 7386) that turns `from` into `to`, or `undefined` when they are
 * equal. Keys missing from `to` are removed (null); lists are replaced whole.
 */
export function mergePatch(from: Json, to: Json): Json | undefined {
  if (!isObject(from) || !isObject(to)) return isDeepStrictEqual(from, to) ? undefined : to;
  const patch: { [key: string]: Json } = {};
  for (const key of Object.keys(from)) if (!(key in to)) patch[key] = null;
  for (const [key, value] of Object.entries(to)) {
    const change = key in from ? mergePatch(from[key]!, value) : value;
    if (change !== undefined) patch[key] = change;
  }
  return Object.keys(patch).length > 0 ? patch : undefined;
}

function isObject(value: Json): value is { [key: string]: Json } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
