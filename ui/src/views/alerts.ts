import type { AlertItem, AlertMessage, AlertsAnswer } from '../api.js';
import { errorPanel, initialNamespace, loading, namespacePicker, scrollTable } from '../components.js';
import { clear, h } from '../dom.js';
import * as fmt from '../format.js';
import type { View } from './types.js';

/** How long events are gathered before the list is read again (a cycle publishes many at once). */
const REFRESH_DEBOUNCE_MS = 750;
const MAX_LOG = 20;

/**
 * The ResourceAlerts of a namespace with their state, counters and the targets that are not
 * Normal. Kept current from the event stream: every snapshot (a new evaluation) and every
 * alert transition makes the view read the alerts again, so Pending turns into Firing on
 * screen without a reload.
 */
export const alertsView: View = {
  title: 'Alerts',
  render(root, ctx) {
    // Alerts are listed per namespace (the permission is namespaced): all-namespaces readers get the first.
    const namespace = initialNamespace(ctx.namespaces, ctx.params.get('ns')) || ctx.namespaces.items[0]?.name;
    const results = h('div', { id: 'alerts-results' });
    const status = h('p', { id: 'live-status', class: 'live-status', role: 'status' }, '');
    const log = h('ol', { id: 'transition-log', class: 'log' });
    let timer: ReturnType<typeof setTimeout> | undefined;
    let loaded = false;
    ctx.signal.addEventListener('abort', () => clearTimeout(timer));

    root.append(h('h1', {}, 'Alerts'));
    if (!namespace) {
      root.append(
        h('p', { class: 'notice forbidden', role: 'alert' }, 'Your token may not read any namespace.'),
      );
      return;
    }
    ctx.replaceParams(new URLSearchParams({ ns: namespace }));

    const load = async () => {
      if (!loaded) {
        clear(results);
        results.append(loading('the alerts'));
      }
      try {
        const answer = await ctx.api.get<AlertsAnswer>(
          `/api/v1/namespaces/${encodeURIComponent(namespace)}/resourcealerts`,
          {},
          ctx.signal,
        );
        clear(results);
        results.append(draw(answer));
        loaded = true;
        return true;
      } catch (err) {
        if (ctx.signal.aborted) return false;
        clear(results);
        results.append(errorPanel(err, `the ResourceAlerts of the namespace "${namespace}"`));
        loaded = false;
        return false;
      }
    };
    const refreshSoon = () => {
      if (timer !== undefined) return;
      timer = setTimeout(() => {
        timer = undefined;
        void load();
      }, REFRESH_DEBOUNCE_MS);
    };

    root.append(
      h(
        'form',
        { class: 'toolbar', 'aria-label': 'Alerts filters', onsubmit: (e: Event) => e.preventDefault() },
        namespacePicker({ clusterWide: false, items: ctx.namespaces.items }, namespace, (ns) => {
          const params = new URLSearchParams({ ns });
          location.hash = `#/alerts?${params.toString()}`;
        }),
      ),
      status,
      results,
      h(
        'section',
        { 'aria-labelledby': 'log-heading' },
        h('h2', { id: 'log-heading' }, 'Transitions seen on this page'),
        log,
      ),
    );
    void load().then((ok) => {
      if (!ok) return;
      ctx.subscribe(
        namespace,
        (message) => {
          if (message.event === 'alert') {
            const e = JSON.parse(message.data) as AlertMessage;
            log.prepend(
              h('li', {}, `${fmt.time(e.time)}: ${e.name} ${e.transition} for ${e.target} (${e.metric})`),
            );
            while (log.children.length > MAX_LOG) log.lastElementChild?.remove();
          }
          if (message.event === 'snapshot' || message.event === 'alert') refreshSoon();
        },
        (text, isLive) => {
          status.textContent = text;
          status.classList.toggle('live', isLive);
        },
      );
    });
  },
};

