import {
  supersedingLoads,
  type Aggregate,
  type CurrentAnswer,
  type CurrentContainer,
  type HistoryAnswer,
  type HistoryPoint,
  type SnapshotMessage,
} from '../api.js';
import { BINARY_INCREMENTS, chart, type ChartSeries } from '../chart.js';
import {
  errorPanel,
  loading,
  rangeOf,
  scrollTable,
  windowFromParams,
  windowPicker,
  windowToParams,
} from '../components.js';
import { clear, h } from '../dom.js';
import * as fmt from '../format.js';
import type { View } from './types.js';

const KNOWN_SAMPLE_FIELDS = new Set([
  'container',
  'containerType',
  'node',
  'policy',
  'time',
  'cpuMillicores',
  'memoryBytes',
  'cpuRequestMillicores',
  'cpuLimitMillicores',
  'memoryRequestBytes',
  'memoryLimitBytes',
  'cpuPercentOfRequest',
  'cpuPercentOfLimit',
  'memoryPercentOfRequest',
  'memoryPercentOfLimit',
  'uptimeSeconds',
  'intervalSeconds',
  'labels',
]);
const KNOWN_POINT_FIELDS = new Set(['time', 'count', 'cpuMillicores', 'memoryBytes']);

/**
 * Points asked for: the API then picks raw samples for an hour, 1m for a day, 5m for a week and
 * 1h for a month (granularity=auto takes the finest resolution that fits).
 */
const POINTS = 2100;

const COLORS = { avg: '#1d4ed8', max: '#7c3aed', request: '#047857', limit: '#b91c1c', extra: '#0f766e' };

/**
 * One pod: the current sample of each container (updated live from the event stream) and its
 * history over the window, CPU and memory charts with request and limit lines; measurements
 * newer operators add (network, disk, processes) are shown as they come.
 */
