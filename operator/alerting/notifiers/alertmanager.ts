/**
 * Alertmanager API v2: POST {url}/api/v2/alerts with a list of alerts. A firing alert carries
 * `endsAt` a few re-send intervals ahead, so Alertmanager keeps it active while the operator
 * re-sends it and resolves it by itself if the operator stops; a resolution sets `endsAt` to
 * the resolution time.
 *
 * The Alertmanagers are the cluster admin's, configured on the operator (one or more URLs of
 * an HA cluster, TLS and credentials, as Prometheus does): a ResourceAlert only opts in and
 * adds labels. Every configured URL gets every post; a delivery succeeds when one of them
 * accepted it (the instances of an HA cluster share alerts among themselves).
 */
import { readFileSync } from 'node:fs';
import { formatTime } from '../format.js';
import { formatInstant } from '../../../api/timestamp.js';
import { systemTimers, type Timers } from '../../runtime/clock.js';
import { DEFAULT_HTTP_TIMEOUT_MS, postJson, type TlsOptions } from './http.js';
import { DEFAULT_RESEND_INTERVAL_MS, type Notification, type RepeatingNotifier } from './notification.js';

/** The operator's Alertmanager receivers, shared by every ResourceAlert that opts in. */
export interface AlertmanagerTargets {
  /** Base URLs, e.g. https://alertmanager.monitoring:9093 */
  urls: readonly string[];
  tls?: TlsOptions;
  /** The Authorization header's value for every post, read at each delivery (a rotated token is used at once). */
  authorization?: () => string | undefined;
  timeoutMs?: number;
}

/** Files as the admin configures them (mounted Secrets). */
export interface AlertmanagerFiles {
  urls: readonly string[];
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** A bearer token (Authorization: Bearer). */
  bearerTokenFile?: string;
  /** `user:password` (Authorization: Basic). */
  basicAuthFile?: string;
}

/** Reads the TLS files once and the credential file at every delivery. */
export function alertmanagerTargets(files: AlertmanagerFiles): AlertmanagerTargets {
  const read = (path: string) => readFileSync(path, 'utf8');
  const tls: TlsOptions = {
    ...(files.caFile && { ca: read(files.caFile) }),
    ...(files.certFile && { cert: read(files.certFile) }),
    ...(files.keyFile && { key: read(files.keyFile) }),
  };
  const { bearerTokenFile, basicAuthFile } = files;
  const authorization = bearerTokenFile
    ? () => `Bearer ${read(bearerTokenFile).trim()}`
    : basicAuthFile
      ? () => `Basic ${Buffer.from(read(basicAuthFile).trim()).toString('base64')}`
      : undefined;
  return { urls: files.urls, tls, ...(authorization && { authorization }) };
}

export interface AlertmanagerOptions {
  targets: AlertmanagerTargets;
  /** Labels the ResourceAlert adds; the identifying labels win over them. */
  labels?: Record<string, string>;
  /** How long a firing alert stays active without a re-send: 4 re-send intervals by default. */
  activeForMs?: number;
  /** Link back to the source, e.g. a console URL of the ResourceAlert. */
  generatorURL?: string;
  /** endsAt and the request timeout; the system's by default. */
  clock?: Timers;
}

/** The body of one alert in POST /api/v2/alerts (postableAlert). */
export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
}

export class AlertmanagerNotifier implements RepeatingNotifier {
  readonly name = 'alertmanager';
  readonly lane = 'http';
  readonly receiver = 'alertmanager';
  private readonly endpoints: string[];
  private readonly timeoutMs: number;
  private readonly activeForMs: number;
  private readonly clock: Timers;

  constructor(private readonly options: AlertmanagerOptions) {
    this.endpoints = options.targets.urls.map((url) => `${url.replace(/\/+$/, '')}/api/v2/alerts`);
    this.timeoutMs = options.targets.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
    this.activeForMs = options.activeForMs ?? 4 * DEFAULT_RESEND_INTERVAL_MS;
    this.clock = options.clock ?? systemTimers;
  }

  send(notification: Notification, signal: AbortSignal): Promise<void> {
    return this.post([notification], signal);
  }

  resend(firing: readonly Notification[], signal: AbortSignal): Promise<void> {
    return this.post(firing, signal);
  }

  private async post(notifications: readonly Notification[], signal: AbortSignal): Promise<void> {
    const now = this.clock.now();
    const alerts = notifications.map((n) => this.toAlert(n, now));
    const { tls, authorization } = this.options.targets;
    const auth = authorization?.();
    const results = await Promise.allSettled(
      this.endpoints.map((endpoint) =>
        postJson(endpoint, alerts, {
          signal,
          timeoutMs: this.timeoutMs,
          timers: this.clock,
          ...(auth && { headers: { authorization: auth } }),
          ...(tls && { tls }),
        }),
      ),
    );
    if (results.some((r) => r.status === 'fulfilled')) return;
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    throw failed?.reason ?? new Error('no Alertmanager is configured');
  }

  private toAlert(n: Notification, now: number): PostableAlert {
    const alert: PostableAlert = {
      labels: { ...this.options.labels, ...alertLabels(n) },
      annotations: {
        summary: `${n.metric} ${n.transition === 'fired' ? 'above threshold' : 'back to normal'} (ResourceAlert ${n.alert})`,
        description: n.message,
      },
      // Whole seconds, as in status: the same startsAt after the operator resumes from status.
      startsAt: formatTime(n.startsAt),
      endsAt: formatInstant(n.transition === 'resolved' ? (n.endsAt ?? now) : now + this.activeForMs),
    };
    if (this.options.generatorURL) alert.generatorURL = this.options.generatorURL;
    return alert;
  }
}

/**
 * The labels that identify the alert in Alertmanager; the same for its firing, re-sends and
 * resolution. `resourcealert` keeps alerts of same-named ResourceAlerts in different
 * namespaces apart when a policy selects pods across namespaces.
 */
export function alertLabels(n: Notification): Record<string, string> {
  const slash = n.alert.indexOf('/');
  const labels: Record<string, string> = {
    alertname: n.alert.slice(slash + 1),
    resourcealert: n.alert,
    namespace: n.target.namespace,
    pod: n.target.pod,
    metric: n.metric,
    severity: n.severity,
    policy: n.policy,
  };
  if (n.target.container !== undefined) labels.container = n.target.container;
  return labels;
}
