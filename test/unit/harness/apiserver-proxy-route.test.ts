import { describe, expect, it } from '@jest/globals';
import { routeOf } from '../../harness/apiserver-proxy.js';

describe('routeOf (the request-counting proxy)', () => {
  it('names the method and resource of core and group paths, without namespace, name or query', () => {
    expect(routeOf('GET', '/api/v1/namespaces/team-a/pods?labelSelector=app%3Dweb')).toBe('GET pods');
    expect(routeOf('GET', '/api/v1/nodes')).toBe('GET nodes');
    expect(routeOf('GET', '/api/v1/nodes/kwok-node-0')).toBe('GET nodes');
    expect(routeOf('PUT', '/apis/usage.kubeusage.dev/v1alpha1/namespaces/a/usagepolicies/web/status')).toBe(
      'PUT usagepolicies/status',
    );
    expect(routeOf('PATCH', '/apis/coordination.k8s.io/v1/namespaces/kuo/leases/kube-usage-operator')).toBe(
      'PATCH leases',
    );
    expect(routeOf('GET', '/api/v1/namespaces')).toBe('GET namespaces');
    expect(routeOf('GET', '/api/v1/namespaces/team-a')).toBe('GET namespaces');
  });

  it('tells watches from lists', () => {
    expect(routeOf('GET', '/api/v1/pods?resourceVersion=12&watch=true')).toBe('GET pods watch');
    expect(routeOf('GET', '/api/v1/pods?watch=1&allowWatchBookmarks=true')).toBe('GET pods watch');
    expect(routeOf('GET', '/api/v1/pods?watch=false')).toBe('GET pods');
  });

  it('keeps discovery and other paths whole', () => {
    expect(routeOf('GET', '/version')).toBe('GET /version');
    expect(routeOf('GET', '/apis/metrics.k8s.io/v1beta1')).toBe('GET /apis/metrics.k8s.io/v1beta1');
    expect(routeOf('GET', '/api')).toBe('GET /api');
  });
});
