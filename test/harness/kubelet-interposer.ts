/**
 * A programmable kubelet between the operator and kwok's simulated kubelets, for the nodes a
 * test creates through it. The seam is the node's own address, as a real kubelet has one: the
 * nodes are created with the interposer's loopback address (kwok keeps a node's addresses and
 * sets the port to its own), the interposer listens on that address at kwok's port and serves
 * HTTPS with a certificate of its own, and the operator is given a CA bundle that trusts it
 * beside the cluster's (`--kubelet-certificate-authority`, a flag of the operator). Nothing of
 * the operator changes; metrics-server reads these nodes through the interposer too.
 *
 * Per node, what a read of `/metrics/resource` gets:
 * - normally kwok's answer, every sample stamped with the time kwok evaluated it (the middle of
 *   the interposer's request to kwok, plus the node's clock skew), as a kubelet stamps its stats;
 * - `fault: 'refuse'`: the connection is closed at once (the node is unreadable);
 * - `fault: 'hang'`: no answer until the fault is lifted (the reader's deadline expires);
 * - a glitch: the operator's next answer has one container's counter lowered, its start time
 *   unchanged (once);
 * - `skewMs`: the stamps run that far ahead of the real clock (a node whose clock is wrong).
 * Every answer and fault is logged with its time, for the test's report.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Node } from '@kubernetes/client-node';
import { nodeEndpoint } from '../../operator/sources/kubelet/kubelet-endpoint.js';
import { NodeKubeletHttp } from '../../operator/sources/kubelet/kubelet-http.js';
import { kubeletCredentials } from '../../operator/sources/kubelet/kubernetes-kubelet.js';
import { coreApi, kubeConfig, SIMULATED_NODES, waitFor } from './index.js';
import { simulatedNode } from './nodes.js';
import { lowerCounter, stampSamples, type ContainerRef } from './resource-metrics-text.js';
import { selfSignedCertificate } from './serving-certificate.js';

export type NodeFault = 'none' | 'refuse' | 'hang';

/** The operator's kubelet client names itself so (kubelet-http.ts). */
const OPERATOR_AGENT = 'kube-usage-operator';

export interface GlitchApplied {
  node: string;
  /** When the glitched answer was stamped (the node's clock), ms. */
  stampedAt: number;
  before: number;
  after: number;
}

export interface InterposerEvent {
  node: string;
  /** Real time of the request, ms. */
  at: number;
  /** What the reader got. */
  outcome: 'answered' | 'glitched' | 'refused' | 'hung' | 'upstream failed';
  /** The operator asked (not metrics-server). */
  operator: boolean;
}

interface NodeState {
  fault: NodeFault;
  skewMs: number;
  glitch?: { target: ContainerRef; factor: number; resolve: (applied: GlitchApplied) => void };
}

export interface KubeletInterposer {
  /** The loopback address the interposed nodes have. */
  readonly address: string;
  /** kwok's port, on which the interposer listens at its own address. */
  readonly port: number;
  /** PEM bundle: the cluster CA and the interposer's certificate (`--kubelet-certificate-authority`). */
  readonly caFile: string;
  readonly events: InterposerEvent[];
  /** Creates a simulated node reached through the interposer; resolves when the operator would. */
  createNode(name: string): Promise<void>;
  /** kwok's own endpoint of an interposed node (for a recorder that reads kwok directly). */
  upstreamUrl(node: string): URL;
  setFault(node: string, fault: NodeFault): void;
  setSkew(node: string, skewMs: number): void;
  /** The operator's next answer of the node has the container's counter x factor; resolves once served. */
  glitchOnce(node: string, target: ContainerRef, factor: number): Promise<GlitchApplied>;
  close(): Promise<void>;
}

const PATH = /^\/metrics\/nodes\/([^/]+)\/metrics\/resource$/;

/** A loopback address of its own (kwok binds 127.0.0.1). */
function randomLoopback(): string {
  const byte = () => 1 + Math.floor(Math.random() * 253);
  return `127.${byte()}.${byte()}.${byte()}`;
}

/** An HTTPS server on a loopback address of its own at `port`, with a certificate for that address. */
async function listenOnOwnAddress(
  dir: string,
  port: number,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ server: Server; address: string; cert: string }> {
  for (let attempt = 0; ; attempt++) {
    const address = randomLoopback();
    const { cert, key } = await selfSignedCertificate(dir, address);
    const server = createServer({ cert, key }, handler);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, address, () => {
          server.off('error', reject);
          resolve();
        });
      });
      return { server, address, cert };
    } catch (err) {
      if (attempt >= 5) throw err;
    }
  }
}

