/**
 * The node agent on this machine's real kernel, read THROUGH THE OPERATOR'S API: pods of the
 * test cluster (kwok runs them on a node whose address is 127.0.0.1) get real cgroups in the
 * kubelet's cgroupfs and systemd layouts, in the v1 controllers and in the cgroup2 mount
 * (agent-kernel-fixture.ts), with a throttled busy loop, a `dd oflag=direct` writer and a
 * process in its own network namespace that exchanges a known number of bytes over a veth
 * pair. The agent runs as a real process (real HTTPS, its ServiceAccount's RBAC as shipped,
 * TokenReview + SubjectAccessReview of the operator's token); the operator (its own
 * ServiceAccount, the shipped RBAC) reads it on the node's address. The figures the API
 * serves are compared with the known workload and with the kernel's files read here.
 * Cgroups, network namespaces, processes, the node and the namespaces are removed on every path.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { selfSignedCertificate } from '../../agent/tls.js';
import type { OperatorHandle } from '../../cmd/operator/start.js';
import { DEFAULT_TOKEN_AUDIENCE } from '../../operator/config.js';
import { IO_COUNTERS, type IoCounter } from '../../operator/store/io-counters.js';
import {
  apply,
  coreApi,
  deleteNamespace,
  kubectlOk,
  newNamespace,
  uniqueName,
  waitFor,
} from '../harness/index.js';
import { startTestOperator, type TestOperatorOptions } from '../harness/operator.js';
import {
  BLOCKS,
  DATAGRAMS,
  FRAME_BYTES,
  WRITE_BYTES,
  startKernelFixture,
  type KernelFixture,
} from './agent-kernel-fixture.js';
import {
  applyOperatorIdentity,
  FIELD_MANAGER,
  kustomize,
  writeOperatorKubeconfig,
} from './operator-install.js';

const ROOT = join(import.meta.dirname, '..', '..');
const run = promisify(execFile);
const AGENT_NAMESPACE = 'kube-usage-agent';
const AGENT_SERVICE_ACCOUNT = 'kube-usage-agent';

type Json = Record<string, unknown>;

let dir: string;
let node: string;
let namespace: string;
let operatorNamespace: string;
let fixture: KernelFixture | undefined;
let operator: OperatorHandle | undefined;
/** How the operator is started (again, on the same database, by the restart test). */
let operatorOptions: TestOperatorOptions;
let agent: ChildProcess | undefined;
let agentLog = '';
/** When the agent last started (ms): its readings are taken after. */
let agentStartedAt = 0;
let agentPort: number;
let certFile: string;
let keyFile: string;
let agentKubeconfig: string;
/** May get pods in the namespace and get the node (a ClusterRole of this test). */
let readerToken: string;
/** May get pods in the namespace only (`view`). */
let viewerToken: string;
const readerRole = uniqueName('kuo-agent-test-node-reader');

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A kubeconfig for a ServiceAccount, with a token from TokenRequest. */
async function serviceAccountKubeconfig(path: string, ns: string, sa: string): Promise<string> {
  const token = (await kubectlOk(['create', 'token', sa, '-n', ns, '--duration=1h'])).trim();
  const current = parse(await kubectlOk(['config', 'view', '--raw', '--minify', '--flatten'])) as {
    clusters: { cluster: Record<string, unknown> }[];
  };
  writeFileSync(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'test', cluster: current.clusters[0]!.cluster }],
      users: [{ name: sa, user: { token } }],
      contexts: [{ name: sa, context: { cluster: 'test', user: sa } }],
      'current-context': sa,
    }),
    { mode: 0o600 },
  );
  return path;
}

