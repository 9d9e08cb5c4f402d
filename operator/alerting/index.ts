/**
 * Alerting: ResourceAlerts evaluated on every collection cycle, their status, and their
 * notifications. Where each thing happens:
 *
 * - A breach is counted in evaluator.ts (`evaluate`): a pure state machine per target and
 *   metric (Normal -> Pending -> Firing -> resolved), with `for`, `recoverAfter`, no data,
 *   gone targets and muting; its input rule is built from the spec in rule.ts.
 * - Per-alert state lives in pipeline.ts (AlertPipeline), the cycle sink: it evaluates each
 *   alert of the cycle's policy, keeps its state for the leadership term (resumed from the
 *   stored status: resume.ts), and hands transitions to the notifiers only after a status that
 *   records them has been written; owed.ts keeps what was handed over and not yet delivered.
 *   The ResourceAlert controller (controllers/resourcealert) reads it and writes status.
 * - The status of an alert's targets is computed (and read back) in status.ts; why an alert is
 *   not Ready (policy, Alertmanager, Secrets, destination) in readiness.ts.
 * - Notifications are queued, retried and re-sent in notifiers/dispatcher.ts, which composes
 *   notifiers/lanes.ts (per-namespace round-robin queues, one lane for Events, one for HTTP),
 *   notifiers/retry.ts (backoff schedule), notifiers/circuit-breaker.ts (per receiver),
 *   notifiers/resend.ts (firing alerts re-sent to Alertmanager) and
 *   notifiers/delivery-failures.ts (what NotificationsFailing shows).
 * - The notifiers an alert's spec asks for are built in notifiers/from-spec.ts: Events
 *   (events.ts), Alertmanager (alertmanager.ts), a webhook (webhook.ts, over http.ts).
 * - A webhook's destination is checked in notifiers/destination-policy.ts: on the address each
 *   connection is made to (http.ts), and by readiness for Ready=False DestinationForbidden.
 */
export {
  AlertPipeline,
  type AlertEvaluation,
  type AlertPipelineDeps,
  type AlertStateReader,
  type AlertTransitionListener,
  type PendingStatus,
} from './pipeline.js';
export type { ReadinessProblem } from './readiness.js';
export { alertmanagerTargets } from './notifiers/alertmanager.js';
export { DestinationPolicy } from './notifiers/destination-policy.js';
export { NotificationDispatcher } from './notifiers/dispatcher.js';
export { NOTIFICATION_SECRET_LABEL } from './notifiers/webhook.js';
