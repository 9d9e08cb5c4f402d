import { ApiError } from './api.js';
import { field, h, select } from './dom.js';
import {
  fromLocalInput,
  isPreset,
  resolveWindow,
  toLocalInput,
  WINDOW_LABELS,
  WINDOW_PRESETS,
  type TimeRange,
  type WindowPreset,
} from './windows.js';

/** What went wrong, in words: 403 says which permission is missing (the API's message names it). */
export function errorPanel(err: unknown, what: string): HTMLElement {
  if (err instanceof ApiError && err.status === 403) {
    return h(
      'div',
      { class: 'notice forbidden', role: 'alert' },
      h('h2', {}, 'Not allowed'),
      h('p', {}, `Your token may not see ${what}. The operator answered: `, h('q', {}, err.message)),
      h(
        'p',
        {},
        'Ask a cluster administrator for the permission named above, or pick a namespace you can read.',
      ),
    );
  }
  if (err instanceof ApiError && err.status === 404) {
    return h('div', { class: 'notice', role: 'status' }, h('p', {}, err.message));
  }
  const message = err instanceof Error ? err.message : String(err);
  return h(
    'div',
    { class: 'notice error', role: 'alert' },
    h('h2', {}, `Could not load ${what}`),
    h('p', {}, message),
  );
}

export function loading(what: string): HTMLElement {
  return h('p', { class: 'loading', role: 'status' }, `Loading ${what}…`);
}

export interface NamespaceChoice {
  /** Empty: every namespace (cluster-wide). */
  namespace: string;
}

/** The namespace picker: the namespaces the token may read, "all" only for cluster-wide readers. */
export function namespacePicker(
  allowed: { clusterWide: boolean; items: { name: string }[] },
  selected: string,
  onChange: (namespace: string) => void,
): HTMLElement {
  const options: [string, string][] = allowed.clusterWide ? [['', 'All namespaces']] : [];
  for (const { name } of allowed.items) options.push([name, name]);
  if (selected && !allowed.items.some((n) => n.name === selected))
    options.push([selected, `${selected} (not in your list)`]);
  const control = select(
    { id: 'namespace', onchange: (e: Event) => onChange((e.target as HTMLSelectElement).value) },
    options,
    selected,
  );
  return field('Namespace', control);
}

/** The namespace a view starts with: the one in the URL, else all (cluster-wide) or the first allowed. */
export function initialNamespace(
  allowed: { clusterWide: boolean; items: { name: string }[] },
  fromUrl: string | null,
): string | undefined {
  if (fromUrl !== null) return fromUrl;
  if (allowed.clusterWide) return '';
  return allowed.items[0]?.name;
}

export interface WindowState {
  preset: WindowPreset;
  from?: Date;
  to?: Date;
}

export function windowFromParams(params: URLSearchParams, fallback: WindowPreset = '24h'): WindowState {
  const preset = params.get('window');
  return {
    preset: isPreset(preset) ? preset : fallback,
    from: fromLocalInput(params.get('from')) ?? undefined,
    to: fromLocalInput(params.get('to')) ?? undefined,
  };
}

export function windowToParams(state: WindowState, params: URLSearchParams): void {
  params.set('window', state.preset);
  if (state.preset === 'custom') {
    if (state.from) params.set('from', toLocalInput(state.from));
    if (state.to) params.set('to', toLocalInput(state.to));
  } else {
    params.delete('from');
    params.delete('to');
  }
}

export function rangeOf(state: WindowState, now = new Date()): TimeRange | { error: string } {
  return resolveWindow(state.preset, now, { from: state.from, to: state.to });
}

/** The window picker: presets, and two datetime inputs (to the second) for a custom window. */
export function windowPicker(state: WindowState, onChange: (state: WindowState) => void): HTMLElement {
  const custom = h('div', { class: 'custom-range', hidden: state.preset !== 'custom' });
  const now = new Date();
  const fromInput = h('input', {
    type: 'datetime-local',
    step: 1,
    id: 'window-from',
    value: toLocalInput(state.from ?? new Date(now.getTime() - 24 * 3_600_000)),
  });
  const toInput = h('input', {
    type: 'datetime-local',
    step: 1,
    id: 'window-to',
    value: toLocalInput(state.to ?? now),
  });
  const apply = h('button', { type: 'button', id: 'window-apply' }, 'Apply');
  const presets = select(
    { id: 'window' },
    WINDOW_PRESETS.map((p) => [p, WINDOW_LABELS[p]]),
    state.preset,
  );
  const emitCustom = () =>
    onChange({ preset: 'custom', from: fromLocalInput(fromInput.value), to: fromLocalInput(toInput.value) });
  presets.addEventListener('change', () => {
    const preset = presets.value as WindowPreset;
    custom.hidden = preset !== 'custom';
    if (preset === 'custom') emitCustom();
    else onChange({ preset });
  });
  apply.addEventListener('click', emitCustom);
  custom.append(field('From', fromInput), field('To', toInput), apply);
  return h('div', { class: 'window-picker' }, field('Window', presets), custom);
}

/** A table in a horizontally scrollable, keyboard-focusable region (narrow screens). */
export function scrollTable(label: string, table: HTMLTableElement): HTMLElement {
  return h('div', { class: 'table-scroll', role: 'region', 'aria-label': label, tabindex: 0 }, table);
}