/** Starts the agent (from the sources, through tsx) on 127.0.0.1:agentPort, reading one hierarchy. */
async function startAgent(version: 1 | 2): Promise<void> {
  agentLog = '';
  agentStartedAt = Date.now();
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'cmd', 'agent.ts'),
      '--kubeconfig',
      agentKubeconfig,
      '--node-name',
      node,
      '--address',
      '127.0.0.1',
      '--port',
      String(agentPort),
      '--tls-cert-file',
      certFile,
      '--tls-key-file',
      keyFile,
      '--cgroup-root',
      version === 1 ? '/sys/fs/cgroup' : '/sys/fs/cgroup/unified',
      '--cgroup-version',
      String(version),
      '--min-interval',
      '1s',
      '--log-level',
      'debug',
    ],
    { env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  agent = child;
  child.stdout?.on('data', (chunk: Buffer) => (agentLog += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (agentLog += chunk.toString()));
  // Serving, or exited (its message), whichever comes first.
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the agent (cgroup v${version}) is not serving after 60 s: ${agentLog}`)),
      60_000,
    );
    const onExit = () => {
      clearTimeout(timer);
      reject(new Error(`the agent (cgroup v${version}) exited: ${agentLog}`));
    };
    child.once('exit', onExit);
    const onData = () => {
      if (!agentLog.includes('"agent serving"')) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
  });
}

async function stopAgent(): Promise<void> {
  const child = agent;
  agent = undefined;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** The operator's kube_usage_agent_nodes gauge, by state. */
async function agentNodes(): Promise<Record<string, number>> {
  const { values } = await operator!.metrics.agentNodes.get();
  return Object.fromEntries(values.map((v) => [String(v.labels.state), v.value]));
}

async function api(path: string, token = readerToken): Promise<{ status: number; body: Json }> {
  const response = await fetch(operator!.url + path, { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, body: (await response.json()) as Json };
}

/**
 * Waits until the operator serves a reading of the agent last started, of this cgroup version
 * (the previous agent's last reading is served for three intervals after it stopped).
 */
async function nodeUsageFrom(version: 1 | 2): Promise<Json> {
  return waitFor(
    `the operator serving the v${version} agent's reading`,
    async () => {
      const r = await api(`/api/v1/nodes/${node}/usage`);
      const fromThisAgent = Date.parse(String(r.body.time)) >= agentStartedAt;
      return r.status === 200 && r.body.cgroupVersion === version && fromThisAgent ? r.body : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
}

/** Waits until the pod's usage carries an agent reading taken after `after` (ms). */
async function podUsage(pod: string, after: number): Promise<Json & { containers: Json[] }> {
  return waitFor(
    `the usage of ${pod} with an agent reading`,
    async () => {
      const r = await api(`/api/v1/namespaces/${namespace}/pods/${pod}/usage`);
      const agentTime = (r.body.agent as { time?: string } | null)?.time;
      return r.status === 200 && agentTime && Date.parse(agentTime) >= after
        ? (r.body as Json & { containers: Json[] })
        : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
}

/** Sums a v1 blkio.throttle file's per-device lines of one operation. */
function blkioTotal(text: string, op: 'Read' | 'Write'): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const [device, kind, value] = line.trim().split(/\s+/);
    if (device && /^\d+:\d+$/.test(device) && kind === op) total += Number(value);
  }
  return total;
}

type Counters = Partial<Record<IoCounter, number>>;

/** A v1 cgroup's block I/O counters as the kernel keeps them (every device summed). */
async function kernelBlockIo(blkio: string): Promise<Counters> {
  const bytes = await readFile(join(blkio, 'blkio.throttle.io_service_bytes'), 'utf8');
  const ops = await readFile(join(blkio, 'blkio.throttle.io_serviced'), 'utf8');
  return {
    blockReadBytes: blkioTotal(bytes, 'Read'),
    blockWriteBytes: blkioTotal(bytes, 'Write'),
    blockReadOps: blkioTotal(ops, 'Read'),
    blockWriteOps: blkioTotal(ops, 'Write'),
  };
}

/** A network namespace's counters, from its own /proc/net/dev (read by a process inside it), `lo` left out. */
async function kernelNetwork(netns: string): Promise<Counters> {
  const { stdout } = await run('ip', ['netns', 'exec', netns, 'cat', '/proc/net/dev']);
  const sum: Counters = {};
  // rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes packets errs drop ...
  const columns: [IoCounter, number][] = [
    ['networkRxBytes', 0],
    ['networkRxPackets', 1],
    ['networkRxErrors', 2],
    ['networkRxDrops', 3],
    ['networkTxBytes', 8],
    ['networkTxPackets', 9],
    ['networkTxErrors', 10],
    ['networkTxDrops', 11],
  ];
  for (const line of stdout.split('\n').slice(2)) {
    const [name, values] = line.split(':');
    if (values === undefined || name?.trim() === 'lo') continue;
    const fields = values.trim().split(/\s+/).map(Number);
    for (const [counter, column] of columns) sum[counter] = (sum[counter] ?? 0) + fields[column]!;
  }
  return sum;
}

function difference(after: Counters, before: Counters): Counters {
  const out: Counters = {};
  for (const name of Object.keys(after) as IoCounter[]) out[name] = after[name]! - before[name]!;
  return out;
}

/** The I/O of history points (or other answers' `io`), summed per counter; only `names`. */
function sumIo(ios: (Json | null)[], names: readonly IoCounter[]): Counters {
  const out: Counters = {};
  for (const name of names) out[name] = 0;
  for (const io of ios)
    if (io) for (const name of names) out[name] = out[name]! + ((io[name] as number | undefined) ?? 0);
  return out;
}

/**
 * Counters of a rollup or a window: each stored span's increment is split at bucket boundaries in
 * proportion to time (increment × ms / span, operator/store/io-counters.ts), and the pieces are
 * summed. Their real sum is the increment itself; floating point rounds each division and each
 * addition, a few units of 2^-52 relative at most: the whole number is the counter's, exactly.
 */
function expectSplitSums(actual: Counters, exact: Counters): void {
  for (const name of Object.keys(exact) as IoCounter[]) {
    largestResidual = Math.max(largestResidual, Math.abs(actual[name]! - exact[name]!));
    expect([name, Math.round(actual[name]!)]).toEqual([name, exact[name]]);
    expect(Math.abs(actual[name]! - exact[name]!)).toBeLessThanOrEqual(exact[name]! * 1e-12);
  }
}

/** The largest |rollup sum - exact counter| seen (printed). */
let largestResidual = 0;

const BLOCK_COUNTERS = IO_COUNTERS.filter((c) => c.startsWith('block'));
const NETWORK_COUNTERS = IO_COUNTERS.filter((c) => c.startsWith('network'));

/** utime + stime of a process in seconds (USER_HZ = 100), and its resident bytes. */
function procStat(pid: number): { cpuSeconds: number; rssBytes: number; command: string } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const command = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const pages = Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]);
  return { cpuSeconds: ticks / 100, rssBytes: pages * 4096, command };
}

