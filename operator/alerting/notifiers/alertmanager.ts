/**
 * Alertmanager API v2: POST {url}/api/v2/alerts with a list of alerts. A firing alert carries
 * `endsAt` a few re-send intervals ahead, so Alertmanager keeps it active while the operator
 * re-sends it and resolves it by itself if the operator stops; a resolution sets `endsAt` to
 * the resolution time.
 */
import { formatTime } from '../format.js';
import { systemClock, type Clock } from '../../model.js';
import { DEFAULT_HTTP_TIMEOUT_MS, postJson } from './http.js';
import { DEFAULT_RESEND_INTERVAL_MS, type Notification, type RepeatingNotifier } from './notification.js';

export interface AlertmanagerOptions {
  /** Base URL, e.g. http://alertmanager.monitoring:9093 */
  url: string;
  timeoutMs?: number;
  /** How long a firing alert stays active without a re-send: 4 re-send intervals by default. */
  activeForMs?: number;
  /** Link back to the source, e.g. a console URL of the ResourceAlert. */
  generatorURL?: string;
  clock?: Clock;
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
  private readonly endpoint: string;
  private readonly timeoutMs: number;
  private readonly activeForMs: number;
  private readonly clock: Clock;

  constructor(private readonly options: AlertmanagerOptions) {
    this.endpoint = `${options.url.replace(/\/+$/, '')}/api/v2/alerts`;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
    this.activeForMs = options.activeForMs ?? 4 * DEFAULT_RESEND_INTERVAL_MS;
    this.clock = options.clock ?? systemClock;
  }

  send(notification: Notification, signal: AbortSignal): Promise<void> {
    return this.post([notification], signal);
  }

  resend(firing: readonly Notification[], signal: AbortSignal): Promise<void> {
    return this.post(firing, signal);
  }

  private post(notifications: readonly Notification[], signal: AbortSignal): Promise<void> {
    const now = this.clock.now();
    const alerts = notifications.map((n) => this.toAlert(n, now));
    return postJson(this.endpoint, alerts, { signal, timeoutMs: this.timeoutMs });
  }

  private toAlert(n: Notification, now: number): PostableAlert {
    const alert: PostableAlert = {
      labels: alertLabels(n),
      annotations: {
        summary: `${n.metric} ${n.transition === 'fired' ? 'above threshold' : 'back to normal'} (ResourceAlert ${n.alert})`,
        description: n.message,
      },
      // Whole seconds, as in status: the same startsAt after the operator resumes from status.
      startsAt: formatTime(n.startsAt),
      endsAt: new Date(
        n.transition === 'resolved' ? (n.endsAt ?? now) : now + this.activeForMs,
      ).toISOString(),
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
