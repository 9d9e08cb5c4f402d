import { describe, expect, it } from '@jest/globals';
import { identityAndLabels, withoutManagedFields } from '../../../operator/runtime/transforms.js';

const managedFields = [{ manager: 'kubectl', operation: 'Apply', fieldsV1: { 'f:spec': {} } }];

describe('withoutManagedFields', () => {
  it('drops managedFields and the last-applied annotation, keeps the rest as served', () => {
    const policy = {
      apiVersion: 'usage.kubeusage.dev/v1alpha1',
      kind: 'UsagePolicy',
      metadata: {
        name: 'p',
        namespace: 'shop',
        uid: 'u1',
        resourceVersion: '7',
        generation: 3,
        creationTimestamp: '2026-11-21T10:00:00Z',
        labels: { team: 'a' },
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"big":1}', note: 'kept' },
        managedFields,
      },
      spec: { interval: '15s' },
      status: { conditions: [] },
    };
    const kept = withoutManagedFields(policy);
    expect(kept).toEqual({
      ...policy,
      metadata: {
        name: 'p',
        namespace: 'shop',
        uid: 'u1',
        resourceVersion: '7',
        generation: 3,
        creationTimestamp: '2026-11-21T10:00:00Z',
        labels: { team: 'a' },
        annotations: { note: 'kept' },
      },
    });
    expect(policy.metadata.managedFields).toBe(managedFields); // the served object is not changed
  });

  it('leaves no annotations when the last-applied one was the only one', () => {
    const kept = withoutManagedFields({
      metadata: { name: 'p', annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' } },
    });
    expect(kept).toEqual({ metadata: { name: 'p' } });
  });
});

describe('identityAndLabels', () => {
  it('keeps name, uid, resourceVersion, labels and the creation time of a namespace as served', () => {
    const served = {
      kind: 'PartialObjectMetadata',
      apiVersion: 'meta.k8s.io/v1',
      metadata: {
        name: 'shop',
        uid: 'u1',
        resourceVersion: '9',
        creationTimestamp: '2026-11-21T10:00:00Z',
        labels: { 'kubernetes.io/metadata.name': 'shop', team: 'a' },
        annotations: { a: 'b' },
        managedFields,
      },
    };
    expect(identityAndLabels(served)).toEqual({
      metadata: {
        name: 'shop',
        uid: 'u1',
        resourceVersion: '9',
        creationTimestamp: '2026-11-21T10:00:00Z',
        labels: { 'kubernetes.io/metadata.name': 'shop', team: 'a' },
      },
    });
  });
});
