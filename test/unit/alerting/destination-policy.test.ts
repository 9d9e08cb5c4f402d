import { describe, expect, it } from '@jest/globals';
import {
  DestinationForbiddenError,
  DestinationPolicy,
  parseCidr,
} from '../../../operator/alerting/notifiers/destination-policy.js';

describe('DestinationPolicy', () => {
  const policy = new DestinationPolicy({
    podCidrs: ['11.0.0.0/16'],
    serviceCidrs: ['fd12::/108', '11.1.0.0/16'],
  });

  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.1.2', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['64:ff9b::a9fe:a9fe', 'link-local'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['10.0.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.0.1', 'private'],
    ['100.64.0.1', 'private'],
    ['fd00::1', 'private'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['224.0.0.251', 'multicast'],
    ['ff02::1', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['192.0.2.10', 'reserved'],
    ['11.0.9.9', 'cluster pod range'],
    ['11.1.0.10', 'cluster service range'],
    ['fd12::a', 'cluster service range'],
  ])('refuses %s (%s)', (address, addressClass) => {
    expect(policy.addressProblem(address)).toBe(addressClass);
  });

  it.each(['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c', '172.32.0.1', '11.2.0.1'])(
    'allows the public address %s',
    (address) => expect(policy.addressProblem(address)).toBeUndefined(),
  );

  it.each([
    ['localhost', 'loopback'],
    ['a.localhost', 'loopback'],
    ['kubernetes', 'in-cluster name'],
    ['kubernetes.default.svc', 'in-cluster name'],
    ['am.monitoring.svc.cluster.local', 'in-cluster name'],
    ['AM.Monitoring.SVC.Cluster.Local.', 'in-cluster name'],
    ['metadata.google.internal', 'in-cluster name'],
    ['[::1]', 'loopback'],
    ['169.254.169.254', 'link-local'],
  ])('refuses the host %s (%s)', (host, addressClass) => {
    expect(policy.hostProblem(host)).toBe(addressClass);
  });

  it('lets the admin allow CIDRs and exact host names, and nothing more', () => {
    const allowing = new DestinationPolicy({
      allow: ['127.0.0.0/8', 'alertmanager.monitoring.svc', '::1/128'],
    });
    expect(allowing.addressProblem('127.0.0.1')).toBeUndefined();
    expect(allowing.addressProblem('::1')).toBeUndefined();
    expect(allowing.addressProblem('10.0.0.1')).toBe('private');
    expect(allowing.hostProblem('alertmanager.monitoring.svc')).toBeUndefined();
    expect(allowing.hostProblem('other.monitoring.svc')).toBe('in-cluster name');
  });

  it('checks the addresses a name resolves to at connect time', async () => {
    // localhost resolves to loopback addresses: an allowed name pattern cannot launder them.
    const lookup = new DestinationPolicy().lookupFor('localhost');
    const error = await new Promise((resolve) => lookup('localhost', { all: true }, (err) => resolve(err)));
    expect(error).toBeInstanceOf(DestinationForbiddenError);
    expect((error as DestinationForbiddenError).addressClass).toBe('loopback');
    const allowed = new DestinationPolicy({ allow: ['127.0.0.0/8', '::1/128'] }).lookupFor('localhost');
    const address = await new Promise((resolve, reject) =>
      allowed('localhost', {}, (err, addr) => (err ? reject(err) : resolve(addr))),
    );
    expect(['127.0.0.1', '::1']).toContain(address);
  });

  it('parses CIDRs and rejects what is not one', () => {
    expect(parseCidr('10.0.0.0/8')).toEqual({ address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    expect(parseCidr('::1')).toEqual({ address: '::1', prefix: 128, family: 'ipv6' });
    expect(() => parseCidr('10.0.0.0/33')).toThrow('the prefix length must be 0 to 32');
    expect(() => parseCidr('example.com/8')).toThrow('is not an IP address or CIDR');
  });
});