function draw(answer: AlertsAnswer): HTMLElement {
  if (answer.items.length === 0)
    return h(
      'p',
      { class: 'notice', role: 'status' },
      `There are no ResourceAlerts in the namespace "${answer.namespace}".`,
    );
  const table = h(
    'table',
    { id: 'alerts-table' },
    h('caption', {}, `ResourceAlerts in ${answer.namespace}`),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Name'),
        h('th', { scope: 'col' }, 'State'),
        h('th', { scope: 'col', class: 'num' }, 'Firing'),
        h('th', { scope: 'col', class: 'num' }, 'Pending'),
        h('th', { scope: 'col', class: 'num' }, 'CPU breaches'),
        h('th', { scope: 'col', class: 'num' }, 'Memory breaches'),
        h('th', { scope: 'col' }, 'Last evaluation'),
        h('th', { scope: 'col' }, 'Last alert'),
      ),
    ),
    h('tbody', {}, answer.items.map(alertRow)),
  );
  const details = answer.items
    .filter((a) => (a.status.targets?.length ?? 0) > 0 || readyProblem(a))
    .map(targetsOf);
  return h('div', {}, scrollTable('ResourceAlerts', table), details);
}

function alertRow(alert: AlertItem): HTMLElement {
  const s = alert.status;
  const state = s.state ?? 'Unknown';
  return h(
    'tr',
    { 'data-alert': alert.name, 'data-state': state },
    h('th', { scope: 'row' }, alert.name),
    h('td', {}, h('span', { class: `badge state-${state.toLowerCase()}` }, state)),
    h('td', { class: 'num', 'data-field': 'firing' }, s.firingTargets ?? 0),
    h('td', { class: 'num' }, s.pendingTargets ?? 0),
    h('td', { class: 'num', 'data-field': 'cpu-breaches' }, s.cpuConsecutiveBreaches ?? 0),
    h('td', { class: 'num' }, s.memConsecutiveBreaches ?? 0),
    h('td', {}, fmt.time(s.lastEvaluationTime)),
    h('td', {}, fmt.time(s.lastAlertedAt)),
  );
}

function readyProblem(alert: AlertItem) {
  const ready = alert.status.conditions?.find((c) => c.type === 'Ready');
  return ready && ready.status === 'False' ? ready : undefined;
}

function targetsOf(alert: AlertItem): HTMLElement {
  const problem = readyProblem(alert);
  const targets = alert.status.targets ?? [];
  return h(
    'section',
    { class: 'alert-targets', 'data-alert': alert.name, 'aria-label': `Targets of ${alert.name}` },
    h('h2', {}, `${alert.name}: targets`),
    problem
      ? h('p', { class: 'notice error' }, `Not ready (${problem.reason ?? ''}): ${problem.message ?? ''}`)
      : null,
    targets.length
      ? scrollTable(
          `Targets of ${alert.name}`,
          h(
            'table',
            {},
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                h('th', { scope: 'col' }, 'Target'),
                h('th', { scope: 'col' }, 'Metric'),
                h('th', { scope: 'col' }, 'State'),
                h('th', { scope: 'col', class: 'num' }, 'Value'),
                h('th', { scope: 'col', class: 'num' }, 'Threshold'),
                h('th', { scope: 'col', class: 'num' }, 'Breaches'),
                h('th', { scope: 'col', class: 'num' }, 'Healthy'),
                h('th', { scope: 'col' }, 'Since'),
              ),
            ),
            h(
              'tbody',
              {},
              targets.map((t) =>
                h(
                  'tr',
                  { 'data-target': t.container ? `${t.pod}/${t.container}` : t.pod },
                  h(
                    'th',
                    { scope: 'row' },
                    h(
                      'a',
                      {
                        href: `#/pod/${encodeURIComponent(t.namespace ?? alert.namespace)}/${encodeURIComponent(t.pod)}`,
                      },
                      t.container ? `${t.pod}/${t.container}` : t.pod,
                    ),
                  ),
                  h('td', {}, t.metric),
                  h('td', {}, h('span', { class: `badge state-${t.state.toLowerCase()}` }, t.state)),
                  h('td', { class: 'num' }, t.value ?? '–'),
                  h('td', { class: 'num' }, t.threshold ?? '–'),
                  h('td', { class: 'num', 'data-field': 'breaches' }, t.breaches),
                  h('td', { class: 'num' }, t.healthy),
                  h('td', {}, fmt.time(t.since)),
                ),
              ),
            ),
          ),
        )
      : null,
  );
}
