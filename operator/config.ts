import { hostname } from 'node:os';
import { Command } from 'commander';
import { declareFlags, nonEmpty, parseFlagsAndEnv, type Env, type Setting } from './command-line.js';
import { parseDuration } from '../api/duration.js';
import { parseCidr } from './alerting/notifiers/destination-policy.js';
import { LOG_LEVELS, type LogLevel } from './logging.js';
import { leaderElectionTimingProblem } from './runtime/leader-election.js';

/** Everything the operator is configured with, validated. Durations in ms. */
export interface OperatorConfig {
  /** kubeconfig path(s); absent means the in-cluster service account. */
  kubeconfig?: string;
  /** The operator's own namespace: its Lease, and the admin's policies that may select across namespaces. */
  namespace: string;
  /** This replica's name in leader election and Events. */
  identity: string;
  leaderElection: {
    enabled: boolean;
    leaseName: string;
    leaseDurationMs: number;
    renewDeadlineMs: number;
    retryPeriodMs: number;
  };
  http: {
    address: string;
    port: number;
    /** API callers' tokens must carry this audience (TokenReview audiences); empty: any token the apiserver accepts. */
    tokenAudience: string;
    /** TLS: a certificate and key from files (a mounted Secret), or a self-signed one made at start; plain HTTP without either. */
    tls: { certFile?: string; keyFile?: string; selfSigned: boolean };
  };
  mongodb: { uri: string; database: string };
  logLevel: LogLevel;
  /** Reconcile workers per controller. */
  workers: number;
  /** How often informers re-deliver every object to the controllers; 0 turns it off. */
  resyncPeriodMs: number;
  /** Export per-container usage gauges on /metrics (high cardinality). */
  perTargetMetrics: boolean;
  /** Samples kept in memory while MongoDB is unreachable (oldest dropped first). */
  outageBufferSize: number;
  /**
   * Where usage is read: the kubelets' resource endpoints (metrics.k8s.io as the fallback when no
   * node can be read), or metrics.k8s.io only.
   */
  usageSource: { primary: 'kubelet' | 'metrics-api'; kubelet: KubeletAccess };
  shutdownTimeoutMs: number;
  /** Where notifications go: the admin's Alertmanagers, and what tenant webhooks may reach. */
  notifications: NotificationConfig;
  /** What tenants may ask of the shared store; also the store's TTL backstop on MongoDB. */
  bounds: {
    maxRetention: { rawMs: number; hourlyMs: number; dailyMs: number };
    maxPoliciesPerNamespace: number;
    maxAlertsPerNamespace: number;
    /** Containers collected cluster-wide at most (all policies together); 0: no budget. */
    maxCollectedContainers: number;
  };
  /** The built dashboard served under /ui/; absent: dist/ui of the package. */
  uiDirectory?: string;
  /** The node agents (manifests/agent): read over HTTPS on each node's address when enabled. */
  agents: AgentsConfig;
  /** Prices of right-sizing's cost differences (docs/rightsizing.md). */
  prices: { cpuCoreHour: number; memoryGiBHour: number };
  /** How often the UsagePolicy status' right-sizing summary and the OOM Events are refreshed. */
  rightsizingIntervalMs: number;
}

export interface AgentsConfig {
  enabled: boolean;
  port: number;
  intervalMs: number;
  timeoutMs: number;
  /** CA bundle that signs the agents' serving certificates; the kubeconfig's cluster CA when absent. */
  caFile?: string;
  /** Do not verify the agents' certificates (their self-signed ones). */
  insecureSkipTLSVerify: boolean;
}

/** How the kubelets are reached, as metrics-server's flags of the same names. */
export interface KubeletAccess {
  addressTypes: string[];
  insecureSkipTLSVerify: boolean;
  caFile?: string;
  timeoutMs: number;
}

export interface NotificationConfig {
  /** CIDRs and exact host names tenant webhooks may reach despite the default refusals. */
  webhookAllow: string[];
  clusterPodCidrs: string[];
  clusterServiceCidrs: string[];
  clusterDomain: string;
  alertmanager: {
    urls: string[];
    caFile?: string;
    certFile?: string;
    keyFile?: string;
    bearerTokenFile?: string;
    basicAuthFile?: string;
  };
}

