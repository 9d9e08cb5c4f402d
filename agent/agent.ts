/**
 * The node agent, wired: the cgroup hierarchy, a watch of this node's pods, the collector, and
 * the HTTPS endpoint. cmd/agent.ts turns flags into a config and calls startAgent.
 */
import { readFile } from 'node:fs/promises';
import { AccessControl } from '../operator/http/auth.js';
import { errorMessage, type Logger } from '../operator/logging.js';
import { Informer } from '../operator/runtime/informer.js';
import { KubeClients, loadKubeConfig } from '../operator/runtime/kube.js';
import { detectHierarchy } from './cgroup-fs.js';
import { NodeCollector } from './collect.js';
import type { AgentConfig } from './config.js';
import { AgentMetrics } from './metrics.js';
import { knownPod, podFields, type AgentPod } from './pods.js';
import { startAgentServer } from './server.js';
import { SharedRead } from './shared-read.js';
import { loadCertificate, selfSignedCertificate } from './tls.js';
import type { NodeReport } from './types.js';

export interface AgentDependencies {
  kube?: KubeClients;
  metrics?: AgentMetrics;
}

export interface RunningAgent {
  url: string;
  port: number;
  /** The serving certificate (PEM), for callers that pin it. */
  certificate: string;
  /** Reads the node now (shared with concurrent requests). */
  report(): Promise<NodeReport>;
  stop(): Promise<void>;
}

/** Bytes per page (the unit of statm), from the kernel's own account of this process's mappings. */
export async function detectPageSize(): Promise<number> {
  try {
    const smaps = await readFile('/proc/self/smaps', 'utf8');
    const kb = /^KernelPageSize:\s+(\d+) kB/m.exec(smaps)?.[1];
    if (kb) return Number(kb) * 1024;
  } catch {
    // fall through
  }
  return 4096;
}

/** USER_HZ: the unit of /proc times, 100 on every architecture Linux builds Kubernetes nodes for. */
const TICKS_PER_SECOND = 100;

export async function startAgent(
  config: AgentConfig,
  logger: Logger,
  deps: AgentDependencies = {},
): Promise<RunningAgent> {
  const hierarchy = await detectHierarchy(config.cgroupRoot, config.cgroupVersion);
  const pageSize = await detectPageSize();
  logger.info('cgroup hierarchy', {
    node: config.nodeName,
    cgroupVersion: hierarchy.version,
    trees: hierarchy.trees.map((t) => `${t.controller}=${t.mount}`),
    pageSize,
  });
  const kube = deps.kube ?? new KubeClients(loadKubeConfig(config.kubeconfig));
  const metrics = deps.metrics ?? new AgentMetrics();
  const pods = new Informer<AgentPod>({
    name: 'pods',
    source: kube.listWatcher<AgentPod>(
      { apiVersion: 'v1', kind: 'Pod', plural: 'pods' },
      { fieldSelector: `spec.nodeName=${config.nodeName}` },
    ),
    transform: podFields,
    logger,
  });
  pods.start();
  await pods.waitForSync();

  const collector = new NodeCollector({
    node: config.nodeName,
    hierarchy,
    proc: { procRoot: config.procRoot, ticksPerSecond: TICKS_PER_SECOND, pageSize },
    topProcesses: config.topProcesses,
  });
  let lastErrors = '';
  const read = async (): Promise<NodeReport> => {
    const end = metrics.readDuration.startTimer();
    try {
      const known = pods.list().flatMap((p) => knownPod(p) ?? []);
      const report = await collector.collect(known);
      metrics.reads.inc({ result: 'ok' });
      metrics.pods.set({ state: 'read' }, report.pods.length);
      metrics.pods.set({ state: 'without_cgroup' }, report.podsWithoutCgroup.length);
      metrics.readErrors.inc(report.readErrors.length);
      const errors = JSON.stringify(report.readErrors);
      if (errors !== lastErrors && report.readErrors.length > 0)
        logger.warn('some cgroup files could not be read', {
          node: config.nodeName,
          errors: report.readErrors,
        });
      lastErrors = errors;
      return report;
    } catch (err) {
      metrics.reads.inc({ result: 'error' });
      logger.error('reading the node failed', { node: config.nodeName, error: errorMessage(err) });
      throw err;
    } finally {
      end();
    }
  };
  const shared = new SharedRead(read, config.minIntervalMs);
  const certificate = config.tls
    ? await loadCertificate(config.tls.certFile, config.tls.keyFile)
    : await selfSignedCertificate(config.nodeName, config.address);
  const access = new AccessControl(kube.tokenReviewer(), kube.accessReviewer(), {
    clock: { now: () => Date.now() },
  });
  let server;
  try {
    server = await startAgentServer({
      nodeName: config.nodeName,
      address: config.address,
      port: config.port,
      cert: certificate.cert,
      key: certificate.key,
      access,
      metrics,
      report: () => shared.get(),
      logger,
    });
  } catch (err) {
    await pods.stop();
    throw err;
  }
  logger.info('agent serving', {
    node: config.nodeName,
    url: server.url,
    certificate: certificate.selfSigned ? 'self-signed' : 'mounted',
    fingerprint: certificate.fingerprint,
  });
  const started = server;
  return {
    url: started.url,
    port: started.port,
    certificate: certificate.cert,
    report: () => shared.get(),
    async stop() {
      await started.close();
      await pods.stop();
    },
  };
}
