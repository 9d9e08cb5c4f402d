/**
 * The node agents' source: the operator pulls each node's kube-usage-agent over HTTPS on the
 * node's address (the agent listens on status.hostIP, port 10265), with the operator's own
 * token, which the agent checks by TokenReview and a SubjectAccessReview for `get nodes/stats`
 * of that node (as the kubelet checks /stats/summary). Nodes are read with bounded concurrency,
 * each within a deadline. A node whose agent cannot be read (none installed, not ready, refused)
 * is listed in `absent` with the class of failure; it is never fatal, and the node contributes
 * no agent reading. Nodes are listed, addressed and requested as the kubelet source does
 * (../kubelet: NodeLister, NodeObject, KubeletHttp).
 */
import { type NodeObject } from '../kubelet/kubelet-endpoint.js';
import { KubeletRequestError, type KubeletCredentials, type KubeletHttp } from '../kubelet/kubelet-http.js';
import type { NodeLister } from '../kubelet/kubelet-source.js';
import type { UnreadableNode } from '../readings.js';
import type { NodeReport } from '../../../agent/types.js';

/** The agent's port (agent/config.ts DEFAULT_AGENT_PORT), beside the kubelet's 10250. */
export const AGENT_PORT = 10265;
/** The agent listens on the node's status.hostIP, which is its first InternalIP. */
export const AGENT_ADDRESS_TYPES = ['InternalIP', 'ExternalIP', 'Hostname'] as const;
export const AGENT_STATS_PATH = '/stats';

export interface AgentSourceOptions {
  nodes: NodeLister;
  /** The credentials for this read (tokens rotate: asked once per read). */
  credentials: () => Promise<KubeletCredentials>;
  http: KubeletHttp;
  /** The agents' port. Default 10265. */
  port?: number;
  /** Node address types in order of preference. Default InternalIP, ExternalIP, Hostname. */
  addressTypes?: readonly string[];
  /** Agents read at the same time. Default 10. */
  concurrency?: number;
  /** Deadline of one agent's read, ms. Default 5 s. */
  timeoutMs?: number;
}

export interface AgentReadRequest {
  /** Names of the nodes to read; every node when absent. */
  nodes?: Iterable<string>;
  signal?: AbortSignal;
}

/** One node's agent read: its report, or why there is none. */
export interface AgentNodeResult {
  node: string;
  url?: string;
  durationMs: number;
  report?: NodeReport;
  failure?: UnreadableNode;
}

export interface AgentBatch {
  source: 'agent';
  /** When the read began, ms since epoch. */
  time: number;
  reports: NodeReport[];
  /** Nodes without a reading this time, with the reason. */
  absent: UnreadableNode[];
  nodes: AgentNodeResult[];
}

/** The agent's URL on a node, or why the node has none. */
export function agentEndpoint(
  node: NodeObject,
  options: { port?: number; addressTypes?: readonly string[] } = {},
): { url: URL } | { error: string } {
  const types = options.addressTypes ?? AGENT_ADDRESS_TYPES;
  const addresses = node.status?.addresses ?? [];
  let address: string | undefined;
  for (const type of types) {
    address = addresses.find((a) => a.type === type && a.address !== '')?.address;
    if (address !== undefined) break;
  }
  if (address === undefined) return { error: `the node has no address of the types ${types.join(', ')}` };
  const port = options.port ?? AGENT_PORT;
  const host = address.includes(':') ? `[${address}]` : address;
  try {
    return { url: new URL(`https://${host}:${port}${AGENT_STATS_PATH}`) };
  } catch {
    return { error: `no valid URL from the address ${JSON.stringify(address)}` };
  }
}