/** The audience API tokens carry by default: `kubectl create token SA --audience kube-usage-operator`. */
export const DEFAULT_TOKEN_AUDIENCE = 'kube-usage-operator';

export type CommandLine = { kind: 'run'; config: OperatorConfig } | { kind: 'help'; text: string };

/** A setting is invalid; the message names the flag and its environment variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Parses the command line (without the node and script arguments) and the environment.
 * A flag wins over its environment variable, which wins over the default.
 */
export function parseCommandLine(argv: readonly string[], env: Env = process.env): CommandLine {
  const { program, settings } = describeCommandLine(env);
  const parsed = parseFlagsAndEnv(program, settings, argv, env, (message) => new ConfigError(message));
  if (parsed.kind === 'help') return parsed;
  const values = parsed.values;
  return { kind: 'run', config: validated(values) };
}

function describeCommandLine(env: Env): { program: Command; settings: Setting[] } {
  const program = new Command('kube-usage-operator')
    .description(
      'Records what every container uses, keeps the history in MongoDB, and evaluates ResourceAlerts.',
    )
    .allowExcessArguments(false)
    .helpOption('-h, --help', 'show this help');
  const { settings, add } = declareFlags(program);

  add(
    '--kubeconfig <paths>',
    'KUBECONFIG',
    'kubeconfig file(s); the in-cluster service account when unset',
    nonEmpty,
  );
  add('--namespace <name>', 'POD_NAMESPACE', "the operator's own namespace", dnsLabel, [
    'kube-usage-system',
    'kube-usage-system',
  ]);
  add('--identity <name>', 'POD_NAME', 'this replica in leader election and Events', nonEmpty, [
    defaultIdentity(env),
    'hostname-pid',
  ]);
  add('--leader-elect [bool]', 'LEADER_ELECT', 'run two or more replicas of which one leads', bool, [
    true,
    'true',
  ]);
  add(
    '--leader-elect-lease-name <name>',
    'LEADER_ELECT_LEASE_NAME',
    'the coordination.k8s.io Lease in the operator namespace',
    dnsSubdomain,
    ['kube-usage-operator', 'kube-usage-operator'],
  );
  add(
    '--leader-elect-lease-duration <duration>',
    'LEADER_ELECT_LEASE_DURATION',
    'how long a standby waits before taking an unrenewed lease',
    positiveDuration,
    [15_000, '15s'],
  );
  add(
    '--leader-elect-renew-deadline <duration>',
    'LEADER_ELECT_RENEW_DEADLINE',
    'how long the leader leads without a successful renewal',
    positiveDuration,
    [10_000, '10s'],
  );
  add(
    '--leader-elect-retry-period <duration>',
    'LEADER_ELECT_RETRY_PERIOD',
    'interval between attempts to acquire or renew the lease',
    positiveDuration,
    [2_000, '2s'],
  );
  add(
    '--http-address <address>',
    'HTTP_ADDRESS',
    'address the HTTP API, /metrics and health probes listen on',
    nonEmpty,
    ['0.0.0.0', '0.0.0.0'],
  );
  add('--http-port <port>', 'HTTP_PORT', 'port of the HTTP server; 0 picks a free one', port, [8080, '8080']);
  add(
    '--api-token-audience <audience>',
    'API_TOKEN_AUDIENCE',
    'audience API callers\' tokens must carry (kubectl create token --audience ...); "" accepts any apiserver token',
    (text: string) => text.trim(),
    [DEFAULT_TOKEN_AUDIENCE, DEFAULT_TOKEN_AUDIENCE],
  );
  add(
    '--tls-cert-file <path>',
    'TLS_CERT_FILE',
    'PEM certificate (chain) of the HTTP server, e.g. tls.crt of a cert-manager Secret; re-read when it changes',
    nonEmpty,
  );
  add('--tls-key-file <path>', 'TLS_KEY_FILE', 'PEM private key of the HTTP server (tls.key)', nonEmpty);
  add(
    '--tls-self-signed [bool]',
    'TLS_SELF_SIGNED',
    'serve HTTPS with a self-signed certificate made at start (local use)',
    bool,
    [false, 'false'],
  );
  // Checked in validated(): commander would echo an invalid value, and this one holds credentials.
  add(
    '--mongodb-uri <uri>',
    'MONGODB_URI',
    'MongoDB connection string (required; prefer the env var, it holds credentials)',
    nonEmpty,
  );
  add('--mongodb-database <name>', 'MONGODB_DATABASE', 'MongoDB database', mongodbDatabase, [
    'kube_usage',
    'kube_usage',
  ]);
  add('--log-level <level>', 'LOG_LEVEL', `one of ${LOG_LEVELS.join(', ')}`, logLevel, ['info', 'info']);
  add('--workers <n>', 'WORKERS', 'reconcile workers per controller', integerIn(1, 64), [2, '2']);
  add(
    '--resync-period <duration>',
    'RESYNC_PERIOD',
    'how often every object is reconciled again; 0s turns it off',
    parseDuration,
    [600_000, '10m'],
  );
  add(
    '--per-target-metrics [bool]',
    'PER_TARGET_METRICS',
    'export per-container usage gauges on /metrics',
    bool,
    [false, 'false'],
  );
  add(
    '--usage-source <source>',
    'USAGE_SOURCE',
    "kubelet (the nodes' resource endpoints, metrics.k8s.io when no node can be read) or metrics-api (metrics.k8s.io only)",
    usageSource,
    ['kubelet', 'kubelet'],
  );
  add(
    '--kubelet-preferred-address-types <list>',
    'KUBELET_PREFERRED_ADDRESS_TYPES',
    'node address types tried in order to reach a kubelet',
    listOf(nonEmpty),
    [['InternalIP', 'ExternalIP', 'Hostname'], 'InternalIP,ExternalIP,Hostname'],
  );
  add(
    '--kubelet-insecure-tls [bool]',
    'KUBELET_INSECURE_TLS',
    "do not verify the kubelets' serving certificates",
    bool,
    [false, 'false'],
  );
  add(
    '--kubelet-certificate-authority <path>',
    'KUBELET_CERTIFICATE_AUTHORITY',
    "PEM CA bundle that signs the kubelets' serving certificates (default: the cluster CA)",
    nonEmpty,
  );
  add(
    '--kubelet-request-timeout <duration>',
    'KUBELET_REQUEST_TIMEOUT',
    "deadline of one node's read",
    positiveDuration,
    [10_000, '10s'],
  );
  add(
    '--outage-buffer-size <samples>',
    'OUTAGE_BUFFER_SIZE',
    'samples kept in memory while MongoDB is unreachable',
    integerIn(0, 10_000_000),
    [100_000, '100000'],
  );
  add(
    '--shutdown-timeout <duration>',
    'SHUTDOWN_TIMEOUT',
    'exit with an error if a graceful shutdown takes longer',
    positiveDuration,
    [25_000, '25s'],
  );
  add(
    '--max-retention-raw <duration>',
    'MAX_RETENTION_RAW',
    'longest raw retention a UsagePolicy may ask for (longer ones get Ready=False)',
    positiveDuration,
    [30 * 86_400_000, '30d'],
  );
  add(
    '--max-retention-hourly <duration>',
    'MAX_RETENTION_HOURLY',
    'longest hourly retention a UsagePolicy may ask for',
    positiveDuration,
    [400 * 86_400_000, '400d'],
  );
  add(
    '--max-retention-daily <duration>',
    'MAX_RETENTION_DAILY',
    'longest daily retention a UsagePolicy may ask for',
    positiveDuration,
    [1830 * 86_400_000, '1830d'],
  );
  add(
    '--max-policies-per-namespace <n>',
    'MAX_POLICIES_PER_NAMESPACE',
    'UsagePolicies that collect in one namespace (the newest beyond get Ready=False)',
    integerIn(1, 10_000),
    [20, '20'],
  );
  add(
    '--max-alerts-per-namespace <n>',
    'MAX_ALERTS_PER_NAMESPACE',
    'ResourceAlerts evaluated in one namespace (the newest beyond get Ready=False)',
    integerIn(1, 10_000),
    [50, '50'],
  );
  add(
    '--max-collected-containers <n>',
    'MAX_COLLECTED_CONTAINERS',
    'containers collected cluster-wide by all UsagePolicies together; policies beyond, newest first, get Ready=False; 0 means no budget',
    integerIn(0, 10_000_000),
    [0, '0'],
  );
  add(
    '--webhook-allow <list>',
    'WEBHOOK_ALLOW',
    'comma-separated CIDRs and host names ResourceAlert webhooks may reach although private or in-cluster (e.g. 127.0.0.0/8 for local receivers)',
    listOf(allowEntry),
    [[], 'none'],
  );
  add(
    '--cluster-pod-cidrs <list>',
    'CLUSTER_POD_CIDRS',
    "the cluster's pod CIDRs, refused as webhook destinations",
    listOf(cidr),
    [[], 'none'],
  );
  add(
    '--cluster-service-cidrs <list>',
    'CLUSTER_SERVICE_CIDRS',
    "the cluster's Service CIDRs, refused as webhook destinations",
    listOf(cidr),
    [[], 'none'],
  );
  add('--cluster-domain <domain>', 'CLUSTER_DOMAIN', "the cluster's DNS domain", dnsSubdomain, [
    'cluster.local',
    'cluster.local',
  ]);
  add(
    '--alertmanager-url <urls>',
    'ALERTMANAGER_URLS',
    'comma-separated Alertmanager base URLs (one HA cluster) that ResourceAlerts may opt in to',
    listOf(httpUrl),
    [[], 'none'],
  );
  add('--alertmanager-ca-file <path>', 'ALERTMANAGER_CA_FILE', 'PEM CA bundle for Alertmanager', nonEmpty);
  add(
    '--alertmanager-cert-file <path>',
    'ALERTMANAGER_CERT_FILE',
    'PEM client certificate for Alertmanager (mutual TLS)',
    nonEmpty,
  );
  add('--alertmanager-key-file <path>', 'ALERTMANAGER_KEY_FILE', 'PEM client key for Alertmanager', nonEmpty);
  add(
    '--alertmanager-bearer-token-file <path>',
    'ALERTMANAGER_BEARER_TOKEN_FILE',
    'file with a bearer token for Alertmanager (re-read at every delivery)',
    nonEmpty,
  );
  add(
    '--alertmanager-basic-auth-file <path>',
    'ALERTMANAGER_BASIC_AUTH_FILE',
    'file with user:password for Alertmanager (re-read at every delivery)',
    nonEmpty,
  );
  add(
    '--agents [bool]',
    'AGENTS',
    'read the node agents (manifests/agent) for network, block I/O, processes and host statistics',
    bool,
    [false, 'false'],
  );
  add('--agent-port <port>', 'AGENT_PORT', "the agents' HTTPS port on each node's address", port, [
    10265,
    '10265',
  ]);
  add('--agent-interval <duration>', 'AGENT_INTERVAL', 'how often every agent is read', positiveDuration, [
    15_000,
    '15s',
  ]);
  add('--agent-timeout <duration>', 'AGENT_TIMEOUT', "deadline of one agent's read", positiveDuration, [
    5_000,
    '5s',
  ]);
  add(
    '--agent-ca-file <path>',
    'AGENT_CA_FILE',
    "PEM CA bundle that signs the agents' serving certificates (default: the cluster CA)",
    nonEmpty,
  );
  add(
    '--agent-insecure-tls [bool]',
    'AGENT_INSECURE_TLS',
    "do not verify the agents' serving certificates (their self-signed ones)",
    bool,
    [false, 'false'],
  );
  add(
    '--price-cpu-core-hour <price>',
    'PRICE_CPU_CORE_HOUR',
    "price of one core for one hour in recommendations' cost differences (OpenCost's on-prem default)",
    nonNegativeNumber,
    [0.031611, '0.031611'],
  );
  add(
    '--price-memory-gib-hour <price>',
    'PRICE_MEMORY_GIB_HOUR',
    "price of one GiB of memory for one hour in recommendations' cost differences (OpenCost's on-prem default)",
    nonNegativeNumber,
    [0.004237, '0.004237'],
  );
  add(
    '--rightsizing-interval <duration>',
    'RIGHTSIZING_INTERVAL',
    "how often the policies' right-sizing summaries and the OOM-kill Events are refreshed",
    positiveDuration,
    [600_000, '10m'],
  );
  add(
    '--ui-dir <path>',
    'UI_DIR',
    'the built dashboard served under /ui/ (default: dist/ui of the package)',
    nonEmpty,
  );
  return { program, settings };
}

