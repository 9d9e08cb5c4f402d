/**
 * Turns a spec into the typed, normalized configuration the controllers use: defaults applied,
 * durations in milliseconds, quantities parsed exactly. Errors name their field. As in the
 * apiserver, the schema is checked first (all its errors at once); when it holds, every semantic
 * problem (the CEL rules' checks, label keys, URLs, quantities) is reported at once.
 */
import { DurationError, parseDuration } from '../duration.js';
import { isPercent, parseCpuMillicores, parseMemoryBytes, parsePercent, QuantityError } from '../quantity.js';
import { validateLabelSelector } from './labels.js';
import {
  ALERTMANAGER_URL_REMOVED,
  PERCENT_BOUNDS,
  RESOURCE_ALERT_DEFAULTS,
  type ResourceAlertSpec,
  type ThresholdSpec,
} from './resourcealert.js';
import type { LabelSelector } from './schema-helpers.js';
import { INTERVAL_BOUNDS, RETENTION_MIN, USAGE_POLICY_DEFAULTS } from './usagepolicy.js';
import { checkResourceAlertSpec, checkUsagePolicySpec, type FieldError } from './validation.js';

/** Retention of one policy, in milliseconds. */
export interface Retention {
  rawMs: number;
  hourlyMs: number;
  dailyMs: number;
}

export type NormalizeResult<T> = { ok: true; config: T } | { ok: false; errors: FieldError[] };

/** Which namespaces a policy collects from; fields given must all match. */
export interface NamespaceSelector {
  matchNames?: string[];
  matchLabels?: LabelSelector['matchLabels'];
  matchExpressions?: LabelSelector['matchExpressions'];
}

export interface UsagePolicyConfig {
  selector: LabelSelector;
  /** undefined: the policy's own namespace only. */
  namespaceSelector: NamespaceSelector | undefined;
  intervalMs: number;
  retention: Retention;
  suspend: boolean;
}

/** A threshold: absolute in millicores (cpu) or bytes (memory), or a percent of the limit or request. */
export type Threshold =
  { kind: 'absolute'; value: number } | { kind: 'percent'; percent: number; of: 'limit' | 'request' };

export interface ResourceAlertConfig {
  policyRef: { name: string };
  selector?: LabelSelector;
  scope: 'container' | 'pod';
  cpu?: Threshold;
  memory?: Threshold;
  for: number;
  recoverAfter: number;
  noData: 'keep' | 'resolve' | 'alert';
  severity: 'critical' | 'warning' | 'info';
  notify: {
    events: boolean;
    /** Opted in to the operator's Alertmanagers, with these extra labels. */
    alertmanager?: { labels: Record<string, string> };
    /** `url`, or `urlSecretRef` (exactly one). */
    webhook?: {
      url?: string;
      urlSecretRef?: { name: string; key: string };
      secretRef?: { name: string; key: string };
    };
  };
  /** Until this time (ms since epoch) the alert evaluates but does not notify. */
  muteUntil?: number;
  suspend: boolean;
}

/** Collects errors while parsing; `attempt` runs a parser and records its error under `field`. */
class Problems {
  readonly errors: FieldError[] = [];

  add(field: string, message: string): void {
    this.errors.push({ field, message });
  }

  attempt<T>(field: string, parse: () => T): T | undefined {
    try {
      return parse();
    } catch (error) {
      if (error instanceof DurationError || error instanceof QuantityError) {
        this.add(field, error.message);
        return undefined;
      }
      throw error;
    }
  }

  result<T>(config: T): NormalizeResult<T> {
    return this.errors.length === 0 ? { ok: true, config } : { ok: false, errors: this.errors };
  }
}

function durationAtLeast(
  problems: Problems,
  field: string,
  value: string,
  minimum: string,
): number | undefined {
  const ms = problems.attempt(field, () => parseDuration(value));
  if (ms !== undefined && ms < parseDuration(minimum)) problems.add(field, `must be at least ${minimum}`);
  return ms;
}

export function normalizeUsagePolicy(object: unknown): NormalizeResult<UsagePolicyConfig> {
  const checked = checkUsagePolicySpec(object);
  if (!checked.ok) return checked;
  const spec = checked.value;
  const problems = new Problems();

  const intervalMs = problems.attempt('spec.interval', () =>
    parseDuration(spec.interval ?? USAGE_POLICY_DEFAULTS.interval),
  );
  if (
    intervalMs !== undefined &&
    (intervalMs < parseDuration(INTERVAL_BOUNDS.min) || intervalMs > parseDuration(INTERVAL_BOUNDS.max))
  ) {
    problems.add('spec.interval', `must be between ${INTERVAL_BOUNDS.min} and ${INTERVAL_BOUNDS.max}`);
  }
  const { raw, hourly, daily } = { ...USAGE_POLICY_DEFAULTS.retention, ...spec.retention };
  const rawMs = durationAtLeast(problems, 'spec.retention.raw', raw, RETENTION_MIN);
  const hourlyMs = durationAtLeast(problems, 'spec.retention.hourly', hourly, RETENTION_MIN);
  const dailyMs = durationAtLeast(problems, 'spec.retention.daily', daily, RETENTION_MIN);
  if (rawMs !== undefined && hourlyMs !== undefined && rawMs > hourlyMs) {
    problems.add(
      'spec.retention.raw',
      `raw retention (${raw}) must not be longer than hourly retention (${hourly})`,
    );
  }
  if (hourlyMs !== undefined && dailyMs !== undefined && hourlyMs > dailyMs) {
    problems.add(
      'spec.retention.hourly',
      `hourly retention (${hourly}) must not be longer than daily retention (${daily})`,
    );
  }
  problems.errors.push(...validateLabelSelector(spec.selector, 'spec.selector'));
  if (spec.namespaceSelector) {
    problems.errors.push(...validateLabelSelector(spec.namespaceSelector, 'spec.namespaceSelector'));
  }

  return problems.result({
    selector: spec.selector,
    namespaceSelector: spec.namespaceSelector,
    intervalMs: intervalMs ?? 0,
    retention: { rawMs: rawMs ?? 0, hourlyMs: hourlyMs ?? 0, dailyMs: dailyMs ?? 0 },
    suspend: spec.suspend ?? USAGE_POLICY_DEFAULTS.suspend,
  });
}

