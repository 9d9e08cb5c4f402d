/**
 * A generic JSON webhook: one POST per notification, with an optional
 * `Authorization: Bearer <token>` whose token is read from a Secret at each delivery (so a
 * rotated token is used at once).
 */
import { NOTIFICATION_SECRET_LABEL_TEXT } from '../../../api/v1alpha1/resourcealert.js';
import { formatQuantity, formatTime } from '../format.js';
import { DEFAULT_HTTP_TIMEOUT_MS, postJson } from './http.js';
import { DeliveryError, type Notification, type Notifier } from './notification.js';
import type { DestinationPolicy } from './destination-policy.js';
import type { Timers } from '../../runtime/clock.js';

/**
 * Secrets the operator reads for notifications must carry this label with the value "true":
 * without it, a ResourceAlert could send any Secret of its namespace to its own webhook.
 */
export const NOTIFICATION_SECRET_LABEL = NOTIFICATION_SECRET_LABEL_TEXT;

/**
 * Reads one key of a Secret; implemented over the Kubernetes API by the runtime. Rejects when
 * the Secret does not exist, lacks the key or the opt-in label, or cannot be read.
 */
export interface SecretReader {
  read(namespace: string, name: string, key: string): Promise<string>;
}

export interface SecretKeyRef {
  namespace: string;
  name: string;
  key: string;
}

/**
 * The one message for a Secret the operator cannot use, whatever is missing: it neither
 * confirms nor denies that the Secret or the key exists.
 */
export function unusableSecretMessage(field: string, ref: { name: string; key: string }): string {
  return (
    `${field}: key "${ref.key}" of Secret "${ref.name}" cannot be used: the Secret must exist in this ` +
    `namespace, have that key, and carry the label ${NOTIFICATION_SECRET_LABEL}=true`
  );
}

export interface WebhookOptions {
  /** The receiver, or where to read it from (the URL often carries credentials). */
  url: string | { secrets: SecretReader; ref: SecretKeyRef };
  /** Where the bearer token is; no Authorization header without it. */
  token?: { secrets: SecretReader; ref: SecretKeyRef };
  timeoutMs?: number;
  /** The timeout runs on these; the system's by default. */
  timers?: Timers;
  /** Where the webhook may connect (tenant webhooks are restricted). */
  policy?: DestinationPolicy;
}

/** The JSON body of a webhook call. Values are in `unit`; the `*Text` fields are quantities for people. */
export interface WebhookPayload {
  version: 'v1';
  alert: { namespace: string; name: string };
  policy: string;
  transition: 'fired' | 'resolved';
  severity: string;
  target: { namespace: string; pod: string; container?: string };
  metric: 'cpu' | 'memory';
  unit: 'millicores' | 'bytes';
  value: number | null;
  threshold: number | null;
  valueText: string | null;
  thresholdText: string | null;
  startsAt: string;
  endsAt?: string;
  message: string;
}

export class WebhookNotifier implements Notifier {
  readonly name = 'webhook';
  readonly lane = 'http';
  readonly receiver: string;

  constructor(private readonly options: WebhookOptions) {
    const url = options.url;
    this.receiver =
      typeof url === 'string'
        ? `webhook ${originOf(url)}`
        : `webhook secret ${url.ref.namespace}/${url.ref.name}/${url.ref.key}`;
  }

  async send(notification: Notification, signal: AbortSignal): Promise<void> {
    const headers: Record<string, string> = {};
    const url =
      typeof this.options.url === 'string'
        ? this.options.url
        : await this.readSecret(this.options.url, 'spec.notify.webhook.urlSecretRef');
    if (this.options.token)
      headers.authorization = `Bearer ${await this.readSecret(this.options.token, 'spec.notify.webhook.secretRef')}`;
    await postJson(url, webhookPayload(notification), {
      signal,
      timeoutMs: this.options.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS,
      ...(this.options.timers && { timers: this.options.timers }),
      headers,
      ...(this.options.policy && { policy: this.options.policy }),
    });
  }

  private async readSecret(
    { secrets, ref }: { secrets: SecretReader; ref: SecretKeyRef },
    field: string,
  ): Promise<string> {
    let value: string;
    try {
      value = (await secrets.read(ref.namespace, ref.name, ref.key)).trim();
    } catch {
      throw new DeliveryError(unusableSecretMessage(field, ref), true, 'secret unusable');
    }
    if (value === '') throw new DeliveryError(unusableSecretMessage(field, ref), true, 'secret unusable');
    return value;
  }
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'invalid';
  }
}

export function webhookPayload(n: Notification): WebhookPayload {
  const slash = n.alert.indexOf('/');
  const target: WebhookPayload['target'] = { namespace: n.target.namespace, pod: n.target.pod };
  if (n.target.container !== undefined) target.container = n.target.container;
  const payload: WebhookPayload = {
    version: 'v1',
    alert: { namespace: n.alert.slice(0, slash), name: n.alert.slice(slash + 1) },
    policy: n.policy,
    transition: n.transition,
    severity: n.severity,
    target,
    metric: n.metric,
    unit: n.metric === 'cpu' ? 'millicores' : 'bytes',
    value: n.value,
    threshold: n.threshold,
    valueText: n.value === null ? null : formatQuantity(n.metric, n.value),
    thresholdText: n.threshold === null ? null : formatQuantity(n.metric, n.threshold),
    startsAt: formatTime(n.startsAt),
    message: n.message,
  };
  if (n.endsAt !== undefined) payload.endsAt = formatTime(n.endsAt);
  return payload;
}