function validated(values: Record<string, unknown>): OperatorConfig {
  if (typeof values.mongodbUri !== 'string') {
    throw new ConfigError('--mongodb-uri (env MONGODB_URI) is required');
  }
  if (!/^mongodb(\+srv)?:\/\/[^/?#\s]+/.test(values.mongodbUri)) {
    throw new ConfigError('--mongodb-uri (env MONGODB_URI) must be a mongodb:// or mongodb+srv:// URI');
  }
  const config: OperatorConfig = {
    kubeconfig: values.kubeconfig as string | undefined,
    namespace: values.namespace as string,
    identity: values.identity as string,
    leaderElection: {
      enabled: values.leaderElect as boolean,
      leaseName: values.leaderElectLeaseName as string,
      leaseDurationMs: values.leaderElectLeaseDuration as number,
      renewDeadlineMs: values.leaderElectRenewDeadline as number,
      retryPeriodMs: values.leaderElectRetryPeriod as number,
    },
    http: {
      address: values.httpAddress as string,
      port: values.httpPort as number,
      tokenAudience: values.apiTokenAudience as string,
      tls: {
        ...optionalString('certFile', values.tlsCertFile),
        ...optionalString('keyFile', values.tlsKeyFile),
        selfSigned: values.tlsSelfSigned as boolean,
      },
    },
    mongodb: { uri: values.mongodbUri, database: values.mongodbDatabase as string },
    logLevel: values.logLevel as LogLevel,
    workers: values.workers as number,
    resyncPeriodMs: values.resyncPeriod as number,
    perTargetMetrics: values.perTargetMetrics as boolean,
    outageBufferSize: values.outageBufferSize as number,
    usageSource: {
      primary: values.usageSource as 'kubelet' | 'metrics-api',
      kubelet: {
        addressTypes: values.kubeletPreferredAddressTypes as string[],
        insecureSkipTLSVerify: values.kubeletInsecureTls as boolean,
        ...optionalString('caFile', values.kubeletCertificateAuthority),
        timeoutMs: values.kubeletRequestTimeout as number,
      },
    },
    shutdownTimeoutMs: values.shutdownTimeout as number,
    bounds: {
      maxRetention: {
        rawMs: values.maxRetentionRaw as number,
        hourlyMs: values.maxRetentionHourly as number,
        dailyMs: values.maxRetentionDaily as number,
      },
      maxPoliciesPerNamespace: values.maxPoliciesPerNamespace as number,
      maxAlertsPerNamespace: values.maxAlertsPerNamespace as number,
      maxCollectedContainers: values.maxCollectedContainers as number,
    },
    notifications: {
      webhookAllow: values.webhookAllow as string[],
      clusterPodCidrs: values.clusterPodCidrs as string[],
      clusterServiceCidrs: values.clusterServiceCidrs as string[],
      clusterDomain: values.clusterDomain as string,
      alertmanager: {
        urls: values.alertmanagerUrl as string[],
        ...optionalString('caFile', values.alertmanagerCaFile),
        ...optionalString('certFile', values.alertmanagerCertFile),
        ...optionalString('keyFile', values.alertmanagerKeyFile),
        ...optionalString('bearerTokenFile', values.alertmanagerBearerTokenFile),
        ...optionalString('basicAuthFile', values.alertmanagerBasicAuthFile),
      },
    },
    ...(typeof values.uiDir === 'string' ? { uiDirectory: values.uiDir } : {}),
    prices: {
      cpuCoreHour: values.priceCpuCoreHour as number,
      memoryGiBHour: values.priceMemoryGibHour as number,
    },
    rightsizingIntervalMs: values.rightsizingInterval as number,
    agents: {
      enabled: values.agents as boolean,
      port: values.agentPort as number,
      intervalMs: values.agentInterval as number,
      timeoutMs: values.agentTimeout as number,
      ...optionalString('caFile', values.agentCaFile),
      insecureSkipTLSVerify: values.agentInsecureTls as boolean,
    },
  };
  if (config.agents.caFile !== undefined && config.agents.insecureSkipTLSVerify)
    throw new ConfigError('--agent-ca-file and --agent-insecure-tls exclude each other');
  const tls = config.http.tls;
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined))
    throw new ConfigError('--tls-cert-file and --tls-key-file go together');
  if (tls.certFile !== undefined && tls.selfSigned)
    throw new ConfigError('--tls-self-signed excludes --tls-cert-file and --tls-key-file');
  const am = config.notifications.alertmanager;
  if ((am.certFile === undefined) !== (am.keyFile === undefined))
    throw new ConfigError('--alertmanager-cert-file and --alertmanager-key-file go together');
  if (am.bearerTokenFile !== undefined && am.basicAuthFile !== undefined)
    throw new ConfigError(
      '--alertmanager-bearer-token-file and --alertmanager-basic-auth-file exclude each other',
    );
  const problem = leaderElectionTimingProblem(config.leaderElection);
  if (problem) {
    throw new ConfigError(
      `--leader-elect-lease-duration, --leader-elect-renew-deadline, --leader-elect-retry-period: ${problem}`,
    );
  }
  return config;
}

