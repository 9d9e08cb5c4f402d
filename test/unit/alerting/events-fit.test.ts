import { describe, expect, it } from '@jest/globals';
import { silentLogger } from '../../../operator/logging.js';
import { EventRecorder, type EventRecord } from '../../../operator/runtime/event-recorder.js';
import { EventsNotifier } from '../../../operator/alerting/notifiers/events.js';
import { toNotification } from '../../../operator/alerting/notifiers/notification.js';
import { cpuSeries, rule, runCycles } from './fixtures.js';
import { eventually } from './receiver.js';

describe('EventsNotifier with the runtime EventRecorder', () => {
  it('writes a Warning Event on the ResourceAlert when it fires', async () => {
    const created: EventRecord[] = [];
    const recorder = new EventRecorder({
      sink: { create: (e) => Promise.resolve(void created.push(e)), updateSeries: () => Promise.resolve() },
      component: 'kube-usage-operator',
      instance: 'test',
      logger: silentLogger(),
    });
    const r = rule({ for: 1 });
    const fired = toNotification(r, runCycles(r, cpuSeries([900]))[0]!.transitions[0]!);
    const object = {
      apiVersion: 'usage.kubeusage.dev/v1alpha1',
      kind: 'ResourceAlert',
      namespace: 'shop',
      name: 'web-hot',
    };
    await new EventsNotifier(recorder, object).send(fired);
    await eventually(() => created.length === 1);
    expect(created[0]).toMatchObject({
      involvedObject: object,
      type: 'Warning',
      reason: 'AlertFiring',
      message: fired.message,
    });
  });
});
