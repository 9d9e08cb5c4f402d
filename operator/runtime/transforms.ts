/**
 * Informer transforms (see {@link InformerOptions.transform}): what is kept of an object as it
 * arrives. The operator never reads `metadata.managedFields` (often the largest part of a small
 * object) nor kubectl's last-applied-configuration annotation (a second copy of the object).
 */
import type { KubeObject } from './informer.js';

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

interface ServedMetadata {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: string | Date;
  managedFields?: unknown;
}

/** The object without managedFields and the last-applied annotation; the rest is kept as served. */
export function withoutManagedFields<T extends KubeObject>(object: T): T {
  const served = object.metadata as ServedMetadata | undefined;
  if (!served) return object;
  const { managedFields: _managed, annotations, ...metadata } = served;
  const kept = annotations && Object.entries(annotations).filter(([key]) => key !== LAST_APPLIED);
  return {
    ...object,
    metadata: { ...metadata, ...(kept && kept.length > 0 && { annotations: Object.fromEntries(kept) }) },
  };
}

/** What is kept of an object of which the operator reads only its identity, labels and creation time. */
export interface ObjectIdentity {
  metadata: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    creationTimestamp?: string;
  };
}

/** Keeps name, namespace, uid, resourceVersion, labels and creationTimestamp (as a string). */
export function identityAndLabels(object: KubeObject): ObjectIdentity {
  const { name, namespace, uid, resourceVersion, labels, creationTimestamp } = (object.metadata ??
    {}) as ServedMetadata;
  const created = creationTimestamp instanceof Date ? creationTimestamp.toISOString() : creationTimestamp;
  return {
    metadata: {
      ...(name !== undefined && { name }),
      ...(namespace !== undefined && { namespace }),
      ...(uid !== undefined && { uid }),
      ...(resourceVersion !== undefined && { resourceVersion }),
      ...(labels !== undefined && { labels }),
      ...(created !== undefined && { creationTimestamp: created }),
    },
  };
}