export const podView: View = {
  title: 'Pod',
  render(root, ctx) {
    const [namespace = '', pod = ''] = ctx.path.map(decodeURIComponent);
    let state = windowFromParams(ctx.params, '1h');
    const current = h('section', { id: 'pod-current', 'aria-labelledby': 'current-heading' });
    const history = h('section', { id: 'pod-history', 'aria-labelledby': 'history-heading' });
    let currentAnswer: CurrentAnswer | undefined;
    const nextHistory = supersedingLoads(ctx.signal);

    const loadCurrent = async () => {
      try {
        currentAnswer = await ctx.api.get<CurrentAnswer>(
          `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/usage`,
          {},
          ctx.signal,
        );
        drawCurrent(currentAnswer);
        return true;
      } catch (err) {
        if (ctx.signal.aborted) return false;
        clear(current);
        current.append(
          h('h2', { id: 'current-heading' }, 'Now'),
          errorPanel(err, `the usage of the pod "${namespace}/${pod}"`),
        );
        return false;
      }
    };

    const drawCurrent = (answer: CurrentAnswer) => {
      clear(current);
      const extras = new Set<string>();
      for (const c of answer.containers)
        for (const [key, value] of Object.entries(c))
          if (!KNOWN_SAMPLE_FIELDS.has(key) && typeof value === 'number') extras.add(key);
      const table = h(
        'table',
        { id: 'current-table' },
        h('caption', {}, 'The latest sample of each container'),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, 'Container'),
            h('th', { scope: 'col', class: 'num' }, 'CPU'),
            h('th', { scope: 'col', class: 'num' }, 'CPU request / limit'),
            h('th', { scope: 'col', class: 'num' }, 'Memory'),
            h('th', { scope: 'col', class: 'num' }, 'Memory request / limit'),
            [...extras].map((key) => h('th', { scope: 'col', class: 'num' }, fmt.humanize(key))),
            h('th', { scope: 'col' }, 'Sampled'),
          ),
        ),
        h(
          'tbody',
          {},
          answer.containers.map((c) =>
            h(
              'tr',
              { 'data-container': c.container },
              h(
                'th',
                { scope: 'row' },
                c.containerType === 'init' || c.containerType === 'sidecar'
                  ? `${c.container} (${c.containerType})`
                  : c.container,
              ),
              h('td', { class: 'num', 'data-field': 'cpu' }, fmt.cpu(c.cpuMillicores)),
              h(
                'td',
                { class: 'num' },
                `${fmt.cpu(c.cpuRequestMillicores)} / ${fmt.cpu(c.cpuLimitMillicores)}`,
              ),
              h('td', { class: 'num', 'data-field': 'memory' }, fmt.bytes(c.memoryBytes)),
              h(
                'td',
                { class: 'num' },
                `${fmt.bytes(c.memoryRequestBytes)} / ${fmt.bytes(c.memoryLimitBytes)}`,
              ),
              [...extras].map((key) => {
                const value = fieldOf(c, key);
                return h('td', { class: 'num' }, typeof value === 'number' ? fmt.byName(key, value) : '–');
              }),
              h('td', { 'data-field': 'time' }, fmt.time(c.time)),
            ),
          ),
        ),
      );
      const node = answer.containers[0]?.node;
      current.append(
        h('h2', { id: 'current-heading' }, 'Now'),
        h('p', {}, node ? `On node ${node}. ` : '', h('span', { id: 'live-note' }, '')),
        scrollTable('Current usage', table),
      );
    };

    const loadHistory = async () => {
      const params = new URLSearchParams();
      windowToParams(state, params);
      ctx.replaceParams(params);
      const signal = nextHistory();
      clear(history);
      history.append(h('h2', { id: 'history-heading' }, 'History'));
      const range = rangeOf(state);
      if ('error' in range) {
        history.append(h('p', { class: 'notice', role: 'alert' }, range.error));
        return;
      }
      history.append(loading('the history'));
      try {
        const answer = await ctx.api.get<HistoryAnswer>(
          `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/usage/history`,
          {
            from: range.from.toISOString(),
            to: range.to.toISOString(),
            granularity: 'auto',
            maxPoints: POINTS,
          },
          signal,
        );
        drawHistory(answer, signal);
      } catch (err) {
        if (signal.aborted) return;
        clear(history);
        history.append(
          h('h2', { id: 'history-heading' }, 'History'),
          errorPanel(err, `the history of the pod "${namespace}/${pod}"`),
        );
      }
    };

    const drawHistory = (answer: HistoryAnswer, signal: AbortSignal) => {
      clear(history);
      history.append(
        h('h2', { id: 'history-heading' }, 'History'),
        h(
          'p',
          { id: 'granularity' },
          `Resolution ${answer.granularity === 'raw' ? 'raw samples' : answer.granularity}, ${fmt.time(answer.from)} – ${fmt.time(answer.to)}.`,
        ),
      );
      if (answer.containers.every((c) => c.points.length === 0)) {
        history.append(h('p', { class: 'notice', role: 'status' }, 'No samples in this window.'));
        return;
      }
      for (const container of answer.containers) {
        const sample = currentAnswer?.containers.find((c) => c.container === container.container);
        const times = container.points.map((p) => Date.parse(p.time) / 1000);
        const section = h(
          'section',
          { class: 'container-history', 'data-container': container.container },
          h('h3', {}, `Container ${container.container}`),
        );
        const grid = h('div', { class: 'charts' });
        grid.append(
          chart(
            {
              title: `CPU of ${container.container}`,
              times,
              series: [
                ...aggregateSeries(container.points, (p) => p.cpuMillicores),
                ...limitLines(times.length, sample?.cpuRequestMillicores, sample?.cpuLimitMillicores),
              ],
              format: fmt.cpu,
            },
            signal,
          ),
          chart(
            {
              title: `Memory of ${container.container}`,
              times,
              series: [
                ...aggregateSeries(container.points, (p) => p.memoryBytes),
                ...limitLines(times.length, sample?.memoryRequestBytes, sample?.memoryLimitBytes),
              ],
              format: fmt.bytes,
              increments: BINARY_INCREMENTS,
            },
            signal,
          ),
        );
        for (const key of extraAggregates(container.points)) {
          grid.append(
            chart(
              {
                title: `${fmt.humanize(key)} of ${container.container}`,
                times,
                series: aggregateSeries(container.points, (p) => asAggregate(fieldOf(p, key))).map((s) => ({
                  ...s,
                  stroke: s.label === 'Average' ? COLORS.extra : COLORS.max,
                })),
                format: (v) => fmt.byName(key, v),
                ...(/bytes$/i.test(key) ? { increments: BINARY_INCREMENTS } : {}),
              },
              signal,
            ),
          );
        }
        section.append(grid);
        history.append(section);
      }
    };

    const live = (message: { event: string; data: string }) => {
      if (message.event !== 'snapshot' || !currentAnswer) return;
      const event = JSON.parse(message.data) as SnapshotMessage;
      if (event.pod !== pod) return;
      const row = current.querySelector<HTMLElement>(`tr[data-container="${CSS.escape(event.container)}"]`);
      const sample = currentAnswer.containers.find(
        (c): c is CurrentContainer => c.container === event.container,
      );
      if (!row || !sample) return;
      Object.assign(sample, {
        time: event.time,
        cpuMillicores: event.cpuMillicores,
        memoryBytes: event.memoryBytes,
      });
      row.querySelector('[data-field="cpu"]')!.textContent = fmt.cpu(event.cpuMillicores);
      row.querySelector('[data-field="memory"]')!.textContent = fmt.bytes(event.memoryBytes);
      row.querySelector('[data-field="time"]')!.textContent = fmt.time(event.time);
    };

    root.append(
      h(
        'p',
        { class: 'breadcrumb' },
        h('a', { href: `#/namespaces?ns=${encodeURIComponent(namespace)}&groupBy=pod` }, namespace),
        ' / ',
        pod,
      ),
      h('h1', {}, `Pod ${pod}`),
      h(
        'form',
        { class: 'toolbar', 'aria-label': 'History window', onsubmit: (e: Event) => e.preventDefault() },
        windowPicker(state, (w) => {
          state = w;
          void loadHistory();
        }),
      ),
      current,
      history,
    );
    current.append(h('h2', { id: 'current-heading' }, 'Now'), loading('the current usage'));
    void loadCurrent().then((ok) => {
      void loadHistory();
      if (ok)
        ctx.subscribe(namespace, live, (text) => {
          const note = current.querySelector('#live-note');
          if (note) note.textContent = text;
        });
    });
  },
};