/** The agent's ServiceAccount and RBAC and the operator's right to read agents, as shipped (manifests/agent). */
async function applyAgentIdentity(): Promise<void> {
  const { objects } = await kustomize('agent');
  const identity = objects.filter((o) => o.kind !== 'DaemonSet');
  await kubectlOk(
    ['apply', '--server-side', '--force-conflicts', `--field-manager=${FIELD_MANAGER}`, '-f', '-'],
    { input: identity.map((o) => stringify(o)).join('---\n') },
  );
}

function nodeObject(name: string) {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: { type: 'kwok', 'kubernetes.io/hostname': name },
      annotations: {
        'kwok.x-k8s.io/node': 'fake',
        // kwok serves the pods' CPU and memory there, so that a UsagePolicy collects them.
        'metrics.k8s.io/resource-metrics-path': `/metrics/nodes/${name}/metrics/resource`,
      },
    },
    // No other test's pod lands here (this test's pods name the node).
    spec: { taints: [{ key: 'kube-usage-operator.test/agent', effect: 'NoSchedule' }] },
    status: {
      addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
      allocatable: { cpu: '4', memory: '8Gi', pods: '20' },
      capacity: { cpu: '4', memory: '8Gi', pods: '20' },
    },
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kuo-agent-api-'));
  // The shipped identities: the operator's (manifests/base) and the agent's and the operator's
  // right to read agents (manifests/agent).
  await applyOperatorIdentity();
  await applyAgentIdentity();
  agentKubeconfig = await serviceAccountKubeconfig(
    join(dir, 'agent-kubeconfig'),
    AGENT_NAMESPACE,
    AGENT_SERVICE_ACCOUNT,
  );
  const operatorKubeconfig = await writeOperatorKubeconfig(join(dir, 'operator-kubeconfig'));

  node = uniqueName('kuo-agent-node');
  await coreApi().createNode({ body: nodeObject(node) });
  namespace = await newNamespace('agent');
  operatorNamespace = await newNamespace('kuo-system');

  // Who reads the API: one may get the node, the other only the namespace's pods.
  await coreApi().createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'reader' } } });
  await coreApi().createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'viewer' } } });
  await kubectlOk(['create', 'clusterrole', readerRole, '--verb=get', '--resource=nodes']);
  await kubectlOk([
    'create',
    'clusterrolebinding',
    readerRole,
    `--clusterrole=${readerRole}`,
    `--serviceaccount=${namespace}:reader`,
  ]);
  for (const sa of ['reader', 'viewer'])
    await kubectlOk([
      '-n',
      namespace,
      'create',
      'rolebinding',
      `${sa}-view`,
      '--clusterrole=view',
      `--serviceaccount=${namespace}:${sa}`,
    ]);
  const token = async (sa: string) =>
    (await kubectlOk(['-n', namespace, 'create', 'token', sa, '--audience', DEFAULT_TOKEN_AUDIENCE])).trim();
  readerToken = await token('reader');
  viewerToken = await token('viewer');

  // The agent's serving certificate, which the operator is told to trust (--agent-ca-file).
  const certificate = await selfSignedCertificate(node, '127.0.0.1');
  certFile = join(dir, 'agent.crt');
  keyFile = join(dir, 'agent.key');
  writeFileSync(certFile, certificate.cert);
  writeFileSync(keyFile, certificate.key, { mode: 0o600 });
  agentPort = await freePort();

  fixture = await startKernelFixture(namespace, node);
  operatorOptions = {
    namespace: operatorNamespace,
    database: uniqueName('agenttest'),
    kubeconfig: operatorKubeconfig,
    args: [
      '--agents',
      '--agent-port',
      String(agentPort),
      '--agent-interval',
      '1s',
      '--agent-timeout',
      '5s',
      '--agent-ca-file',
      certFile,
    ],
  };
  operator = await startTestOperator(operatorOptions);
});