function optionalString<K extends string>(key: K, value: unknown): Partial<Record<K, string>> {
  return typeof value === 'string' ? ({ [key]: value } as Record<K, string>) : {};
}

function listOf<T>(parse: (text: string) => T): (text: string) => T[] {
  return (text) =>
    text
      .split(',')
      .map((part) => part.trim())
      .filter((part) => part !== '')
      .map(parse);
}

function cidr(text: string): string {
  parseCidr(text);
  return text;
}

function allowEntry(text: string): string {
  if (/^[0-9.]+(\/\d+)?$/.test(text) || text.includes(':')) return cidr(text);
  if (!/^[a-zA-Z0-9]([-a-zA-Z0-9.]*[a-zA-Z0-9])?$/.test(text))
    throw new Error(`"${text}" is neither a CIDR nor a host name`);
  return text.toLowerCase();
}

function httpUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`"${text}" is not a URL`);
  }
  if (!['http:', 'https:'].includes(url.protocol) || url.hostname === '')
    throw new Error(`"${text}" must be an http:// or https:// URL with a host`);
  return text;
}

function defaultIdentity(env: Env): string {
  return env.POD_NAME || `${hostname()}-${process.pid}`;
}

function dnsLabel(text: string): string {
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(text)) {
    throw new Error('must be a DNS label: lower-case letters, digits and "-", at most 63 characters');
  }
  return text;
}