function aggregateSeries(points: HistoryPoint[], pick: (p: HistoryPoint) => Aggregate | null): ChartSeries[] {
  return [
    { label: 'Average', values: points.map((p) => pick(p)?.avg ?? null), stroke: COLORS.avg, width: 2 },
    { label: 'Peak', values: points.map((p) => pick(p)?.max ?? null), stroke: COLORS.max, dash: [4, 3] },
  ];
}

function limitLines(
  length: number,
  request: number | null | undefined,
  limit: number | null | undefined,
): ChartSeries[] {
  const out: ChartSeries[] = [];
  if (request !== undefined && request !== null)
    out.push({
      label: 'Request',
      values: new Array<number>(length).fill(request),
      stroke: COLORS.request,
      flat: true,
      dash: [8, 4],
    });
  if (limit !== undefined && limit !== null)
    out.push({
      label: 'Limit',
      values: new Array<number>(length).fill(limit),
      stroke: COLORS.limit,
      flat: true,
      dash: [2, 2],
      width: 2,
    });
  return out;
}

/** A field of an answer's object that the dashboard does not know by name (a newer operator's). */
function fieldOf(object: object, key: string): unknown {
  return (object as Record<string, unknown>)[key];
}

function asAggregate(value: unknown): Aggregate | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Partial<Aggregate>;
  return typeof v.avg === 'number' && typeof v.max === 'number' ? (v as Aggregate) : null;
}

/** Fields of the points besides CPU and memory that hold min/avg/max (network, disk, processes). */
function extraAggregates(points: HistoryPoint[]): string[] {
  const keys = new Set<string>();
  for (const p of points)
    for (const key of Object.keys(p))
      if (!KNOWN_POINT_FIELDS.has(key) && asAggregate(fieldOf(p, key))) keys.add(key);
  return [...keys].sort();
}
