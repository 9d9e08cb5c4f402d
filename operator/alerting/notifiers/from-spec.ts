/**
 * The notifiers an alert's spec asks for: Events, the operator's Alertmanagers (alerts opt
 * in), a webhook (URL inline or from a Secret, token from a Secret, destinations checked).
 */
import type { ResourceAlertConfig } from '../../../api/v1alpha1/normalize.js';
import type { ResourceAlert } from '../../../api/v1alpha1/resourcealert.js';
import { API_VERSION } from '../../../api/v1alpha1/schema-helpers.js';
import { AlertmanagerNotifier, type AlertmanagerTargets } from './alertmanager.js';
import type { DestinationPolicy } from './destination-policy.js';
import { EventsNotifier, type TransitionEventRecorder } from './events.js';
import type { Notifier } from './notification.js';
import { WebhookNotifier, type SecretReader } from './webhook.js';
import type { Timers } from '../../runtime/clock.js';

export interface NotifierDeps {
  events: TransitionEventRecorder;
  secrets: SecretReader;
  /** Time and timers of the notifiers (Alertmanager's endsAt, request timeouts). */
  clock: Timers;
  /** Where tenant webhooks may connect. */
  destinations: DestinationPolicy;
  /** The operator's Alertmanagers (configured by the admin). */
  alertmanager?: AlertmanagerTargets;
}

export function notifiersFor(
  alert: ResourceAlert,
  config: ResourceAlertConfig,
  deps: NotifierDeps,
): Notifier[] {
  const notifiers: Notifier[] = [];
  const { namespace, name, uid } = alert.metadata;
  if (config.notify.events) {
    notifiers.push(
      new EventsNotifier(deps.events, {
        apiVersion: API_VERSION,
        kind: 'ResourceAlert',
        namespace,
        name,
        ...(uid && { uid }),
      }),
    );
  }
  const targets = deps.alertmanager;
  if (config.notify.alertmanager && targets && targets.urls.length > 0) {
    notifiers.push(
      new AlertmanagerNotifier({ targets, labels: config.notify.alertmanager.labels, clock: deps.clock }),
    );
  }
  const webhook = config.notify.webhook;
  if (webhook) {
    const secret = (ref: { name: string; key: string }) => ({
      secrets: deps.secrets,
      ref: { namespace, ...ref },
    });
    const url = webhook.urlSecretRef ? secret(webhook.urlSecretRef) : webhook.url;
    if (url !== undefined)
      notifiers.push(
        new WebhookNotifier({
          url,
          policy: deps.destinations,
          timers: deps.clock,
          ...(webhook.secretRef && { token: secret(webhook.secretRef) }),
        }),
      );
  }
  return notifiers;
}
