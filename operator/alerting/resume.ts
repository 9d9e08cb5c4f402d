/**
 * Where an alert's evaluation starts when a term first sees it (a restart, a failover): its
 * state from the stored status (fromStatus, status.ts), and the resolutions the status lists
 * as owed to the receivers (owed.ts), which are announced again. A status that cannot be read
 * is logged and evaluation counts from zero.
 */
import { parseCpuMillicores, parseMemoryBytes } from '../../api/quantity.js';
import type { ResourceAlert } from '../../api/v1alpha1/resourcealert.js';
import { errorMessage, type Logger } from '../logging.js';
import { objectRef, type ObjectKey } from '../model.js';
import type { Transition } from './evaluator.js';
import { emptyAlertState, type AlertState } from './state.js';
import { fromStatus } from './status.js';

/** The alert's state as its stored status records it; empty when there is none or it cannot be read. */
export function resumedState(key: ObjectKey, alert: ResourceAlert, logger: Logger): AlertState {
  try {
    return alert.status?.targets
      ? fromStatus(alert.status as Parameters<typeof fromStatus>[0])
      : emptyAlertState();
  } catch (err) {
    logger.warn('alert status not resumable; counting from zero', {
      ...objectRef(key),
      error: errorMessage(err),
    });
    return emptyAlertState();
  }
}

/** The resolutions the stored status lists as not delivered (entries with resolvedAt). */
export function owedResolutions(key: ObjectKey, alert: ResourceAlert, logger: Logger): Transition[] {
  const owed: Transition[] = [];
  for (const t of alert.status?.targets ?? []) {
    if (t.resolvedAt === undefined || t.state !== 'Normal' || t.namespace === undefined) continue;
    try {
      const metric = t.metric;
      const quantity = (text: string | undefined) =>
        text === undefined ? null : metric === 'cpu' ? parseCpuMillicores(text) : parseMemoryBytes(text);
      const time = (text: string | undefined, field: string) => {
        const ms = text === undefined ? NaN : Date.parse(text);
        if (!Number.isFinite(ms)) throw new Error(`${field}: not a time: ${JSON.stringify(text)}`);
        return ms;
      };
      owed.push({
        kind: 'resolved',
        ref: {
          namespace: t.namespace,
          pod: t.pod,
          ...(t.container !== undefined && { container: t.container }),
        },
        metric,
        cause: 'recovered',
        value: quantity(t.value),
        threshold: quantity(t.threshold),
        breaches: t.breaches,
        firingSince: time(t.since, 'since'),
        at: time(t.resolvedAt, 'resolvedAt'),
        notify: true,
        delayed: false,
      });
    } catch (err) {
      logger.warn('an owed resolution in status cannot be read; not announced', {
        ...objectRef(key),
        pod: t.pod,
        error: errorMessage(err),
      });
    }
  }
  return owed;
}
