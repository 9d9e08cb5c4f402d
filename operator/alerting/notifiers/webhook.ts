/**
 * A generic JSON webhook: one POST per notification, with an optional
 * `Authorization: Bearer <token>` whose token is read from a Secret at each delivery (so a
 * rotated token is used at once).
 */
import { formatQuantity, formatTime } from '../format.js';
import { DEFAULT_HTTP_TIMEOUT_MS, postJson } from './http.js';
import { DeliveryError, type Notification, type Notifier } from './notification.js';
import { errorMessage } from '../../logging.js';

/** Reads one key of a Secret; implemented over the Kubernetes API by the runtime. */
export interface SecretReader {
  read(namespace: string, name: string, key: string): Promise<string>;
}

export interface SecretKeyRef {
  namespace: string;
  name: string;
  key: string;
}

export interface WebhookOptions {
  url: string;
  /** Where the bearer token is; no Authorization header without it. */
  token?: { secrets: SecretReader; ref: SecretKeyRef };
  timeoutMs?: number;
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

  constructor(private readonly options: WebhookOptions) {}

  async send(notification: Notification, signal: AbortSignal): Promise<void> {
    const headers: Record<string, string> = {};
    if (this.options.token) headers.authorization = `Bearer ${await this.readToken(this.options.token)}`;
    await postJson(this.options.url, webhookPayload(notification), {
      signal,
      timeoutMs: this.options.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS,
      headers,
    });
  }

  private async readToken({ secrets, ref }: NonNullable<WebhookOptions['token']>): Promise<string> {
    const where = `key ${ref.key} of Secret ${ref.namespace}/${ref.name}`;
    let token: string;
    try {
      token = (await secrets.read(ref.namespace, ref.name, ref.key)).trim();
    } catch (err) {
      throw new DeliveryError(`cannot read the webhook token (${where}): ${errorMessage(err)}`, true);
    }
    if (token === '') throw new DeliveryError(`the webhook token (${where}) is empty`, true);
    return token;
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
