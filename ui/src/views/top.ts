import { supersedingLoads, type TopAnswer } from '../api.js';
import {
  errorPanel,
  initialNamespace,
  loading,
  namespacePicker,
  rangeOf,
  scrollTable,
  windowFromParams,
  windowPicker,
  windowToParams,
} from '../components.js';
import { clear, field, h, select } from '../dom.js';
import * as fmt from '../format.js';
import type { View } from './types.js';

/**
 * The containers that used the most CPU or memory over the window: ranked by usage over the window
 * (core-hours, GiB-hours), with the average over the window, the average over the time each was
 * measured, and the peak.
 */
export const topView: View = {
  title: 'Top consumers',
  render(root, ctx) {
    const state = {
      namespace: initialNamespace(ctx.namespaces, ctx.params.get('ns')),
      window: windowFromParams(ctx.params),
      metric: ctx.params.get('metric') === 'memory' ? 'memory' : 'cpu',
      limit: Number(ctx.params.get('limit') ?? 20) || 20,
    };
    const results = h('div', { id: 'top-results', 'aria-live': 'polite' });

    const nextLoad = supersedingLoads(ctx.signal);
    const load = async () => {
      const signal = nextLoad();
      const params = new URLSearchParams();
      if (state.namespace !== undefined) params.set('ns', state.namespace);
      windowToParams(state.window, params);
      params.set('metric', state.metric);
      params.set('limit', String(state.limit));
      ctx.replaceParams(params);
      clear(results);
      if (state.namespace === undefined) {
        results.append(
          h(
            'p',
            { class: 'notice forbidden', role: 'alert' },
            'Your token may not list pods in any namespace.',
          ),
        );
        return;
      }
      const range = rangeOf(state.window);
      if ('error' in range) {
        results.append(h('p', { class: 'notice', role: 'alert' }, range.error));
        return;
      }
      results.append(loading('the top consumers'));
      try {
        const answer = await ctx.api.get<TopAnswer>(
          '/api/v1/usage/top',
          {
            metric: state.metric,
            from: range.from.toISOString(),
            to: range.to.toISOString(),
            limit: state.limit,
            namespace: state.namespace || undefined,
          },
          signal,
        );
        if (signal.aborted) return;
        clear(results);
        results.append(draw(answer));
      } catch (err) {
        if (signal.aborted) return;
        clear(results);
        results.append(
          errorPanel(
            err,
            state.namespace
              ? `the top consumers of "${state.namespace}"`
              : 'the top consumers of the cluster',
          ),
        );
      }
    };

    const draw = (answer: TopAnswer): HTMLElement => {
      if (answer.items.length === 0)
        return h('p', { class: 'notice', role: 'status' }, 'No usage was recorded in this window.');
      const show = answer.metric === 'cpu' ? fmt.cpu : fmt.bytes;
      const usageUnit = answer.metric === 'cpu' ? 'core-hours' : 'GiB-hours';
      const showUsage = (usage: number | undefined) =>
        usage === undefined ? '–' : `${fmt.number(usage)} ${usageUnit}`;
      const highest = Math.max(...answer.items.map((i) => i.usage ?? 0));
      const table = h(
        'table',
        { id: 'top-table' },
        h(
          'caption',
          {},
          `Top ${answer.items.length} containers by ${answer.metric === 'cpu' ? 'CPU' : 'memory'}, ${fmt.time(answer.from)} – ${fmt.time(answer.to)}`,
        ),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col', class: 'num' }, '#'),
            h('th', { scope: 'col' }, 'Namespace'),
            h('th', { scope: 'col' }, 'Pod'),
            h('th', { scope: 'col' }, 'Container'),
            h('th', { scope: 'col', class: 'num' }, 'Usage'),
            h('th', { scope: 'col', class: 'num' }, 'Average over the window'),
            h('th', { scope: 'col', class: 'num' }, 'Average while measured'),
            h('th', { scope: 'col', class: 'num' }, 'Peak'),
            h('th', { scope: 'col', class: 'bar-col' }, 'Usage against the highest'),
            h('th', { scope: 'col', class: 'num' }, 'Samples'),
          ),
        ),
        h(
          'tbody',
          {},
          answer.items.map((item, index) => {
            const bar = h('span', { class: 'bar' });
            const share = highest > 0 ? (item.usage ?? 0) / highest : 0;
            bar.style.width = `${Math.max(0, Math.min(100, share * 100))}%`;
            return h(
              'tr',
              {},
              h('td', { class: 'num' }, index + 1),
              h('td', {}, item.namespace),
              h(
                'th',
                { scope: 'row' },
                h(
                  'a',
                  { href: `#/pod/${encodeURIComponent(item.namespace)}/${encodeURIComponent(item.pod)}` },
                  item.pod,
                ),
              ),
              h('td', {}, item.container),
              h('td', { class: 'num' }, showUsage(item.usage)),
              h('td', { class: 'num' }, show(item.windowAvg)),
              h('td', { class: 'num' }, show(item.avg)),
              h('td', { class: 'num' }, show(item.max)),
              h('td', { class: 'bar-col' }, h('span', { class: 'bar-track', role: 'presentation' }, bar)),
              h('td', { class: 'num' }, item.samples),
            );
          }),
        ),
      );
      return scrollTable('Top consumers table', table);
    };

    const metric = select(
      { id: 'metric' },
      [
        ['cpu', 'CPU'],
        ['memory', 'Memory'],
      ],
      state.metric,
    );
    metric.addEventListener('change', () => {
      state.metric = metric.value;
      void load();
    });
    const limit = select(
      { id: 'limit' },
      ['10', '20', '50', '100'].map((n) => [n, n]),
      String(state.limit),
    );
    limit.addEventListener('change', () => {
      state.limit = Number(limit.value);
      void load();
    });
    root.append(
      h('h1', {}, 'Top consumers'),
      h(
        'form',
        {
          class: 'toolbar',
          'aria-label': 'Top consumers filters',
          onsubmit: (e: Event) => e.preventDefault(),
        },
        state.namespace === undefined
          ? null
          : namespacePicker(ctx.namespaces, state.namespace, (ns) => {
              state.namespace = ns;
              void load();
            }),
        windowPicker(state.window, (w) => {
          state.window = w;
          void load();
        }),
        field('Metric', metric),
        field('Show', limit),
      ),
      results,
    );
    void load();
  },
};
