/**
 * The kubelet resource source: reads the nodes' `/metrics/resource` endpoints directly, as
 * metrics-server does, and returns cumulative CPU counters and working-set gauges with their
 * own timestamps. Nodes are read with bounded concurrency, each within a deadline; a node that
 * cannot be read is listed in `unreadableNodes` with the class of failure, and contributes no
 * readings (it is never billed as zero).
 */
import { parseCpuMillicores } from '../../../api/quantity.js';
import { nodeEndpoint, type EndpointOptions, type NodeObject } from './kubelet-endpoint.js';
import { KubeletRequestError, type KubeletCredentials, type KubeletHttp } from './kubelet-http.js';
import { readingsOfNode } from './kubelet-readings.js';
import type { PodLookup } from '../pod-lookup.js';
import type { ContainerReading, ReadingBatch, UnreadableNode } from '../readings.js';
import { parseResourceMetrics, ResourceMetricsFormatError } from './resource-metrics.js';

/** The nodes of the cluster (a list call per cycle, or an informer's cache). */
export interface NodeLister {
  /** Throws when the nodes cannot be listed (then no node can be read). */
  list(signal?: AbortSignal): Promise<readonly NodeObject[]>;
}

export interface KubeletSourceOptions {
  /** Nodes read at the same time. Default 10. */
  concurrency?: number;
  /** Deadline of one node's read, ms. Default 10 s (metrics-server's `--kubelet-request-timeout`). */
  timeoutMs?: number;
  endpoint?: EndpointOptions;
  /** The credentials for this cycle (tokens rotate: asked once per read). */
  credentials: () => Promise<KubeletCredentials>;
  http: KubeletHttp;
}

export interface KubeletReadRequest {
  /** The pods the readings are joined with (for their UIDs); containers of other pods are left out. */
  pods: PodLookup;
  /** Names of the nodes to read (those running the pods of interest); every node when absent. */
  nodes?: Iterable<string>;
  signal?: AbortSignal;
}

/** What one node's read gave, for logs and metrics. */
export interface NodeReadResult {
  node: string;
  /** ms the read took (request to parsed answer). */
  durationMs: number;
  readings: number;
  /** Containers on the endpoint whose pod the lookup did not know (or knows on another node). */
  unmatched: number;
  failure?: UnreadableNode;
}

export interface KubeletBatch extends ReadingBatch {
  source: 'kubelet';
  nodes: NodeReadResult[];
}

function unreadable(node: string, reason: string, detail: string, partial?: boolean): UnreadableNode {
  const entry: UnreadableNode = { node, reason, detail };
  if (partial) entry.partial = true;
  return entry;
}

export class KubeletResourceSource {
  readonly name = 'kubelet' as const;
  private readonly concurrency: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly nodeLister: NodeLister,
    private readonly options: KubeletSourceOptions,
  ) {
    this.concurrency = Math.max(1, Math.floor(options.concurrency ?? 10));
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /**
   * Reads the nodes. Throws only when nothing can be read at all (the nodes cannot be listed,
   * the credentials cannot be loaded); a node's failure is reported in the batch.
   */
  async read(request: KubeletReadRequest): Promise<KubeletBatch> {
    const all = await this.nodeLister.list(request.signal);
    const credentials = await this.options.credentials();
    const byName = new Map<string, NodeObject>();
    for (const node of all) if (node.metadata?.name) byName.set(node.metadata.name, node);
    const wanted = request.nodes === undefined ? [...byName.keys()] : [...new Set(request.nodes)];

    const readings: ContainerReading[] = [];
    const results: NodeReadResult[] = new Array<NodeReadResult>(wanted.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < wanted.length) {
        const index = next++;
        const name = wanted[index]!;
        results[index] = await this.readNode(name, byName.get(name), credentials, request, readings);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, wanted.length) }, worker));
    const nodeCpuCores = new Map<string, number>();
    for (const name of wanted) {
      const cores = cpuCapacity(byName.get(name));
      if (cores !== undefined) nodeCpuCores.set(name, cores);
    }
    return {
      source: 'kubelet',
      readings,
      unreadableNodes: results.flatMap((r) => (r.failure ? [r.failure] : [])),
      nodes: results,
      nodeCpuCores,
    };
  }

  private async readNode(
    name: string,
    node: NodeObject | undefined,
    credentials: KubeletCredentials,
    request: KubeletReadRequest,
    out: ContainerReading[],
  ): Promise<NodeReadResult> {
    const started = performance.now();
    const result = (fields: Partial<NodeReadResult>): NodeReadResult => ({
      node: name,
      durationMs: performance.now() - started,
      readings: 0,
      unmatched: 0,
      ...fields,
    });
    if (node === undefined)
      return result({ failure: unreadable(name, 'node not found', 'no Node object of that name') });
    const endpoint = nodeEndpoint(node, this.options.endpoint);
    if ('error' in endpoint) return result({ failure: unreadable(name, 'no endpoint', endpoint.error) });
    let body: string;
    let requestedAt: number;
    try {
      ({ body, requestedAt } = await this.options.http.get(endpoint.url, credentials, {
        timeoutMs: this.timeoutMs,
        signal: request.signal,
      }));
    } catch (err) {
      if (err instanceof KubeletRequestError)
        return result({ failure: unreadable(name, err.reason, `${endpoint.url.href}: ${err.detail}`) });
      throw err;
    }
    let parsed;
    try {
      parsed = parseResourceMetrics(body, requestedAt);
    } catch (err) {
      if (err instanceof ResourceMetricsFormatError)
        return result({
          failure: unreadable(name, 'malformed response', `${endpoint.url.href}: ${err.message}`),
        });
      throw err;
    }
    const { readings, unmatched } = readingsOfNode(name, parsed.containers, request.pods);
    for (const reading of readings) out.push(reading);
    const failure = parsed.scrapeError
      ? unreadable(
          name,
          'kubelet scrape error',
          `${endpoint.url.href} reports a scrape error: its stats may be incomplete`,
          true,
        )
      : undefined;
    return result({ readings: readings.length, unmatched, ...(failure ? { failure } : {}) });
  }

  close(): void {
    this.options.http.close();
  }
}

/**
 * The node's CPU capacity in cores (`status.capacity.cpu`, else `status.allocatable.cpu`): what
 * its containers together can use at most. Undefined when the node gives none (or a malformed one).
 */
export function cpuCapacity(node: NodeObject | undefined): number | undefined {
  const quantity = node?.status?.capacity?.['cpu'] ?? node?.status?.allocatable?.['cpu'];
  if (quantity === undefined) return undefined;
  try {
    const millicores = parseCpuMillicores(quantity);
    return millicores > 0 ? millicores / 1000 : undefined;
  } catch {
    return undefined;
  }
}
