import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parseAllDocuments } from 'yaml';
import {
  formatFieldErrors,
  normalizeResourceAlert,
  normalizeUsagePolicy,
  resourceAlertStatusErrors,
  usagePolicyStatusErrors,
  type FieldError,
} from '../../../api/v1alpha1/index.js';
import { INVALID_OBJECTS } from '../../fixtures/api/invalid-objects.js';

const DAY = 86_400_000;

function errorsOf(result: { ok: true } | { ok: false; errors: FieldError[] }): FieldError[] {
  return result.ok ? [] : result.errors;
}

describe('normalizeUsagePolicy', () => {
  it('applies the defaults', () => {
    expect(normalizeUsagePolicy({ spec: { selector: {} } })).toEqual({
      ok: true,
      config: {
        selector: {},
        namespaceSelector: undefined,
        intervalMs: 30_000,
        retention: { rawMs: 7 * DAY, hourlyMs: 90 * DAY, dailyMs: 400 * DAY },
        suspend: false,
      },
    });
  });

  it('reads every field', () => {
    const spec = {
      selector: { matchExpressions: [{ key: 'job-name', operator: 'DoesNotExist' }] },
      namespaceSelector: { matchNames: ['shop'], matchLabels: { team: 'a' } },
      interval: '1m30s',
      retention: { raw: '1d12h', hourly: '30d', daily: '730d' },
      suspend: true,
    };
    expect(normalizeUsagePolicy({ spec })).toEqual({
      ok: true,
      config: {
        selector: spec.selector,
        namespaceSelector: spec.namespaceSelector,
        intervalMs: 90_000,
        retention: { rawMs: 1.5 * DAY, hourlyMs: 30 * DAY, dailyMs: 730 * DAY },
        suspend: true,
      },
    });
  });

  it('does not change the object it is given', () => {
    const object = { spec: { selector: {} } };
    normalizeUsagePolicy(object);
    expect(object).toEqual({ spec: { selector: {} } });
  });

  it('accepts the interval bounds and equal retentions', () => {
    for (const interval of ['10s', '1h', '60m']) {
      expect(normalizeUsagePolicy({ spec: { selector: {}, interval } }).ok).toBe(true);
    }
    const retention = { raw: '30d', hourly: '30d', daily: '30d' };
    expect(normalizeUsagePolicy({ spec: { selector: {}, retention } }).ok).toBe(true);
  });

  it('reports every semantic problem at once, each with its field', () => {
    const result = normalizeUsagePolicy({
      spec: {
        selector: { matchLabels: { 'bad key': 'x' } },
        interval: '2h',
        retention: { raw: '30m', hourly: '500d' },
      },
    });
    expect(errorsOf(result)).toEqual([
      { field: 'spec.interval', message: 'must be between 10s and 1h' },
      { field: 'spec.retention.raw', message: 'must be at least 1h' },
      {
        field: 'spec.retention.hourly',
        message: 'hourly retention (500d) must not be longer than daily retention (400d)',
      },
      { field: 'spec.selector.matchLabels', message: expect.stringContaining('invalid label key "bad key"') },
    ]);
  });

  it('explains schema errors in words', () => {
    const result = normalizeUsagePolicy({ spec: { selector: { matchLabels: { app: 'a b' } }, suspend: 1 } });
    expect(formatFieldErrors(errorsOf(result))).toBe(
      'spec.selector.matchLabels.app: must be a label value: at most 63 alphanumerics, "-", "_" or ".", starting and ending with an alphanumeric; ' +
        'spec.suspend: must be boolean',
    );
  });

  it('explains the duration notation', () => {
    const result = normalizeUsagePolicy({ spec: { selector: {}, interval: '1.5m' } });
    expect(formatFieldErrors(errorsOf(result))).toBe(
      'spec.interval: invalid duration "1.5m": use whole numbers with the units d, h, m and s, largest first, e.g. 30s, 5m, 1h30m, 7d',
    );
  });

  it('reports a missing spec', () => {
    expect(errorsOf(normalizeUsagePolicy({ metadata: {} }))).toEqual([
      { field: 'spec', message: 'must be object' },
    ]);
    expect(errorsOf(normalizeUsagePolicy(null))).toEqual([{ field: 'spec', message: 'must be object' }]);
  });
});

