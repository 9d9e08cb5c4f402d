import { describe, expect, it } from '@jest/globals';
import { ConfigError, parseCommandLine, type OperatorConfig } from '../../../operator/config.js';

const env = { MONGODB_URI: 'mongodb://mongo:27017' };

function config(argv: string[], environment: Record<string, string> = env): OperatorConfig {
  const parsed = parseCommandLine(argv, environment);
  if (parsed.kind !== 'run') throw new Error('expected a configuration');
  return parsed.config;
}

function errorOf(argv: string[], environment: Record<string, string> = env): string {
  try {
    parseCommandLine(argv, environment);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('parseCommandLine', () => {
  it('fills in defaults around the required MongoDB URI', () => {
    const c = config([], { ...env, POD_NAME: 'op-0' });
    expect(c).toEqual({
      kubeconfig: undefined,
      namespace: 'kube-usage-system',
      identity: 'op-0',
      leaderElection: {
        enabled: true,
        leaseName: 'kube-usage-operator',
        leaseDurationMs: 15_000,
        renewDeadlineMs: 10_000,
        retryPeriodMs: 2_000,
      },
      http: {
        address: '0.0.0.0',
        port: 8080,
        tokenAudience: 'kube-usage-operator',
        tls: { selfSigned: false },
      },
      mongodb: { uri: 'mongodb://mongo:27017', database: 'kube_usage' },
      logLevel: 'info',
      workers: 2,
      resyncPeriodMs: 600_000,
      perTargetMetrics: false,
      // OpenCost's on-prem prices; right-sizing summaries every 10 minutes.
      prices: { cpuCoreHour: 0.031611, memoryGiBHour: 0.004237 },
      rightsizingIntervalMs: 600_000,
      outageBufferSize: 100_000,
      shutdownTimeoutMs: 25_000,
      usageSource: {
        primary: 'kubelet',
        kubelet: {
          addressTypes: ['InternalIP', 'ExternalIP', 'Hostname'],
          insecureSkipTLSVerify: false,
          timeoutMs: 10_000,
        },
      },
      bounds: {
        maxRetention: { rawMs: 30 * 86_400_000, hourlyMs: 400 * 86_400_000, dailyMs: 1830 * 86_400_000 },
        maxPoliciesPerNamespace: 20,
        maxAlertsPerNamespace: 50,
        maxCollectedContainers: 0,
      },
      notifications: {
        webhookAllow: [],
        clusterPodCidrs: [],
        clusterServiceCidrs: [],
        clusterDomain: 'cluster.local',
        alertmanager: { urls: [] },
      },
      agents: {
        enabled: false,
        port: 10265,
        intervalMs: 15_000,
        timeoutMs: 5_000,
        insecureSkipTLSVerify: false,
      },
    });
  });

  it('reads the node agents when told, and how to verify them', () => {
    const c = config([
      '--agents',
      '--agent-port',
      '10300',
      '--agent-interval',
      '30s',
      '--agent-ca-file',
      '/ca.pem',
    ]);
    expect(c.agents).toEqual({
      enabled: true,
      port: 10300,
      intervalMs: 30_000,
      timeoutMs: 5_000,
      caFile: '/ca.pem',
      insecureSkipTLSVerify: false,
    });
    expect(() => config(['--agent-ca-file', '/ca.pem', '--agent-insecure-tls'])).toThrow(
      '--agent-ca-file and --agent-insecure-tls exclude each other',
    );
    expect(() => config(['--agent-interval', '0s'])).toThrow('must be longer than zero');
  });

  it('reads where notifications may go, and rejects what is not a CIDR or host', () => {
    const c = config(
      [
        '--webhook-allow',
        '127.0.0.0/8, hooks.internal.example,::1',
        '--cluster-service-cidrs=10.96.0.0/12',
        '--alertmanager-url',
        'https://am-0.monitoring:9093,https://am-1.monitoring:9093',
        '--alertmanager-bearer-token-file=/var/run/am/token',
      ],
      { ...env, CLUSTER_POD_CIDRS: '10.244.0.0/16' },
    );
    expect(c.notifications).toEqual({
      webhookAllow: ['127.0.0.0/8', 'hooks.internal.example', '::1'],
      clusterPodCidrs: ['10.244.0.0/16'],
      clusterServiceCidrs: ['10.96.0.0/12'],
      clusterDomain: 'cluster.local',
      alertmanager: {
        urls: ['https://am-0.monitoring:9093', 'https://am-1.monitoring:9093'],
        bearerTokenFile: '/var/run/am/token',
      },
    });
    expect(() => config(['--webhook-allow', '10.0.0.0/40'])).toThrow('the prefix length must be 0 to 32');
    expect(() => config(['--alertmanager-url', 'alertmanager:9093'])).toThrow(
      'must be an http:// or https:// URL',
    );
    expect(() => config(['--alertmanager-cert-file', '/c'])).toThrow(
      '--alertmanager-cert-file and --alertmanager-key-file go together',
    );
  });

  it('reads the bounds on alerts per namespace and the cluster-wide collection budget', () => {
    const c = config(['--max-alerts-per-namespace', '3'], { ...env, MAX_COLLECTED_CONTAINERS: '5000' });
    expect(c.bounds).toMatchObject({ maxAlertsPerNamespace: 3, maxCollectedContainers: 5000 });
    expect(errorOf(['--max-alerts-per-namespace', '0'])).toContain('--max-alerts-per-namespace');
    expect(errorOf(['--max-collected-containers', '-1'])).toContain('--max-collected-containers');
  });

  it('defaults the identity to hostname-pid outside a pod', () => {
    expect(config([]).identity).toMatch(new RegExp(`-${process.pid}$`));
  });

  it('reads flags', () => {
    const c = config([
      '--kubeconfig=/tmp/kc',
      '--namespace',
      'ops',
      '--leader-elect=false',
      '--leader-elect-lease-duration',
      '1m',
      '--leader-elect-renew-deadline=40s',
      '--leader-elect-retry-period=1s',
      '--http-address',
      '127.0.0.1',
      '--http-port',
      '0',
      '--mongodb-uri',
      'mongodb+srv://cluster.example',
      '--log-level=debug',
      '--workers=4',
      '--resync-period=0s',
      '--per-target-metrics',
      '--outage-buffer-size=10',
      '--shutdown-timeout=1m30s',
    ]);
    expect(c).toMatchObject({
      kubeconfig: '/tmp/kc',
      namespace: 'ops',
      leaderElection: {
        enabled: false,
        leaseDurationMs: 60_000,
        renewDeadlineMs: 40_000,
        retryPeriodMs: 1000,
      },
      http: { address: '127.0.0.1', port: 0 },
      mongodb: { uri: 'mongodb+srv://cluster.example' },
      logLevel: 'debug',
      workers: 4,
      resyncPeriodMs: 0,
      perTargetMetrics: true,
      outageBufferSize: 10,
      shutdownTimeoutMs: 90_000,
    });
  });

  it('reads environment variables, and a flag wins over its variable', () => {
    const environment = {
      MONGODB_URI: 'mongodb://a',
      POD_NAMESPACE: 'from-env',
      HTTP_PORT: '9000',
      LEADER_ELECT: 'false',
      KUBECONFIG: '/a:/b',
      LOG_LEVEL: 'warn',
    };
    const c = config(['--http-port=9100'], environment);
    expect(c).toMatchObject({
      namespace: 'from-env',
      http: { port: 9100 },
      leaderElection: { enabled: false },
      kubeconfig: '/a:/b',
      logLevel: 'warn',
    });
  });

  it('names the flag of an invalid value', () => {
    expect(errorOf(['--http-port=70000'])).toMatch(/--http-port.*integer from 0 to 65535/);
    expect(errorOf(['--workers=two'])).toMatch(/--workers.*integer from 1 to 64/);
    expect(errorOf(['--namespace=Bad_Name'])).toMatch(/--namespace.*DNS label/);
    expect(errorOf(['--leader-elect-lease-duration=soon'])).toMatch(
      /--leader-elect-lease-duration.*duration/,
    );
    expect(errorOf(['--log-level=verbose'])).toMatch(/--log-level.*one of error, warn, info, debug/);
    expect(errorOf(['--leader-elect=maybe'])).toMatch(/--leader-elect.*true or false/);
    expect(errorOf(['--no-such-flag'])).toMatch(/unknown option '--no-such-flag'/);
  });

  it('names the variable and its flag of an invalid environment value', () => {
    expect(errorOf([], { ...env, HTTP_PORT: 'http' })).toBe(
      'environment variable HTTP_PORT (--http-port): must be an integer from 0 to 65535',
    );
  });

  it('requires a MongoDB URI and never repeats it in errors', () => {
    expect(errorOf([], {})).toBe('--mongodb-uri (env MONGODB_URI) is required');
    const message = errorOf(['--mongodb-uri=postgres://user:secret@db']);
    expect(message).toMatch(/--mongodb-uri.*mongodb:\/\//);
    expect(message).not.toContain('secret');
  });

  it('rejects leader election timing that could let two replicas lead', () => {
    expect(errorOf(['--leader-elect-renew-deadline=15s'])).toMatch(
      /--leader-elect-lease-duration.*lease duration must exceed the renew deadline/,
    );
    expect(errorOf(['--leader-elect-retry-period=9s'])).toMatch(
      /--leader-elect-retry-period.*renew deadline must exceed 1.2 x the retry period/,
    );
  });

  it('documents every flag with its environment variable in --help', () => {
    const parsed = parseCommandLine(['--help'], {});
    expect(parsed.kind).toBe('help');
    const text = parsed.kind === 'help' ? parsed.text : '';
    for (const [flag, variable] of [
      ['--kubeconfig', 'KUBECONFIG'],
      ['--namespace', 'POD_NAMESPACE'],
      ['--mongodb-uri', 'MONGODB_URI'],
      ['--http-port', 'HTTP_PORT'],
      ['--leader-elect-retry-period', 'LEADER_ELECT_RETRY_PERIOD'],
    ]) {
      expect(text).toMatch(new RegExp(`${flag}[\\s\\S]*\\[env ${variable}\\]`));
    }
    expect(text).toContain('(default: 15s)');
  });
});
