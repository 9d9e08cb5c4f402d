/**
 * Where tenant webhooks may be sent. A ResourceAlert is written by a namespace user, and the
 * operator sends its webhook from inside the cluster: without a policy anyone who may create an
 * alert could make the operator POST to the cloud metadata service, to other tenants' Services
 * or to the apiserver. By default every destination that is not a public address is refused:
 * loopback, link-local, private and shared ranges, multicast and reserved ranges, the
 * cluster's pod and Service ranges, and in-cluster names (`*.svc`, `*.cluster.local`,
 * single-label names). The admin allows exceptions (their own receivers, the test and demo
 * environments' 127.0.0.1) by CIDR or exact host name in the operator's configuration.
 *
 * The check runs on the address a connection is actually made to (see http.ts: the HTTP
 * request's DNS lookup goes through {@link DestinationPolicy.lookup}), so a name that resolves
 * to a public address when the alert is created and to 10.0.0.1 later is refused then.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';

export type AddressClass =
  | 'loopback'
  | 'link-local'
  | 'private'
  | 'unspecified'
  | 'multicast'
  | 'reserved'
  | 'cluster pod range'
  | 'cluster service range'
  | 'in-cluster name';

export interface DestinationPolicyOptions {
  /** CIDRs (e.g. 127.0.0.0/8, 10.20.0.0/16) and exact host names allowed despite the defaults. */
  allow?: readonly string[];
  /** The cluster's pod CIDRs: refused (they are usually private too; listed for clusters that use public ranges). */
  podCidrs?: readonly string[];
  serviceCidrs?: readonly string[];
  /** The cluster's DNS domain (default cluster.local). */
  clusterDomain?: string;
}

/** A refused destination: the class of address and what to do about it. */
export class DestinationForbiddenError extends Error {
  override name = 'DestinationForbiddenError';
  constructor(readonly addressClass: AddressClass) {
    super(`destination forbidden (${addressClass})`);
  }
}

const DEFAULT_DENIED: [AddressClass, string, number, 'ipv4' | 'ipv6'][] = [
  ['unspecified', '0.0.0.0', 8, 'ipv4'],
  ['private', '10.0.0.0', 8, 'ipv4'],
  ['private', '100.64.0.0', 10, 'ipv4'], // shared address space (carrier-grade NAT)
  ['loopback', '127.0.0.0', 8, 'ipv4'],
  ['link-local', '169.254.0.0', 16, 'ipv4'],
  ['private', '172.16.0.0', 12, 'ipv4'],
  ['reserved', '192.0.0.0', 24, 'ipv4'],
  ['reserved', '192.0.2.0', 24, 'ipv4'],
  ['private', '192.168.0.0', 16, 'ipv4'],
  ['reserved', '198.18.0.0', 15, 'ipv4'],
  ['reserved', '198.51.100.0', 24, 'ipv4'],
  ['reserved', '203.0.113.0', 24, 'ipv4'],
  ['multicast', '224.0.0.0', 4, 'ipv4'],
  ['reserved', '240.0.0.0', 4, 'ipv4'],
  ['unspecified', '::', 128, 'ipv6'],
  ['loopback', '::1', 128, 'ipv6'],
  ['reserved', '64:ff9b:1::', 48, 'ipv6'],
  ['reserved', '100::', 64, 'ipv6'],
  ['reserved', '2001:db8::', 32, 'ipv6'],
  ['private', 'fc00::', 7, 'ipv6'],
  ['link-local', 'fe80::', 10, 'ipv6'],
  ['reserved', 'fec0::', 10, 'ipv6'],
  ['multicast', 'ff00::', 8, 'ipv6'],
];

