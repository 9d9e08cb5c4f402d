/**
 * The node agent's settings: flags, each with an environment variable (the flag wins), and
 * their validation. `kube-usage-agent --help` lists them.
 */
import { isIP } from 'node:net';
import { Command } from 'commander';
import { declareFlags, nonEmpty, parseFlagsAndEnv, type Env } from '../operator/command-line.js';
import { parseDuration } from '../api/duration.js';
import { LOG_LEVELS, type LogLevel } from '../operator/logging.js';

/** The agent's HTTPS port unless --port says otherwise (beside the kubelet's 10250). */
export const DEFAULT_AGENT_PORT = 10265;

export interface AgentConfig {
  /** kubeconfig path; absent means the in-cluster service account. */
  kubeconfig?: string;
  /** The node this agent runs on: its pods are those with spec.nodeName equal to it. */
  nodeName: string;
  /** Address to listen on: the node's (status.hostIP through the downward API). */
  address: string;
  port: number;
  /** PEM certificate and key; without them a self-signed certificate is made at start-up. */
  tls?: { certFile: string; keyFile: string };
  cgroupRoot: string;
  /** Forces a cgroup version; detected from cgroupRoot when absent. */
  cgroupVersion?: 1 | 2;
  procRoot: string;
  /** Processes listed per container (the rest are only counted). */
  topProcesses: number;
  /** Requests within this long of the last read are answered from it. */
  minIntervalMs: number;
  logLevel: LogLevel;
}

export type AgentCommandLine = { kind: 'run'; config: AgentConfig } | { kind: 'help'; text: string };

export class AgentConfigError extends Error {
  override name = 'AgentConfigError';
}

const address = (text: string) => {
  if (isIP(text) === 0) throw new Error(`"${text}" is not an IP address`);
  return text;
};
const integerIn = (min: number, max: number) => (text: string) => {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max)
    throw new Error(`"${text}" is not an integer in [${min}, ${max}]`);
  return n;
};
const cgroupVersion = (text: string) => {
  if (text === 'auto') return undefined;
  if (text === '1' || text === '2') return Number(text) as 1 | 2;
  throw new Error(`"${text}" is not one of auto, 1, 2`);
};
const duration = (text: string) => {
  return parseDuration(text);
};
const logLevel = (text: string) => {
  if (!(LOG_LEVELS as readonly string[]).includes(text))
    throw new Error(`"${text}" is not one of ${LOG_LEVELS.join(', ')}`);
  return text as LogLevel;
};

export function parseAgentCommandLine(argv: readonly string[], env: Env = process.env): AgentCommandLine {
  const program = new Command('kube-usage-agent')
    .description(
      "Reads each pod's cgroups and /proc on this node and serves them over HTTPS to callers whose token may get nodes/stats.",
    )
    .allowExcessArguments(false)
    .helpOption('-h, --help', 'show this help');
  const { settings, add } = declareFlags(program);
  add(
    '--kubeconfig <path>',
    'KUBECONFIG',
    'kubeconfig file; the in-cluster service account when unset',
    nonEmpty,
  );
  add('--node-name <name>', 'NODE_NAME', 'the node this agent runs on (spec.nodeName)', nonEmpty);
  add('--address <ip>', 'HOST_IP', "address to listen on: the node's", address, ['0.0.0.0', '0.0.0.0']);
  add('--port <port>', 'AGENT_PORT', 'HTTPS port', integerIn(0, 65535), [
    DEFAULT_AGENT_PORT,
    String(DEFAULT_AGENT_PORT),
  ]);
  add('--tls-cert-file <path>', 'TLS_CERT_FILE', 'PEM certificate (chain); self-signed when unset', nonEmpty);
  add('--tls-key-file <path>', 'TLS_KEY_FILE', 'PEM private key of --tls-cert-file', nonEmpty);
  add('--cgroup-root <path>', 'CGROUP_ROOT', "where the host's cgroup file system is mounted", nonEmpty, [
    '/sys/fs/cgroup',
    '/sys/fs/cgroup',
  ]);
  add('--cgroup-version <v>', 'CGROUP_VERSION', 'auto, 1 or 2', cgroupVersion, [undefined, 'auto']);
  add('--proc-root <path>', 'PROC_ROOT', "where the host's /proc is mounted", nonEmpty, ['/proc', '/proc']);
  add('--top-processes <n>', 'TOP_PROCESSES', 'processes listed per container, by CPU', integerIn(0, 1000), [
    10,
    '10',
  ]);
  add('--min-interval <duration>', 'MIN_INTERVAL', 'requests this soon after a read share it', duration, [
    1000,
    '1s',
  ]);
  add('--log-level <level>', 'LOG_LEVEL', LOG_LEVELS.join(', '), logLevel, ['info', 'info']);

  const parsed = parseFlagsAndEnv(program, settings, argv, env, (message) => new AgentConfigError(message));
  if (parsed.kind === 'help') return parsed;
  const values = parsed.values;
  if (!values.nodeName)
    throw new AgentConfigError('--node-name (NODE_NAME) is required: the node this agent runs on');
  if (Boolean(values.tlsCertFile) !== Boolean(values.tlsKeyFile))
    throw new AgentConfigError('--tls-cert-file and --tls-key-file go together');
  const config: AgentConfig = {
    nodeName: values.nodeName as string,
    address: values.address as string,
    port: values.port as number,
    cgroupRoot: values.cgroupRoot as string,
    procRoot: values.procRoot as string,
    topProcesses: values.topProcesses as number,
    minIntervalMs: values.minInterval as number,
    logLevel: values.logLevel as LogLevel,
  };
  if (values.kubeconfig) config.kubeconfig = values.kubeconfig as string;
  if (values.cgroupVersion !== undefined) config.cgroupVersion = values.cgroupVersion as 1 | 2;
  if (values.tlsCertFile)
    config.tls = { certFile: values.tlsCertFile as string, keyFile: values.tlsKeyFile as string };
  return { kind: 'run', config };
}
