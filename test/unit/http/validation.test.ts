import { describe, expect, it } from '@jest/globals';
import { ApiError } from '../../../operator/http/errors.js';
import { parseTimeParam } from '../../../operator/http/time-param.js';
import {
  LIMITS,
  parseCurrentQuery,
  parseEventsQuery,
  parseHistoryQuery,
  parsePodRef,
  parseSummaryQuery,
  parseTopQuery,
} from '../../../operator/http/validation.js';

const NOW = Date.UTC(2026, 10, 21, 10, 0, 0);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const pod = { namespace: 'shop', pod: 'web-1' };

function rejection(parse: () => unknown): { message: string; field?: string } {
  try {
    parse();
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    const apiError = err as ApiError;
    expect(apiError.statusCode).toBe(400);
    return { message: apiError.message, ...(apiError.field === undefined ? {} : { field: apiError.field }) };
  }
  throw new Error('expected a 400');
}

describe('parseTimeParam', () => {
  it.each([
    ['2026-11-21T10:00:00Z', NOW],
    ['2026-11-21t10:00:00z', NOW],
    ['2026-11-21T11:30:00+01:30', NOW],
    ['2026-11-21T09:00:00-01:00', NOW],
    ['2026-11-21T10:00:00.25Z', NOW + 250],
    ['2026-11-21T10:00:00.123456789Z', NOW + 123],
    ['1795255200', NOW],
    ['0', 0],
  ])('reads %s', (text, expected) => {
    expect(parseTimeParam(text)).toBe(expected);
  });

  it.each([
    '2026-11-21T10:00:00', // no zone
    '2026-02-30T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-11-21T24:00:00Z',
    '2026-11-21 10:00:00Z',
    '1795255200.5',
    '-1h',
    'yesterday',
    '',
  ])('rejects %j', (text) => {
    expect(parseTimeParam(text)).toBeUndefined();
  });
});

describe('parsePodRef', () => {
  it('accepts Kubernetes names', () => {
    expect(parsePodRef({ namespace: 'kube-system', pod: 'coredns-5d78c9869d-x7k2p' })).toEqual({
      namespace: 'kube-system',
      pod: 'coredns-5d78c9869d-x7k2p',
    });
    expect(parsePodRef({ namespace: 'a', pod: 'web.v2-0' }).pod).toBe('web.v2-0');
  });

  it('names the field that is not a Kubernetes name', () => {
    expect(rejection(() => parsePodRef({ namespace: 'Shop', pod: 'web' }))).toEqual({
      message:
        'namespace must be a namespace name (lowercase letters, digits and "-", at most 63 characters)',
      field: 'namespace',
    });
    expect(rejection(() => parsePodRef({ namespace: 'shop', pod: '-web' })).field).toBe('pod');
    expect(rejection(() => parsePodRef({ namespace: 'a'.repeat(64), pod: 'web' })).field).toBe('namespace');
  });
});

describe('parseHistoryQuery', () => {
  it('defaults to the last 24 h at automatic granularity', () => {
    expect(parseHistoryQuery(pod, {}, NOW)).toEqual({
      ...pod,
      from: NOW - DAY,
      to: NOW,
      granularity: 'auto',
      maxPoints: LIMITS.defaultAutoPoints,
    });
  });

  it('counts a lone from up to now, and a lone to back 24 h', () => {
    expect(parseHistoryQuery(pod, { from: '2026-11-21T09:00:00Z' }, NOW)).toMatchObject({
      from: NOW - HOUR,
      to: NOW,
    });
    expect(parseHistoryQuery(pod, { to: '2026-11-20T10:00:00Z' }, NOW)).toMatchObject({
      from: NOW - 2 * DAY,
      to: NOW - DAY,
    });
  });

  it('coerces maxPoints to a number', () => {
    expect(parseHistoryQuery(pod, { maxPoints: '50' }, NOW).maxPoints).toBe(50);
  });

  it.each([
    [{ granularity: 'hourly' }, 'granularity', 'granularity must be one of auto, raw, 1m, 5m, 1h, 1d'],
    [
      { from: 'yesterday' },
      'from',
      'from must be an RFC 3339 time with a zone (2026-01-02T15:04:05Z) or Unix seconds',
    ],
    [{ maxPoints: '0' }, 'maxPoints', 'maxPoints must be an integer from 1 to 10000'],
    [{ maxPoints: '1e9' }, 'maxPoints', 'maxPoints must be an integer from 1 to 10000'],
    [{ maxPoints: 'many' }, 'maxPoints', 'maxPoints must be an integer from 1 to 10000'],
    [{ from: '1795255200', to: '1795255200' }, 'from', 'from must be before to'],
    [{ from: '2024-01-01T00:00:00Z' }, 'from', 'the range from..to must not exceed 400 days'],
    [{ granularity: ['1m', '5m'] }, 'granularity', 'granularity must be given once'],
    [{ step: '1m' }, 'step', 'unknown query parameter "step"; expected from, to, granularity, maxPoints'],
  ])('rejects %j naming %s', (query, field, message) => {
    expect(rejection(() => parseHistoryQuery(pod, query, NOW))).toEqual({ field, message });
  });

  it('bounds the points of an explicit granularity', () => {
    expect(parseHistoryQuery(pod, { granularity: 'raw' }, NOW).granularity).toBe('raw'); // 8640 points
    expect(
      rejection(() =>
        parseHistoryQuery(pod, { granularity: 'raw', from: String((NOW - 2 * DAY) / 1000) }, NOW),
      ),
    ).toEqual({
      field: 'granularity',
      message: expect.stringContaining(
        'granularity=raw over this range gives up to 17280 points per container',
      ),
    });
    expect(
      parseHistoryQuery(pod, { granularity: '1d', from: String((NOW - 400 * DAY) / 1000) }, NOW).maxPoints,
    ).toBe(LIMITS.maxPoints);
    expect(rejection(() => parseHistoryQuery(pod, { granularity: '1h', maxPoints: '10' }, NOW)).field).toBe(
      'granularity',
    );
  });
});