/** Parses `a.b.c.d/n` or `x::y/n`; throws with a readable message. */
export function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } {
  const slash = text.lastIndexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const version = isIP(address);
  if (version === 0) throw new Error(`"${text}" is not an IP address or CIDR`);
  const max = version === 4 ? 32 : 128;
  const prefix = slash < 0 ? max : Number(text.slice(slash + 1));
  if (
    !Number.isInteger(prefix) ||
    prefix < 0 ||
    prefix > max ||
    (slash >= 0 && !/^\d+$/.test(text.slice(slash + 1)))
  )
    throw new Error(`"${text}": the prefix length must be 0 to ${max}`);
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

function isCidrLike(text: string): boolean {
  const slash = text.lastIndexOf('/');
  return isIP(slash < 0 ? text : text.slice(0, slash)) !== 0;
}

export class DestinationPolicy {
  private readonly allowedAddresses = new BlockList();
  private readonly allowedHosts: Set<string>;
  private readonly denied: { list: BlockList; addressClass: AddressClass }[] = [];
  private readonly clusterDomain: string;

  constructor(options: DestinationPolicyOptions = {}) {
    this.allowedHosts = new Set();
    for (const entry of options.allow ?? []) {
      if (isCidrLike(entry)) {
        const { address, prefix, family } = parseCidr(entry);
        this.allowedAddresses.addSubnet(address, prefix, family);
      } else this.allowedHosts.add(normalizeHost(entry));
    }
    const byClass = new Map<AddressClass, BlockList>();
    const deny = (addressClass: AddressClass, address: string, prefix: number, family: 'ipv4' | 'ipv6') => {
      let list = byClass.get(addressClass);
      if (!list) {
        byClass.set(addressClass, (list = new BlockList()));
        this.denied.push({ list, addressClass });
      }
      list.addSubnet(address, prefix, family);
    };
    // Cluster ranges first, so that their (more telling) class is reported.
    for (const cidr of options.podCidrs ?? []) {
      const { address, prefix, family } = parseCidr(cidr);
      deny('cluster pod range', address, prefix, family);
    }
    for (const cidr of options.serviceCidrs ?? []) {
      const { address, prefix, family } = parseCidr(cidr);
      deny('cluster service range', address, prefix, family);
    }
    for (const [addressClass, address, prefix, family] of DEFAULT_DENIED)
      deny(addressClass, address, prefix, family);
    this.clusterDomain = normalizeHost(options.clusterDomain ?? 'cluster.local');
  }

  /** Allows everything: for notifiers whose destination is the admin's own (Alertmanager). */
  static unrestricted(): DestinationPolicy {
    return new DestinationPolicy({ allow: ['0.0.0.0/0', '::/0'] });
  }

  /** Whether a host name may be sent to at all (its addresses are checked at connect time). */
  hostProblem(hostname: string): AddressClass | undefined {
    const host = normalizeHost(hostname);
    if (this.allowedHosts.has(host)) return undefined;
    const literal = unbracket(host);
    if (isIP(literal) !== 0) return this.addressProblem(literal);
    if (host === 'localhost' || host.endsWith('.localhost')) return 'loopback';
    if (
      !host.includes('.') ||
      host.endsWith('.svc') ||
      host === this.clusterDomain ||
      host.endsWith(`.${this.clusterDomain}`) ||
      host.endsWith('.internal') ||
      host.endsWith('.local')
    )
      return 'in-cluster name';
    return undefined;
  }

  /** The class of a refused IP address, or undefined when it may be connected to. */
  addressProblem(address: string): AddressClass | undefined {
    const version = isIP(address);
    if (version === 0) return 'reserved';
    const family = version === 4 ? 'ipv4' : 'ipv6';
    const embedded = version === 6 ? embeddedIpv4(address) : undefined;
    if (this.allowedAddresses.check(address, family)) return undefined;
    if (embedded !== undefined) return this.addressProblem(embedded);
    for (const { list, addressClass } of this.denied) if (list.check(address, family)) return addressClass;
    return undefined;
  }

  /** Whether names of this host skip the address check (an allowed host name). */
  isAllowedHost(hostname: string): boolean {
    return this.allowedHosts.has(normalizeHost(hostname));
  }

  /**
   * A `lookup` for http.request / net.connect: resolves the name, and answers only addresses
   * the policy allows (the connection is then made to exactly that address), or fails with a
   * DestinationForbiddenError naming the class of the first refused one.
   */
  lookupFor(hostname: string): typeof dnsLookup {
    const skip = this.isAllowedHost(hostname);
    const lookup = (host: string, options: unknown, callback: unknown) => {
      const cb = (typeof options === 'function' ? options : callback) as (
        err: NodeJS.ErrnoException | null,
        address: string | LookupAddress[],
        family?: number,
      ) => void;
      const opts = (typeof options === 'object' && options !== null ? options : {}) as {
        all?: boolean;
        family?: number;
      };
      dnsLookup(host, { all: true, ...(opts.family ? { family: opts.family } : {}) }, (err, addresses) => {
        if (err) return cb(err, []);
        let refused: AddressClass | undefined;
        const allowed = addresses.filter((a) => {
          const problem = skip ? undefined : this.addressProblem(a.address);
          refused ??= problem;
          return problem === undefined;
        });
        // Any refused address refuses the name: a receiver is public or it is not.
        if (refused !== undefined || allowed.length === 0)
          return cb(new DestinationForbiddenError(refused ?? 'reserved') as NodeJS.ErrnoException, []);
        if (opts.all) cb(null, allowed);
        else cb(null, allowed[0]!.address, allowed[0]!.family);
      });
    };
    return lookup as unknown as typeof dnsLookup;
  }

  /** Resolves a host now and reports the first refused class (for a status condition before any delivery). */
  async check(hostname: string): Promise<AddressClass | undefined> {
    const problem = this.hostProblem(hostname);
    if (
      problem !== undefined ||
      this.isAllowedHost(hostname) ||
      isIP(unbracket(normalizeHost(hostname))) !== 0
    )
      return problem;
    return new Promise((resolve) => {
      this.lookupFor(hostname)(hostname, { all: true }, (err) => {
        resolve(err instanceof DestinationForbiddenError ? err.addressClass : undefined);
      });
    });
  }
}

function normalizeHost(host: string): string {
  return host.trim().toLowerCase().replace(/\.$/, '');
}

function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible or NAT64 (64:ff9b::/96) IPv6 address. */
function embeddedIpv4(address: string): string | undefined {
  const words = expandIpv6(address);
  if (!words) return undefined;
  const high = words.slice(0, 6);
  const mapped = high.slice(0, 5).every((w) => w === 0) && (high[5] === 0xffff || high[5] === 0);
  const nat64 = high[0] === 0x64 && high[1] === 0xff9b && high.slice(2).every((w) => w === 0);
  if (!mapped && !nat64) return undefined;
  if (mapped && high[5] === 0 && words[6] === 0 && (words[7] ?? 0) <= 1) return undefined; // :: and ::1
  const [a, b] = [words[6]!, words[7]!];
  return `${a >> 8}.${a & 0xff}.${b >> 8}.${b & 0xff}`;
}

function expandIpv6(address: string): number[] | undefined {
  let text = address.split('%')[0]!;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const parts = dotted[1]!.split('.').map(Number);
    text = `${text.slice(0, dotted.index)}${((parts[0]! << 8) | parts[1]!).toString(16)}:${((parts[2]! << 8) | parts[3]!).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = text.includes('::') ? 8 - h.length - t.length : 0;
  const words = [...h, ...Array<string>(fill).fill('0'), ...t].map((w) => parseInt(w, 16));
  return words.length === 8 && words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffff)
    ? words
    : undefined;
}