describe('normalizeResourceAlert', () => {
  it('applies the defaults', () => {
    expect(normalizeResourceAlert({ spec: { policyRef: { name: 'web' }, cpu: { above: '750m' } } })).toEqual({
      ok: true,
      config: {
        policyRef: { name: 'web' },
        scope: 'container',
        cpu: { kind: 'absolute', value: 750 },
        for: 3,
        recoverAfter: 2,
        noData: 'keep',
        severity: 'warning',
        notify: { events: true },
        suspend: false,
      },
    });
  });

  it('reads every field', () => {
    const result = normalizeResourceAlert({
      spec: {
        policyRef: { name: 'web' },
        selector: { matchLabels: { tier: 'frontend' } },
        scope: 'pod',
        cpu: { above: '12.5%', of: 'request' },
        memory: { above: 1073741824 },
        for: 5,
        recoverAfter: 4,
        noData: 'alert',
        severity: 'critical',
        notify: {
          events: false,
          alertmanager: { labels: { team: 'payments' } },
          webhook: { urlSecretRef: { name: 'hook', key: 'url' }, secretRef: { name: 'hook', key: 'token' } },
        },
        muteUntil: '2026-12-01T08:00:00Z',
        suspend: true,
      },
    });
    expect(result).toEqual({
      ok: true,
      config: {
        policyRef: { name: 'web' },
        selector: { matchLabels: { tier: 'frontend' } },
        scope: 'pod',
        cpu: { kind: 'percent', percent: 12.5, of: 'request' },
        memory: { kind: 'absolute', value: 1_073_741_824 },
        for: 5,
        recoverAfter: 4,
        noData: 'alert',
        severity: 'critical',
        notify: {
          events: false,
          alertmanager: { labels: { team: 'payments' } },
          webhook: { urlSecretRef: { name: 'hook', key: 'url' }, secretRef: { name: 'hook', key: 'token' } },
        },
        muteUntil: Date.UTC(2026, 11, 1, 8),
        suspend: true,
      },
    });
  });

  it('takes CPU quantities in millicores and memory in bytes', () => {
    const config = (cpu: unknown, memory: unknown) => {
      const result = normalizeResourceAlert({
        spec: { policyRef: { name: 'p' }, cpu: { above: cpu }, memory: { above: memory } },
      });
      return result.ok ? [result.config.cpu, result.config.memory] : result.errors;
    };
    expect(config(1, '512Mi')).toEqual([
      { kind: 'absolute', value: 1000 },
      { kind: 'absolute', value: 536_870_912 },
    ]);
    expect(config('250u', '1e3')).toEqual([
      { kind: 'absolute', value: 0.25 },
      { kind: 'absolute', value: 1000 },
    ]);
  });

  it('names the field and the input of a bad quantity', () => {
    const result = normalizeResourceAlert({ spec: { policyRef: { name: 'p' }, memory: { above: '1GB' } } });
    expect(errorsOf(result)).toEqual([
      {
        field: 'spec.memory.above',
        message: expect.stringMatching(/^invalid quantity "1GB": unknown suffix "GB"; expected a number/),
      },
    ]);
  });

  it('lists the allowed values of an enum', () => {
    const result = normalizeResourceAlert({
      spec: { policyRef: { name: 'p' }, cpu: { above: 1 }, noData: 'skip' },
    });
    expect(errorsOf(result)).toEqual([
      { field: 'spec.noData', message: 'must be one of: keep, resolve, alert' },
    ]);
  });
});