function dnsSubdomain(text: string): string {
  if (text.length > 253 || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(text)) {
    throw new Error(
      'must be a DNS subdomain: lower-case letters, digits, "-" and ".", at most 253 characters',
    );
  }
  return text;
}

function bool(text: string | undefined): boolean {
  // `--flag` alone passes no text (commander presets it): true.
  if (text === undefined || text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  throw new Error('must be true or false');
}

function positiveDuration(text: string): number {
  const ms = parseDuration(text);
  if (ms <= 0) throw new Error('must be longer than zero');
  return ms;
}

function nonNegativeNumber(text: string): number {
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !Number.isFinite(n)) throw new Error('must be a number, at least 0');
  return n;
}

function integerIn(min: number, max: number): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < min || n > max)
      throw new Error(`must be an integer from ${min} to ${max}`);
    return n;
  };
}

const port = integerIn(0, 65535);

function usageSource(text: string): 'kubelet' | 'metrics-api' {
  if (text !== 'kubelet' && text !== 'metrics-api') throw new Error('must be kubelet or metrics-api');
  return text;
}

function logLevel(text: string): LogLevel {
  if (!(LOG_LEVELS as readonly string[]).includes(text))
    throw new Error(`must be one of ${LOG_LEVELS.join(', ')}`);
  return text as LogLevel;
}

function mongodbDatabase(text: string): string {
  if (!/^[^/\\. "$*<>:|?]{1,63}$/.test(text)) {
    throw new Error('must be 1 to 63 characters without / \\ . space " $ * < > : | ?');
  }
  return text;
}
