/**
 * Whether an alert can do its job: its UsagePolicy exists and collects (read from the cached
 * policy's own Ready condition, which the UsagePolicy controller writes), the Alertmanager it
 * asks for is configured, and its webhook's Secrets can be read and its destination is allowed.
 * The reason and message become the alert's Ready=False.
 */
import { ConditionType, findCondition, Reason, type Condition } from '../../api/v1alpha1/conditions.js';
import type { ResourceAlertConfig } from '../../api/v1alpha1/normalize.js';
import type { ResourceAlert } from '../../api/v1alpha1/resourcealert.js';
import type { UsagePolicy } from '../../api/v1alpha1/usagepolicy.js';
import type { AlertmanagerTargets } from './notifiers/alertmanager.js';
import type { DestinationPolicy } from './notifiers/destination-policy.js';
import type { NotifierFailure } from './notifiers/delivery-failures.js';
import { unusableSecretMessage, type SecretReader } from './notifiers/webhook.js';

export interface ReadinessProblem {
  reason: string;
  message: string;
}

export interface ReadinessDeps {
  secrets: SecretReader;
  destinations: DestinationPolicy;
  alertmanager?: AlertmanagerTargets;
}

/** Whether the policy reports that it collects: Ready=True because it is Collecting. */
export function policyCollects(policy: UsagePolicy): boolean {
  const ready = findCondition(policy.status?.conditions as Condition[] | undefined, ConditionType.Ready);
  return ready?.status === 'True' && ready.reason === Reason.Collecting;
}

export async function readinessProblem(
  alert: ResourceAlert,
  config: ResourceAlertConfig,
  policy: UsagePolicy | undefined,
  /** The dispatcher's delivery failures of this alert (a destination refused at send time). */
  failures: readonly NotifierFailure[],
  deps: ReadinessDeps,
): Promise<ReadinessProblem | undefined> {
  const policyName = config.policyRef.name;
  if (!policy) {
    return {
      reason: Reason.PolicyNotFound,
      message: `spec.policyRef: UsagePolicy "${policyName}" does not exist in namespace "${alert.metadata.namespace}"`,
    };
  }
  if (!policyCollects(policy)) {
    return {
      reason: Reason.PolicyNotCollecting,
      message: `UsagePolicy "${policyName}" is not collecting (see its Ready condition); nothing to evaluate`,
    };
  }
  if (config.notify.alertmanager && !(deps.alertmanager && deps.alertmanager.urls.length > 0)) {
    return {
      reason: Reason.AlertmanagerNotConfigured,
      message:
        'spec.notify.alertmanager: this operator has no Alertmanager configured; ask the cluster admin to set --alertmanager-url, or remove spec.notify.alertmanager',
    };
  }
  const webhook = config.notify.webhook;
  if (!webhook) return undefined;
  const readable = async (field: string, ref: { name: string; key: string }) => {
    try {
      const value = (await deps.secrets.read(alert.metadata.namespace, ref.name, ref.key)).trim();
      if (value !== '') return { value };
    } catch {
      // One message whatever is missing (below).
    }
    return {
      problem: { reason: Reason.WebhookSecretUnavailable, message: unusableSecretMessage(field, ref) },
    };
  };
  let url = webhook.url;
  let urlField = 'spec.notify.webhook.url';
  if (webhook.urlSecretRef) {
    const read = await readable('spec.notify.webhook.urlSecretRef', webhook.urlSecretRef);
    if (read.problem) return read.problem;
    url = read.value;
    urlField = 'spec.notify.webhook.urlSecretRef';
    if (!isHttpUrl(url)) {
      return {
        reason: Reason.InvalidSpec,
        message: `${urlField}: the Secret's value must be an http:// or https:// URL with a host`,
      };
    }
  }
  if (webhook.secretRef) {
    const read = await readable('spec.notify.webhook.secretRef', webhook.secretRef);
    if (read.problem) return read.problem;
  }
  const forbidden = url === undefined ? undefined : await destinationProblem(deps.destinations, url);
  const failed = failures.find(
    (f) => f.notifier === 'webhook' && f.failing && f.lastErrorClass === 'destination forbidden',
  );
  const addressClass = forbidden ?? failed?.addressClass;
  if (addressClass !== undefined) {
    return { reason: Reason.DestinationForbidden, message: destinationMessage(urlField, addressClass) };
  }
  return undefined;
}

function isHttpUrl(url: string | undefined): boolean {
  if (url === undefined) return false;
  try {
    const parsed = new URL(url);
    return ['http:', 'https:'].includes(parsed.protocol) && parsed.hostname !== '';
  } catch {
    return false;
  }
}

/** The refused class of the URL's destination now (its name, or what it resolves to). */
async function destinationProblem(destinations: DestinationPolicy, url: string): Promise<string | undefined> {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return undefined;
  }
  if (host.startsWith('[')) host = host.slice(1, -1);
  return destinations.check(host);
}

function destinationMessage(field: string, addressClass: string): string {
  const what = addressClass === 'in-cluster name' ? 'an in-cluster name' : `a ${addressClass} address`;
  return (
    `${field}: the webhook's destination is ${what}, which ResourceAlerts may not send to; ` +
    "use a receiver reachable on a public address, or ask the operator's admin to allow this destination (--webhook-allow)"
  );
}