describe('parseTopQuery', () => {
  it('defaults to the top 10 by CPU over the last hour, cluster-wide', () => {
    expect(parseTopQuery({}, NOW)).toEqual({
      query: { metric: 'cpu', from: NOW - HOUR, to: NOW, limit: 10 },
    });
  });

  it('limits the query to the namespace asked for', () => {
    expect(parseTopQuery({ namespace: 'shop', window: '30d', metric: 'memory', limit: '3' }, NOW)).toEqual({
      namespace: 'shop',
      query: { metric: 'memory', from: NOW - 30 * DAY, to: NOW, limit: 3, namespaces: ['shop'] },
    });
  });

  it('counts a window back from to', () => {
    expect(parseTopQuery({ window: '24h', to: '2026-11-20T10:00:00Z' }, NOW).query).toMatchObject({
      from: NOW - 2 * DAY,
      to: NOW - DAY,
    });
  });

  it.each([
    [{ metric: 'gpu' }, 'metric'],
    [{ window: '2h' }, 'window'],
    [{ limit: '101' }, 'limit'],
    [{ limit: '1.5' }, 'limit'],
    [{ namespace: '' }, 'namespace'],
    [{ window: '1h', from: '1795255200' }, 'window'],
  ])('rejects %j naming %s', (query, field) => {
    expect(rejection(() => parseTopQuery(query, NOW)).field).toBe(field);
  });
});

describe('parseSummaryQuery', () => {
  it('defaults to the last 24 h by namespace', () => {
    expect(parseSummaryQuery({}, NOW)).toEqual({
      query: { from: NOW - DAY, to: NOW, groupBy: { kind: 'namespace' } },
    });
  });

  it.each([
    ['pod', { kind: 'pod' }],
    ['label:team', { kind: 'label', key: 'team' }],
    ['label:app.kubernetes.io/name', { kind: 'label', key: 'app.kubernetes.io/name' }],
  ])('groups by %s', (groupBy, expected) => {
    expect(parseSummaryQuery({ groupBy }, NOW).query.groupBy).toEqual(expected);
  });

  it('takes an exact billing period', () => {
    expect(
      parseSummaryQuery({ from: '2026-10-01T00:00:00Z', to: '2026-11-01T00:00:00Z' }, NOW).query,
    ).toMatchObject({
      from: Date.UTC(2026, 9, 1),
      to: Date.UTC(2026, 10, 1),
    });
  });

  it.each(['label:', 'label:-x', 'node', 'label:a/b/c', 'namespace,pod'])('rejects groupBy=%j', (groupBy) => {
    expect(rejection(() => parseSummaryQuery({ groupBy }, NOW))).toEqual({
      field: 'groupBy',
      message: 'groupBy must be namespace, pod, or label:<label key>',
    });
  });
});

describe('queries without parameters', () => {
  it('rejects parameters the current usage does not take', () => {
    expect(() => parseCurrentQuery({})).not.toThrow();
    expect(rejection(() => parseCurrentQuery({ from: '0' }))).toEqual({
      field: 'from',
      message: 'unknown query parameter "from"; none are accepted',
    });
  });

  it('accepts an optional namespace on the event stream', () => {
    expect(parseEventsQuery({})).toEqual({});
    expect(parseEventsQuery({ namespace: 'shop' })).toEqual({ namespace: 'shop' });
    expect(rejection(() => parseEventsQuery({ namespace: 'SHOP' })).field).toBe('namespace');
  });
});