export async function startKubeletInterposer(): Promise<KubeletInterposer> {
  const core = coreApi();
  const port = await waitFor('kwok to give its nodes a kubelet port', async () => {
    const node = await core.readNode({ name: SIMULATED_NODES[0]! });
    return node.status?.daemonEndpoints?.kubeletEndpoint?.Port;
  });
  const dir = await mkdtemp(join(tmpdir(), 'kuo-interposer-'));
  const kc = kubeConfig();
  const tls: { ca?: unknown } = {};
  await kc.applyToHTTPSOptions(tls);
  const credentials = kubeletCredentials(kc);
  const upstream = new NodeKubeletHttp();
  const nodes = new Map<string, NodeState>();
  const events: InterposerEvent[] = [];
  const hanging = new Set<Socket>();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const at = Date.now();
    const name = PATH.exec((req.url ?? '').split('?')[0]!)?.[1];
    const state = name === undefined ? undefined : nodes.get(name);
    if (name === undefined || state === undefined) {
      res.writeHead(404).end();
      return;
    }
    const operator = (req.headers['user-agent'] ?? '').startsWith(OPERATOR_AGENT);
    if (state.fault === 'refuse') {
      events.push({ node: name, at, outcome: 'refused', operator });
      req.socket.destroy();
      return;
    }
    if (state.fault === 'hang') {
      events.push({ node: name, at, outcome: 'hung', operator });
      hanging.add(req.socket);
      req.socket.once('close', () => hanging.delete(req.socket));
      return;
    }
    let answer;
    try {
      answer = await upstream.get(new URL(req.url!, `https://127.0.0.1:${port}`), await credentials(), {
        timeoutMs: 10_000,
      });
    } catch {
      events.push({ node: name, at, outcome: 'upstream failed', operator });
      res.writeHead(502).end();
      return;
    }
    const stampedAt = (answer.requestedAt + answer.receivedAt) / 2 + state.skewMs;
    let body = answer.body;
    let outcome: InterposerEvent['outcome'] = 'answered';
    const glitch = state.glitch;
    if (operator && glitch) {
      const lowered = lowerCounter(body, glitch.target, glitch.factor);
      if (lowered) {
        body = lowered.body;
        outcome = 'glitched';
        state.glitch = undefined;
        glitch.resolve({
          node: name,
          stampedAt: Math.round(stampedAt),
          before: lowered.before,
          after: lowered.after,
        });
      }
    }
    events.push({ node: name, at, outcome, operator });
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
    res.end(stampSamples(body, stampedAt));
  };

  const { server, address, cert } = await listenOnOwnAddress(dir, port, (req, res) => void handle(req, res));
  const caFile = join(dir, 'kubelet-ca.crt');
  const clusterCa = Array.isArray(tls.ca) ? tls.ca.map(String).join('\n') : String(tls.ca ?? '');
  await writeFile(caFile, `${clusterCa.trim()}\n${cert.trim()}\n`);

  const stateOf = (node: string): NodeState => {
    const state = nodes.get(node);
    if (!state) throw new Error(`${node} is not a node of this interposer`);
    return state;
  };

  return {
    address,
    port,
    caFile,
    events,
    async createNode(name) {
      const template = simulatedNode(name);
      const body: V1Node = {
        ...template,
        // Pods are placed by name: nothing else is scheduled here.
        spec: { taints: [{ key: 'kube-usage-operator.test/interposed', effect: 'NoSchedule' }] },
        status: {
          ...template.status,
          addresses: [
            { type: 'InternalIP', address },
            { type: 'Hostname', address },
          ],
        },
      };
      nodes.set(name, { fault: 'none', skewMs: 0 });
      await core.createNode({ body });
      await waitFor(`${name} to be reached through the interposer`, async () => {
        const endpoint = nodeEndpoint(await core.readNode({ name }));
        return 'url' in endpoint && endpoint.url.host === `${address}:${port}`;
      });
    },
    upstreamUrl: (node) => new URL(`https://127.0.0.1:${port}/metrics/nodes/${node}/metrics/resource`),
    setFault(node, fault) {
      stateOf(node).fault = fault;
      if (fault !== 'hang') for (const socket of hanging) socket.destroy();
    },
    setSkew(node, skewMs) {
      stateOf(node).skewMs = skewMs;
    },
    glitchOnce(node, target, factor) {
      const state = stateOf(node);
      return new Promise<GlitchApplied>((resolve) => {
        state.glitch = { target, factor, resolve };
      });
    },
    async close() {
      for (const socket of hanging) socket.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      upstream.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