export class AgentReportFormatError extends Error {
  override name = 'AgentReportFormatError';
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** Parses an agent's /stats answer, checking the shape the operator relies on. */
export function parseAgentReport(body: string, node: string): NodeReport {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new AgentReportFormatError('the answer is not JSON');
  }
  if (!isObject(value)) throw new AgentReportFormatError('the answer is not a JSON object');
  if (value.node !== node)
    throw new AgentReportFormatError(
      `the agent reports the node ${JSON.stringify(value.node)}, not ${JSON.stringify(node)}`,
    );
  if (typeof value.time !== 'number' || !Number.isFinite(value.time))
    throw new AgentReportFormatError('"time" is not a number');
  if (value.cgroupVersion !== 1 && value.cgroupVersion !== 2)
    throw new AgentReportFormatError('"cgroupVersion" is neither 1 nor 2');
  const host = value.host;
  if (!isObject(host) || !isObject(host.cpu) || !isObject(host.memory) || !Array.isArray(host.interfaces))
    throw new AgentReportFormatError('"host" lacks cpu, memory or interfaces');
  if (!Array.isArray(host.disks)) throw new AgentReportFormatError('"host.disks" is not a list');
  if (!Array.isArray(value.pods)) throw new AgentReportFormatError('"pods" is not a list');
  for (const pod of value.pods as unknown[]) {
    if (
      !isObject(pod) ||
      typeof pod.namespace !== 'string' ||
      typeof pod.name !== 'string' ||
      typeof pod.uid !== 'string' ||
      !Array.isArray(pod.containers)
    )
      throw new AgentReportFormatError('a pod lacks namespace, name, uid or containers');
  }
  if (!Array.isArray(value.podsWithoutCgroup)) value.podsWithoutCgroup = [];
  if (!Array.isArray(value.readErrors)) value.readErrors = [];
  return value as unknown as NodeReport;
}

export class AgentSource {
  readonly name = 'agent' as const;
  private readonly concurrency: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: AgentSourceOptions) {
    this.concurrency = Math.max(1, Math.floor(options.concurrency ?? 10));
    this.timeoutMs = options.timeoutMs ?? 5_000;
  }

  /**
   * Reads the agents. Throws only when nothing can be read at all (the nodes cannot be listed,
   * the credentials cannot be loaded); an agent's failure is reported in `absent`.
   */
  async read(request: AgentReadRequest = {}): Promise<AgentBatch> {
    const time = Date.now();
    const all = await this.options.nodes.list(request.signal);
    const credentials = await this.options.credentials();
    const byName = new Map<string, NodeObject>();
    for (const node of all) if (node.metadata?.name) byName.set(node.metadata.name, node);
    const wanted = request.nodes === undefined ? [...byName.keys()].sort() : [...new Set(request.nodes)];
    const results = new Array<AgentNodeResult>(wanted.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < wanted.length) {
        const index = next++;
        const name = wanted[index]!;
        results[index] = await this.readNode(name, byName.get(name), credentials, request.signal);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, wanted.length) }, worker));
    return {
      source: 'agent',
      time,
      reports: results.flatMap((r) => (r.report ? [r.report] : [])),
      absent: results.flatMap((r) => (r.failure ? [r.failure] : [])),
      nodes: results,
    };
  }

  private async readNode(
    name: string,
    node: NodeObject | undefined,
    credentials: KubeletCredentials,
    signal: AbortSignal | undefined,
  ): Promise<AgentNodeResult> {
    const started = performance.now();
    const result = (fields: Partial<AgentNodeResult>): AgentNodeResult => ({
      node: name,
      durationMs: performance.now() - started,
      ...fields,
    });
    const failed = (reason: string, detail: string, url?: URL) =>
      result({ ...(url ? { url: url.href } : {}), failure: { node: name, reason, detail } });
    if (node === undefined) return failed('node not found', 'no Node object of that name');
    const endpoint = agentEndpoint(node, this.options);
    if ('error' in endpoint) return failed('no endpoint', endpoint.error);
    const { url } = endpoint;
    let body: string;
    try {
      ({ body } = await this.options.http.get(url, credentials, {
        timeoutMs: this.timeoutMs,
        ...(signal ? { signal } : {}),
      }));
    } catch (err) {
      if (err instanceof KubeletRequestError) return failed(err.reason, `${url.href}: ${err.detail}`, url);
      throw err;
    }
    try {
      return result({ url: url.href, report: parseAgentReport(body, name) });
    } catch (err) {
      if (err instanceof AgentReportFormatError)
        return failed('malformed response', `${url.href}: ${err.message}`, url);
      throw err;
    }
  }

  close(): void {
    this.options.http.close();
  }
}
