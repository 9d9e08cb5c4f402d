import { ApiError, supersedingLoads, type SummaryAnswer } from '../api.js';
import {
  chargebackRows,
  DEFAULT_PRICES,
  sortRows,
  toCsv,
  totals,
  type ChargebackRow,
  type Prices,
  type SortDirection,
  type SortKey,
} from '../chargeback.js';
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
  type WindowState,
} from '../components.js';
import { clear, field, h, select } from '../dom.js';
import * as fmt from '../format.js';
import { loadPrefs, savePrefs } from '../session.js';
import type { View } from './types.js';

const COLUMNS: { key: SortKey; label: string; numeric: boolean }[] = [
  { key: 'group', label: 'Group', numeric: false },
  { key: 'cpuCoreHours', label: 'Core-hours used', numeric: true },
  { key: 'cpuCoreHoursBilled', label: 'Core-hours billed', numeric: true },
  { key: 'memoryGiBHours', label: 'GiB-hours used', numeric: true },
  { key: 'memoryGiBHoursBilled', label: 'GiB-hours billed', numeric: true },
  { key: 'cost', label: 'Cost', numeric: true },
  { key: 'coverageFraction', label: 'Coverage', numeric: true },
];

/** Chargeback by namespace, pod or label over a window, at the user's prices, sortable, as CSV. */
export const namespacesView: View = {
  title: 'Namespaces',
  render(root, ctx) {
    const state = {
      namespace: initialNamespace(ctx.namespaces, ctx.params.get('ns')),
      window: windowFromParams(ctx.params),
      groupBy: ctx.params.get('groupBy') ?? 'namespace',
      labelKey: ctx.params.get('label') ?? 'app',
      sortKey: (ctx.params.get('sort') as SortKey | null) ?? 'cost',
      sortDirection: (ctx.params.get('dir') as SortDirection | null) ?? 'descending',
      prices: loadPrefs<Prices>(DEFAULT_PRICES),
    };
    let answer: SummaryAnswer | undefined;
    const results = h('div', { id: 'chargeback-results', 'aria-live': 'polite' });

    const sync = () => {
      const params = new URLSearchParams();
      if (state.namespace !== undefined) params.set('ns', state.namespace);
      windowToParams(state.window, params);
      params.set('groupBy', state.groupBy);
      if (state.groupBy === 'label') params.set('label', state.labelKey);
      params.set('sort', state.sortKey);
      params.set('dir', state.sortDirection);
      ctx.replaceParams(params);
    };

    const groupByParam = () => (state.groupBy === 'label' ? `label:${state.labelKey.trim()}` : state.groupBy);

    const nextLoad = supersedingLoads(ctx.signal);
    const load = async () => {
      const signal = nextLoad();
      sync();
      clear(results);
      if (state.namespace === undefined) {
        results.append(noNamespaces());
        return;
      }
      const range = rangeOf(state.window);
      if ('error' in range) {
        results.append(h('p', { class: 'notice', role: 'alert' }, range.error));
        return;
      }
      results.append(loading('the chargeback'));
      try {
        const got = await ctx.api.get<SummaryAnswer>(
          '/api/v1/usage/summary',
          {
            from: range.from.toISOString(),
            to: range.to.toISOString(),
            groupBy: groupByParam(),
            namespace: state.namespace || undefined,
          },
          signal,
        );
        if (signal.aborted) return;
        answer = got;
        draw();
      } catch (err) {
        if (signal.aborted) return;
        answer = undefined;
        clear(results);
        results.append(
          errorPanel(
            err,
            state.namespace
              ? `the chargeback of the namespace "${state.namespace}"`
              : 'the chargeback of every namespace',
          ),
        );
        if (err instanceof ApiError && err.status === 400)
          results.append(h('p', {}, 'Check the label key and the window.'));
      }
    };

    const draw = () => {
      clear(results);
      if (!answer) return;
      const rows = sortRows(chargebackRows(answer.items, state.prices), state.sortKey, state.sortDirection);
      const sum = totals(rows);
      const currency = state.prices.currency;
      const showCoverage = rows.some((r) => r.coverageFraction !== undefined);
      const columns = COLUMNS.filter((c) => c.key !== 'coverageFraction' || showCoverage);
      const header = h(
        'tr',
        {},
        columns.map((c) => {
          const active = c.key === state.sortKey;
          const button = h(
            'button',
            { type: 'button', class: 'sort', 'data-sort': c.key },
            c.label,
            h(
              'span',
              { class: 'sort-mark', 'aria-hidden': 'true' },
              active ? (state.sortDirection === 'ascending' ? ' ▲' : ' ▼') : '',
            ),
          );
          button.addEventListener('click', () => {
            if (state.sortKey === c.key)
              state.sortDirection = state.sortDirection === 'ascending' ? 'descending' : 'ascending';
            else {
              state.sortKey = c.key;
              state.sortDirection = c.numeric ? 'descending' : 'ascending';
            }
            sync();
            draw();
            (results.querySelector(`button[data-sort="${c.key}"]`) as HTMLButtonElement | null)?.focus();
          });
          return h(
            'th',
            {
              scope: 'col',
              class: c.numeric ? 'num' : '',
              'aria-sort': active ? state.sortDirection : 'none',
            },
            button,
          );
        }),
      );
      const body = h(
        'tbody',
        {},
        rows.map((r) =>
          h(
            'tr',
            { 'data-group': r.group },
            h('th', { scope: 'row' }, groupCell(r, answer!.groupBy)),
            h('td', { class: 'num' }, fmt.number(r.cpuCoreHours, 4)),
            h('td', { class: 'num' }, fmt.number(r.cpuCoreHoursBilled, 4)),
            h('td', { class: 'num' }, fmt.number(r.memoryGiBHours, 4)),
            h('td', { class: 'num' }, fmt.number(r.memoryGiBHoursBilled, 4)),
            h('td', { class: 'num' }, fmt.money(r.cost, currency)),
            showCoverage ? h('td', { class: 'num' }, fmt.percent(r.coverageFraction)) : null,
          ),
        ),
      );
      const foot = h(
        'tfoot',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'row' }, `Total (${rows.length} ${rows.length === 1 ? 'group' : 'groups'})`),
          h('td', { class: 'num' }, fmt.number(sum.cpuCoreHours, 4)),
          h('td', { class: 'num' }, fmt.number(sum.cpuCoreHoursBilled, 4)),
          h('td', { class: 'num' }, fmt.number(sum.memoryGiBHours, 4)),
          h('td', { class: 'num' }, fmt.number(sum.memoryGiBHoursBilled, 4)),
          h('td', { class: 'num', id: 'total-cost' }, fmt.money(sum.cost, currency)),
          showCoverage ? h('td', {}) : null,
        ),
      );
      const table = h(
        'table',
        { id: 'chargeback-table' },
        h(
          'caption',
          {},
          `Chargeback ${answer.namespace ? `of ${answer.namespace} ` : ''}by ${answer.groupBy}, ${fmt.time(answer.from)} – ${fmt.time(answer.to)}`,
        ),
        h('thead', {}, header),
        body,
        foot,
      );
      const exportButton = h('button', { type: 'button', id: 'export-csv' }, 'Export CSV');
      exportButton.addEventListener('click', () => {
        const csv = toCsv(rows, {
          from: answer!.from,
          to: answer!.to,
          groupBy: answer!.groupBy,
          prices: state.prices,
        });
        download(
          `chargeback-${answer!.namespace ?? 'all'}-${answer!.from.slice(0, 19).replace(/:/g, '')}.csv`,
          csv,
        );
      });
      results.append(
        h(
          'p',
          { class: 'window-note', 'data-from': answer.from, 'data-to': answer.to },
          'Billed = max(request, usage) per sample, the OpenCost rule; cost is billed core-hours and GiB-hours at your prices.',
        ),
        rows.length
          ? scrollTable('Chargeback table', table)
          : h('p', { class: 'notice', role: 'status' }, 'No usage was recorded in this window.'),
        h('div', { class: 'actions' }, exportButton),
      );
    };

    const noNamespaces = () =>
      h(
        'div',
        { class: 'notice forbidden', role: 'alert' },
        h('h2', {}, 'No namespace to show'),
        h('p', {}, 'Your token may not list pods in any namespace, so there is no usage it may read.'),
      );

    const groupSelect = select(
      { id: 'group-by' },
      [
        ['namespace', 'Namespace'],
        ['pod', 'Pod'],
        ['label', 'Label'],
      ],
      state.groupBy,
    );
    const labelInput = h('input', {
      id: 'label-key',
      type: 'text',
      value: state.labelKey,
      spellcheck: 'false',
      autocomplete: 'off',
    });
    const labelField = field('Label key', labelInput);
    labelField.hidden = state.groupBy !== 'label';
    groupSelect.addEventListener('change', () => {
      state.groupBy = groupSelect.value;
      labelField.hidden = state.groupBy !== 'label';
      void load();
    });
    labelInput.addEventListener('change', () => {
      state.labelKey = labelInput.value;
      void load();
    });

    const priceInput = (id: string, value: number) =>
      h('input', { id, type: 'number', min: 0, step: 'any', value, inputmode: 'decimal' });
    const cpuPrice = priceInput('price-cpu', state.prices.cpuCoreHour);
    const memPrice = priceInput('price-memory', state.prices.memoryGiBHour);
    const currency = h('input', {
      id: 'currency',
      type: 'text',
      value: state.prices.currency,
      maxlength: 4,
      size: 4,
    });
    const onPrice = () => {
      const cpu = Number(cpuPrice.value);
      const mem = Number(memPrice.value);
      if (!(cpu >= 0) || !(mem >= 0) || cpuPrice.value === '' || memPrice.value === '') return;
      state.prices = { cpuCoreHour: cpu, memoryGiBHour: mem, currency: currency.value };
      savePrefs(state.prices);
      draw();
    };
    for (const input of [cpuPrice, memPrice, currency]) input.addEventListener('change', onPrice);
    const resetPrices = h('button', { type: 'button', id: 'price-reset' }, 'Default prices');
    resetPrices.addEventListener('click', () => {
      state.prices = { ...DEFAULT_PRICES };
      cpuPrice.value = String(DEFAULT_PRICES.cpuCoreHour);
      memPrice.value = String(DEFAULT_PRICES.memoryGiBHour);
      currency.value = DEFAULT_PRICES.currency;
      savePrefs(state.prices);
      draw();
    });

    root.append(
      h('h1', {}, 'Namespaces: chargeback'),
      h(
        'form',
        { class: 'toolbar', 'aria-label': 'Chargeback filters', onsubmit: (e: Event) => e.preventDefault() },
        state.namespace === undefined
          ? null
          : namespacePicker(ctx.namespaces, state.namespace, (ns) => {
              state.namespace = ns;
              void load();
            }),
        windowPicker(state.window, (w: WindowState) => {
          state.window = w;
          void load();
        }),
        field('Group by', groupSelect),
        labelField,
      ),
      h(
        'details',
        { class: 'prices' },
        h('summary', {}, 'Prices'),
        h(
          'div',
          { class: 'toolbar' },
          field('Per core-hour', cpuPrice),
          field('Per GiB-hour', memPrice),
          field('Currency', currency),
          resetPrices,
        ),
      ),
      results,
    );
    void load();
  },
};

function groupCell(row: ChargebackRow, groupBy: string): Node | string {
  if (groupBy === 'pod') {
    const [ns, pod] = row.group.split('/');
    if (ns && pod)
      return h('a', { href: `#/pod/${encodeURIComponent(ns)}/${encodeURIComponent(pod)}` }, row.group);
  }
  if (groupBy === 'namespace') {
    return h('a', { href: `#/namespaces?ns=${encodeURIComponent(row.group)}&groupBy=pod` }, row.group);
  }
  return row.group === '' ? h('em', {}, '(no label)') : row.group;
}

function download(name: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
  const link = h('a', { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