afterAll(async () => {
  const steps: (() => Promise<unknown>)[] = [
    () => stopAgent(),
    async () => operator?.stop(),
    async () => fixture?.cleanup(),
    () => deleteNamespace(namespace),
    () => deleteNamespace(operatorNamespace),
    () => kubectlOk(['delete', 'clusterrolebinding,clusterrole', readerRole, '--ignore-not-found']),
    // Other tests check that the operator's base RBAC alone cannot get nodes/stats.
    () =>
      kubectlOk([
        'delete',
        '--ignore-not-found',
        'clusterrolebinding/kube-usage-operator-reads-agents',
        'clusterrole/kube-usage-operator-reads-agents',
      ]),
    async () => (node ? coreApi().deleteNode({ name: node }) : undefined),
    async () => rmSync(dir, { recursive: true, force: true }),
  ];
  const problems: string[] = [];
  for (const step of steps)
    await step().catch((err: unknown) => problems.push(err instanceof Error ? err.message : String(err)));
  if (problems.length > 0) throw new Error(`cleanup: ${problems.join('; ')}`);
});

describe('node agent on the real kernel, through the operator API', () => {
  it('without a running agent the API says the readings are absent and why', async () => {
    const r = await waitFor(
      'the operator to have tried the agent',
      async () => {
        const answer = await api(`/api/v1/nodes/${node}/usage`);
        return answer.status === 404 && String(answer.body.message).includes('could not be read')
          ? answer
          : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(r.body.message).toMatch(
      new RegExp(
        `^no host statistics of the node "${node}": the agent of the node "${node}" could not be read: ` +
          `connection refused \\(https://127\\.0\\.0\\.1:${agentPort}/stats: .*ECONNREFUSED`,
      ),
    );
    const processes = await api(`/api/v1/namespaces/${namespace}/pods/busy/processes`);
    expect(processes.status).toBe(404);
    // Every node of the cluster is absent (the simulated ones have no address, this one no agent).
    const nodes = await agentNodes();
    expect(nodes.read).toBe(0);
    expect(nodes.absent).toBeGreaterThanOrEqual(3);
    expect(processes.body.message).toBe(
      `no processes of the pod "${namespace}/busy": no agent reports the pod "${namespace}/busy"`,
    );
  });

  it('cgroup v1 (cgroupfs and systemd layouts): exact CPU, throttling, block I/O, network and processes', async () => {
    const f = fixture!;
    await startAgent(1);
    try {
      const host = await nodeUsageFrom(1);
      expect((await agentNodes()).read).toBe(1);
      // The host's figures against /proc read here (those that do not move).
      const meminfo = await readFile('/proc/meminfo', 'utf8');
      const stat = await readFile('/proc/stat', 'utf8');
      expect((host.memory as Json).totalBytes).toBe(
        Number(/^MemTotal:\s+(\d+) kB/m.exec(meminfo)![1]) * 1024,
      );
      expect(Date.parse(host.bootTime as string)).toBe(Number(/^btime (\d+)/m.exec(stat)![1]) * 1000);
      expect((host.cpu as Json).cpus).toBe(cpus().length);
      expect(host.pods).toEqual({ read: 3, withoutCgroup: 0 });
      const interfaces = (host.interfaces as { name: string }[]).map((i) => i.name);
      expect(interfaces).toContain('lo');

      // A caller without `get nodes` is refused by the real SubjectAccessReview.
      const denied = await api(`/api/v1/nodes/${node}/usage`, viewerToken);
      expect(denied.status).toBe(403);

      const after = Date.now();
      // busy: stopped, so its counters hold still; the API's figures equal the kernel's files.
      const busy = await podUsage('busy', after);
      const cpuacct = Number(await readFile(join(f.busy.cgroups.cpuacct, 'cpuacct.usage'), 'utf8')) / 1e9;
      const cpuStat = await readFile(join(f.busy.cgroups.cpu, 'cpu.stat'), 'utf8');
      const throttled = Number(/^nr_throttled (\d+)/m.exec(cpuStat)![1]);
      const throttledSeconds = Number(/^throttled_time (\d+)/m.exec(cpuStat)![1]) / 1e9;
      const busyApp = busy.containers.find((c) => c.container === 'app')!;
      expect(busyApp.cgroupCpu).toEqual({
        time: expect.any(String),
        usageCoreSeconds: cpuacct,
        throttledPeriods: throttled,
        throttledSeconds,
      });
      expect(throttled).toBeGreaterThan(0);
      expect(busyApp.processCount).toBe(1);
      expect(busyApp.cpuMillicores).toBeNull(); // no UsagePolicy collects it
      expect(busy.absent).toContainEqual({
        field: 'containers[app].cpuMillicores',
        reason: 'no sample of this container recorded yet (no UsagePolicy collects it, or not yet)',
      });

      const processes = await api(`/api/v1/namespaces/${namespace}/pods/busy/processes`, viewerToken);
      expect(processes.status).toBe(200);
      const own = procStat(f.busy.main!.pid);
      expect(processes.body).toEqual({
        namespace,
        pod: 'busy',
        node,
        containers: [
          {
            container: 'app',
            containerId: f.busy.containerId,
            time: expect.any(String),
            count: 1,
            top: [
              {
                pid: f.busy.main!.pid,
                command: 'yes',
                state: 'T',
                cpuSeconds: own.cpuSeconds,
                rssBytes: own.rssBytes,
                startTime: expect.any(String),
              },
            ],
          },
        ],
      });

      // writer: dd wrote WRITE_BYTES with O_DIRECT (and read them back); v1 blkio counts them.
      const writer = await podUsage('writer', after);
      const io = (writer.containers.find((c) => c.container === 'app')!.blockIo ?? {}) as Json;
      const serviced = await readFile(
        join(f.writer.cgroups.blkio, 'blkio.throttle.io_service_bytes'),
        'utf8',
      );
      expect(io.writeBytes).toBe(WRITE_BYTES);
      expect(io.writeBytes).toBe(blkioTotal(serviced, 'Write'));
      expect(io.readBytes).toBe(blkioTotal(serviced, 'Read'));
      expect(io.readBytes as number).toBeGreaterThanOrEqual(WRITE_BYTES);
      const ops = await readFile(join(f.writer.cgroups.blkio, 'blkio.throttle.io_serviced'), 'utf8');
      expect(io.writeOps).toBe(blkioTotal(ops, 'Write'));
      expect(io.readOps).toBe(blkioTotal(ops, 'Read'));

      // talker: DATAGRAMS datagrams out and echoed back over the veth pair, nothing else.
      const talker = await podUsage('talker', after);
      expect(talker.network).toMatchObject({
        txBytes: DATAGRAMS * FRAME_BYTES,
        txPackets: DATAGRAMS,
        rxBytes: DATAGRAMS * FRAME_BYTES,
        rxPackets: DATAGRAMS,
        rxErrors: 0,
        txErrors: 0,
        rxDrops: 0,
        txDrops: 0,
      });
      expect((talker.network as { interfaces: { name: string }[] }).interfaces.map((i) => i.name)).toEqual([
        'eth0',
      ]);
      expect(talker.absent).not.toContainEqual(expect.objectContaining({ field: 'network' }));
    } finally {
      await stopAgent();
    }
  });

  it('cgroup v2 (the cgroup2 mount): exact CPU and network; block I/O absent without the io controller', async () => {
    const f = fixture!;
    await startAgent(2);
    try {
      await nodeUsageFrom(2);
      const after = Date.now();
      const busy = await podUsage('busy', after);
      const cpuStat = await readFile(join(f.busy.cgroups.unified, 'cpu.stat'), 'utf8');
      const usage = Number(/^usage_usec (\d+)/m.exec(cpuStat)![1]) / 1e6;
      const busyApp = busy.containers.find((c) => c.container === 'app')!;
      expect((busyApp.cgroupCpu as Json).usageCoreSeconds).toBe(usage);
      expect(usage).toBeGreaterThan(0);

      const talker = await podUsage('talker', after);
      expect(talker.network).toMatchObject({
        txBytes: DATAGRAMS * FRAME_BYTES,
        txPackets: DATAGRAMS,
        rxBytes: DATAGRAMS * FRAME_BYTES,
        rxPackets: DATAGRAMS,
      });

      // The cgroup2 mount here has no io controller (v1 holds it): the API says so.
      const controllers = await readFile('/sys/fs/cgroup/unified/cgroup.controllers', 'utf8');
      const writer = await podUsage('writer', after);
      const app = writer.containers.find((c) => c.container === 'app')!;
      if (controllers.split(/\s+/).includes('io')) {
        expect((app.blockIo as Json).writeBytes).toBe(WRITE_BYTES);
      } else {
        expect(app.blockIo).toBeNull();
        expect(writer.absent).toContainEqual({
          field: 'containers[app].blockIo',
          reason: 'the cgroup has no block I/O accounting',
        });
      }
      const processes = await api(`/api/v1/namespaces/${namespace}/pods/writer/processes`);
      const top = (processes.body.containers as { top: { pid: number; command: string }[] }[])[0]!.top;
      expect(top.map((p) => [p.pid, p.command])).toEqual([[f.writer.main!.pid, 'sleep']]);
    } finally {
      await stopAgent();
    }
  });

  it('the agent refuses the operator once it may no longer get nodes/stats, and the API says why', async () => {
    await startAgent(2);
    try {
      await nodeUsageFrom(2);
      await kubectlOk(['delete', 'clusterrolebinding/kube-usage-operator-reads-agents']);
      // The agent reuses a SubjectAccessReview's answer for 10 s; the operator a reading for 3 s.
      const r = await waitFor(
        'the operator to be refused by the agent',
        async () => {
          const answer = await api(`/api/v1/nodes/${node}/usage`);
          return answer.status === 404 ? answer : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      expect(r.body.message).toContain(
        `the agent of the node "${node}" could not be read: HTTP 403 (https://127.0.0.1:${agentPort}/stats: 403 Forbidden: `,
      );
      expect(r.body.message).toContain(
        'User \\"system:serviceaccount:kube-usage-system:kube-usage-operator\\" cannot get resource \\"nodes/stats\\"',
      );
      const usage = await api(`/api/v1/namespaces/${namespace}/pods/talker/usage`);
      expect(usage.status).toBe(404);
    } finally {
      await stopAgent();
    }
  });

  it('stores the kernel counters, across an operator restart: history (raw and rollups), top and summary give the dd and veth I/O exactly', async () => {
    const f = fixture!;
    // The previous test took the operator's right to read agents away.
    await applyAgentIdentity();
    await startAgent(1);
    try {
      const start = Date.now();
      await apply(
        'apiVersion: usage.kubeusage.dev/v1alpha1\nkind: UsagePolicy\nmetadata: {name: all}\nspec: {selector: {}, interval: 10s}\n',
        namespace,
      );
      const history = async (pod: string, granularity: string) => {
        const query = new URLSearchParams({
          from: new Date(start - 60_000).toISOString(),
          to: new Date().toISOString(),
          granularity,
        });
        const r = await api(`/api/v1/namespaces/${namespace}/pods/${pod}/usage/history?${query}`);
        expect(r.status).toBe(200);
        const app = (
          r.body.containers as { container: string; points: { time: string; io: Json | null }[] }[]
        ).find((c) => c.container === 'app');
        return app?.points ?? [];
      };
      // The first agent reading joined to a series is its base; the next sample stores I/O (none yet).
      for (const pod of ['writer', 'talker'])
        await waitFor(
          `I/O stored for ${pod}`,
          async () => (await history(pod, 'raw')).some((p) => p.io !== null) || undefined,
          { timeoutMs: 90_000, intervalMs: 1_000 },
        );
      // (The writer's processes are in the host's network namespace: its network is the host's.)
      const zero = (names: readonly IoCounter[]) => Object.fromEntries(names.map((c) => [c, 0]));
      expect(
        sumIo(
          (await history('writer', 'raw')).map((p) => p.io),
          BLOCK_COUNTERS,
        ),
      ).toEqual(zero(BLOCK_COUNTERS));
      expect(
        sumIo(
          (await history('talker', 'raw')).map((p) => p.io),
          IO_COUNTERS,
        ),
      ).toEqual(zero(IO_COUNTERS));

      // The kernel's counters before and after more I/O, read here, apart from the agent.
      const exchanged = 40;
      const before = {
        writer: await kernelBlockIo(f.writer.cgroups.blkio),
        talkerBlock: await kernelBlockIo(f.talker.cgroups.blkio),
        talkerNetwork: await kernelNetwork(f.net.a),
      };
      // The I/O happens while the operator is restarted (a new term, as after a failover): the new
      // process continues each series from the last stored reading's counters, so none is lost.
      const stopping = operator!;
      operator = undefined;
      await stopping.stop();
      await f.writeAndReadBack();
      await f.exchange(exchanged);
      operator = await startTestOperator(operatorOptions);
      const delta = {
        writer: difference(await kernelBlockIo(f.writer.cgroups.blkio), before.writer),
        talkerBlock: difference(await kernelBlockIo(f.talker.cgroups.blkio), before.talkerBlock),
        talkerNetwork: difference(await kernelNetwork(f.net.a), before.talkerNetwork),
      };
      const done = Date.now();
      // The known workload, in the kernel's own counters.
      expect(delta.writer.blockWriteBytes).toBe(WRITE_BYTES);
      // (Reads also count what starting dd read from the disk, if it was not cached.)
      expect(delta.writer.blockReadBytes).toBeGreaterThanOrEqual(WRITE_BYTES);
      expect(delta.writer.blockWriteOps).toBeGreaterThanOrEqual(BLOCKS);
      expect(delta.talkerNetwork).toEqual({
        networkRxBytes: exchanged * FRAME_BYTES,
        networkRxPackets: exchanged,
        networkRxErrors: 0,
        networkRxDrops: 0,
        networkTxBytes: exchanged * FRAME_BYTES,
        networkTxPackets: exchanged,
        networkTxErrors: 0,
        networkTxDrops: 0,
      });

      // Wait for the agent's reading after the I/O, then for a sample stored with it: a sample
      // taken after the API showed the reading is joined to it or to a newer one.
      for (const pod of ['writer', 'talker']) {
        await podUsage(pod, done);
        const seen = Date.now();
        await waitFor(
          `a sample of ${pod} with the agent's reading after the I/O`,
          async () =>
            (await history(pod, 'raw')).some((p) => p.io !== null && Date.parse(p.time) > seen) || undefined,
          { timeoutMs: 90_000, intervalMs: 1_000 },
        );
      }

      // Raw readings: the increments of the agent's counters, whole numbers: exactly the kernel's.
      const writerRaw = (await history('writer', 'raw')).map((p) => p.io);
      const talkerRaw = (await history('talker', 'raw')).map((p) => p.io);
      expect(sumIo(writerRaw, BLOCK_COUNTERS)).toEqual(delta.writer);
      expect(sumIo(talkerRaw, BLOCK_COUNTERS)).toEqual(delta.talkerBlock);
      expect(sumIo(talkerRaw, NETWORK_COUNTERS)).toEqual(delta.talkerNetwork);

      // Buckets: 1m ones computed from the raw readings, 5m ones, and the open 1h bucket computed
      // from the finer levels.
      for (const granularity of ['1m', '5m', '1h']) {
        const writer = (await history('writer', granularity)).map((p) => p.io);
        const talker = (await history('talker', granularity)).map((p) => p.io);
        expectSplitSums(sumIo(writer, BLOCK_COUNTERS), delta.writer);
        expectSplitSums(sumIo(talker, BLOCK_COUNTERS), delta.talkerBlock);
        expectSplitSums(sumIo(talker, NETWORK_COUNTERS), delta.talkerNetwork);
      }

      // top and summary over a window holding every stored reading.
      const window = new URLSearchParams({
        namespace,
        from: new Date(start - 60_000).toISOString(),
        to: new Date().toISOString(),
      });
      const top = await api(`/api/v1/usage/top?${window}`);
      expect(top.status).toBe(200);
      const item = (pod: string) =>
        (top.body.items as { pod: string; container: string; io: Json | null }[]).find(
          (i) => i.pod === pod && i.container === 'app',
        )!.io;
      expectSplitSums(sumIo([item('writer')], BLOCK_COUNTERS), delta.writer);
      expectSplitSums(sumIo([item('talker')], BLOCK_COUNTERS), delta.talkerBlock);
      expectSplitSums(sumIo([item('talker')], NETWORK_COUNTERS), delta.talkerNetwork);
      window.set('groupBy', 'pod');
      const summary = await api(`/api/v1/usage/summary?${window}`);
      expect(summary.status).toBe(200);
      const group = (pod: string) =>
        (summary.body.items as { group: string; io: Json | null }[]).find(
          (i) => i.group === `${namespace}/${pod}`,
        )!.io;
      expectSplitSums(sumIo([group('writer')], BLOCK_COUNTERS), delta.writer);
      expectSplitSums(sumIo([group('talker')], BLOCK_COUNTERS), delta.talkerBlock);
      expectSplitSums(sumIo([group('talker')], NETWORK_COUNTERS), delta.talkerNetwork);
      console.log(
        `[agent-kernel] kernel differences stored exactly in ${writerRaw.filter(Boolean).length} and ` +
          `${talkerRaw.filter(Boolean).length} raw readings: writer ${JSON.stringify(delta.writer)}, ` +
          `talker ${JSON.stringify({ ...delta.talkerBlock, ...delta.talkerNetwork })}; ` +
          `largest rollup/top/summary residual ${largestResidual}`,
      );
    } finally {
      await stopAgent();
    }
  });
});
