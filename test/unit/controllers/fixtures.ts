/** Fakes at the controllers' boundaries: the informer cache plus the apiserver's status subresource. */
import type { StatusPatcher } from '../../../operator/runtime/status-writer.js';

export interface StoredObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    namespace: string;
    name: string;
    uid?: string;
    generation?: number;
    resourceVersion?: string;
    creationTimestamp?: string;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function applyMergePatch(target: Json | undefined, patch: Json): Json {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const base = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete base[key];
    else base[key] = applyMergePatch(base[key], value);
  }
  return base;
}

/**
 * Objects of one kind as the apiserver keeps them and the informer cache shows them at once:
 * status merge patches with a resourceVersion precondition (409 on a stale one).
 */
export class ObjectStore<T extends StoredObject> implements StatusPatcher {
  private readonly objects = new Map<string, T>();
  private version = 100;
  /** Runs before a status patch is applied (a test can act "during" the write). */
  beforePatch?: () => void;
  /** Runs after a status patch was applied. */
  afterPatch?: () => void;
  patches = 0;

  put(object: T): T {
    const stored = structuredClone(object);
    stored.metadata.resourceVersion = String(++this.version);
    stored.metadata.generation ??= 1;
    this.objects.set(`${stored.metadata.namespace}/${stored.metadata.name}`, stored);
    return stored;
  }

  get(namespace: string, name: string): T | undefined {
    return this.objects.get(`${namespace}/${name}`);
  }

  list(namespace?: string): T[] {
    return [...this.objects.values()].filter(
      (o) => namespace === undefined || o.metadata.namespace === namespace,
    );
  }

  delete(namespace: string, name: string): void {
    this.objects.delete(`${namespace}/${name}`);
  }

  async patchStatus(namespace: string, name: string, patch: Record<string, unknown>): Promise<void> {
    this.beforePatch?.();
    const current = this.get(namespace, name);
    if (!current) throw Object.assign(new Error('not found'), { code: 404 });
    const expected = (patch.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
    if (expected !== undefined && expected !== current.metadata.resourceVersion)
      throw Object.assign(new Error('the object has been modified'), { code: 409 });
    const status = applyMergePatch(current.status as Json, (patch.status ?? {}) as Json);
    this.patches++;
    this.objects.set(`${namespace}/${name}`, {
      ...current,
      status: status as Record<string, unknown>,
      metadata: { ...current.metadata, resourceVersion: String(++this.version) },
    });
    this.afterPatch?.();
  }
}

export interface ConditionView {
  type: string;
  status: string;
  reason: string;
  message: string;
}

export function conditionsOf(object: StoredObject | undefined): ConditionView[] {
  return (object?.status?.conditions as ConditionView[] | undefined) ?? [];
}

export function conditionOf(object: StoredObject | undefined, type: string): ConditionView | undefined {
  return conditionsOf(object).find((c) => c.type === type);
}