describe('the invalid objects the apiserver rejects', () => {
  const checked = INVALID_OBJECTS.filter((entry) => !entry.apiserverOnly);
  it.each(checked.map((entry) => [entry.description, entry] as const))(
    '%s: rejected naming the field',
    (_d, entry) => {
      const normalize = entry.kind === 'UsagePolicy' ? normalizeUsagePolicy : normalizeResourceAlert;
      const errors = errorsOf(normalize({ spec: entry.spec }));
      expect(errors.length).toBeGreaterThan(0);
      expect(errors.map((e) => `${e.field}: ${e.message}`).join('\n')).toContain(entry.field);
    },
  );
});

describe('status validation', () => {
  it('accepts a full ResourceAlert status and rejects a malformed one, naming the field', () => {
    const status = {
      observedGeneration: 4,
      state: 'Firing',
      alertState: 'cpu_alert',
      cpuConsecutiveBreaches: 5,
      memConsecutiveBreaches: 0,
      firingTargets: 1,
      pendingTargets: 0,
      lastEvaluationTime: '2026-11-21T10:00:30Z',
      lastAlertedAt: '2026-11-21T10:00:30Z',
      targets: [
        {
          pod: 'web-7d9f',
          container: 'app',
          metric: 'cpu',
          value: '910m',
          threshold: '800m',
          breaches: 5,
          healthy: 0,
          state: 'Firing',
          since: '2026-11-21T09:58:30Z',
          firingNotified: true,
        },
      ],
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'Evaluating',
          message: '',
          lastTransitionTime: '2026-11-21T09:00:00Z',
        },
      ],
    };
    expect(resourceAlertStatusErrors(status)).toEqual([]);
    expect(
      resourceAlertStatusErrors({ ...status, targets: [{ pod: 'p', metric: 'gpu', breaches: -1 }] }),
    ).toEqual([
      { field: 'status.targets[0].state', message: 'is required' },
      { field: 'status.targets[0].healthy', message: 'is required' },
      { field: 'status.targets[0].metric', message: 'must be one of: cpu, memory' },
      { field: 'status.targets[0].breaches', message: 'must be >= 0' },
    ]);
  });

  it('checks UsagePolicy status conditions', () => {
    expect(usagePolicyStatusErrors({ matchedPods: 3, metricsSource: 'none', droppedSamples: 0 })).toEqual([]);
    expect(
      usagePolicyStatusErrors({
        conditions: [{ type: 'Ready', status: 'Yes', reason: 'not camel', message: '' }],
      }),
    ).toEqual([
      { field: 'status.conditions[0].lastTransitionTime', message: 'is required' },
      { field: 'status.conditions[0].status', message: 'must be one of: True, False, Unknown' },
      {
        field: 'status.conditions[0].reason',
        message: 'must match ^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
      },
    ]);
  });
});

describe('the samples', () => {
  const dir = join(import.meta.dirname, '..', '..', '..', 'manifests', 'samples');
  const kustomization = parseAllDocuments(
    readFileSync(join(dir, 'kustomization.yaml'), 'utf8'),
  )[0]?.toJS() as {
    resources: string[];
  };
  const objects = kustomization.resources.flatMap((file) =>
    parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map(
      (doc) => doc.toJS() as { kind: string; metadata: { name: string } },
    ),
  );

  it('include both kinds', () => {
    expect(objects.filter((o) => o.kind === 'UsagePolicy')).toHaveLength(2);
    expect(objects.filter((o) => o.kind === 'ResourceAlert')).toHaveLength(2);
  });

  const custom = objects.filter((o) => o.kind === 'UsagePolicy' || o.kind === 'ResourceAlert');
  it.each(custom.map((object) => ({ name: object.metadata.name, object })))(
    '$name normalizes without errors',
    ({ object }) => {
      const normalize = object.kind === 'UsagePolicy' ? normalizeUsagePolicy : normalizeResourceAlert;
      expect(errorsOf(normalize(object))).toEqual([]);
    },
  );
});