function normalizeThreshold(
  problems: Problems,
  field: string,
  spec: ThresholdSpec,
  parseAbsolute: (input: string | number) => number,
): Threshold | undefined {
  if (isPercent(spec.above)) {
    const percent = problems.attempt(`${field}.above`, () => parsePercent(spec.above as string));
    if (percent !== undefined && (percent < PERCENT_BOUNDS.min || percent > PERCENT_BOUNDS.max)) {
      problems.add(
        `${field}.above`,
        `a percent threshold must be between ${PERCENT_BOUNDS.min}% and ${PERCENT_BOUNDS.max}%`,
      );
    }
    if (!spec.of) problems.add(`${field}.of`, 'of (limit or request) is required with a percent threshold');
    return percent === undefined || !spec.of ? undefined : { kind: 'percent', percent, of: spec.of };
  }
  if (spec.of) problems.add(`${field}.of`, 'of is only allowed with a percent threshold such as "80%"');
  const value = problems.attempt(`${field}.above`, () => parseAbsolute(spec.above));
  if (value !== undefined && value <= 0) problems.add(`${field}.above`, 'must be a positive quantity');
  return value === undefined ? undefined : { kind: 'absolute', value };
}

function httpUrl(problems: Problems, field: string, value: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || !['http:', 'https:'].includes(url.protocol) || url.hostname === '') {
    problems.add(field, 'must be an http:// or https:// URL with a host');
  }
  return value;
}

function normalizeNotify(
  problems: Problems,
  notify: ResourceAlertSpec['notify'],
): ResourceAlertConfig['notify'] {
  const result: ResourceAlertConfig['notify'] = {
    events: notify?.events ?? RESOURCE_ALERT_DEFAULTS.notify.events,
  };
  if (notify?.alertmanager) {
    const { url, labels = {} } = notify.alertmanager as { url?: string; labels?: Record<string, string> };
    if (url !== undefined) problems.add('spec.notify.alertmanager.url', ALERTMANAGER_URL_REMOVED);
    for (const name of Object.keys(labels)) {
      if (!/^[a-zA-Z_][a-zA-Z0-9_]{0,62}$/.test(name))
        problems.add(
          'spec.notify.alertmanager.labels',
          `label names must be Prometheus label names: letters, digits and "_", not starting with a digit ("${name}" is not)`,
        );
    }
    result.alertmanager = { labels: { ...labels } };
  }
  if (notify?.webhook) {
    const { url, urlSecretRef, secretRef } = notify.webhook;
    if ((url === undefined) === (urlSecretRef === undefined))
      problems.add('spec.notify.webhook', 'exactly one of url or urlSecretRef is required');
    result.webhook = {};
    if (url !== undefined) result.webhook.url = httpUrl(problems, 'spec.notify.webhook.url', url);
    if (urlSecretRef) result.webhook.urlSecretRef = { name: urlSecretRef.name, key: urlSecretRef.key };
    if (secretRef) result.webhook.secretRef = { name: secretRef.name, key: secretRef.key };
  }
  return result;
}

export function normalizeResourceAlert(object: unknown): NormalizeResult<ResourceAlertConfig> {
  const checked = checkResourceAlertSpec(object);
  if (!checked.ok) return checked;
  const spec = checked.value;
  const problems = new Problems();

  if (!spec.cpu && !spec.memory) problems.add('spec', 'at least one of spec.cpu or spec.memory is required');
  const cpu = spec.cpu && normalizeThreshold(problems, 'spec.cpu', spec.cpu, parseCpuMillicores);
  const memory = spec.memory && normalizeThreshold(problems, 'spec.memory', spec.memory, parseMemoryBytes);
  if (spec.selector) problems.errors.push(...validateLabelSelector(spec.selector, 'spec.selector'));
  const notify = normalizeNotify(problems, spec.notify);
  const muteUntil = spec.muteUntil === undefined ? undefined : Date.parse(spec.muteUntil);

  const config: ResourceAlertConfig = {
    policyRef: { name: spec.policyRef.name },
    scope: spec.scope ?? RESOURCE_ALERT_DEFAULTS.scope,
    for: spec.for ?? RESOURCE_ALERT_DEFAULTS.for,
    recoverAfter: spec.recoverAfter ?? RESOURCE_ALERT_DEFAULTS.recoverAfter,
    noData: spec.noData ?? RESOURCE_ALERT_DEFAULTS.noData,
    severity: spec.severity ?? RESOURCE_ALERT_DEFAULTS.severity,
    notify,
    suspend: spec.suspend ?? RESOURCE_ALERT_DEFAULTS.suspend,
  };
  if (spec.selector) config.selector = spec.selector;
  if (cpu) config.cpu = cpu;
  if (memory) config.memory = memory;
  if (muteUntil !== undefined) config.muteUntil = muteUntil;
  return problems.result(config);
}
