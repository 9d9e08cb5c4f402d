import { Api, ApiError, type NamespacesAnswer } from './api.js';
import { errorPanel } from './components.js';
import { clear, field, h } from './dom.js';
import { forgetToken, loadToken, saveToken } from './session.js';
import { openEventStream, type SseMessage } from './sse.js';
import { alertsView } from './views/alerts.js';
import { namespacesView } from './views/namespaces.js';
import { podView } from './views/pod.js';
import { RECOMMENDATIONS_AVAILABLE, recommendationsView } from './views/recommendations.js';
import { topView } from './views/top.js';
import type { View } from './views/types.js';
import './styles.css';

/** The views by route name; `pod` is reached from the tables, not from the navigation. */
const VIEWS: Record<string, View> = {
  namespaces: namespacesView,
  top: topView,
  alerts: alertsView,
  pod: podView,
  ...(RECOMMENDATIONS_AVAILABLE ? { recommendations: recommendationsView } : {}),
};
const NAV = ['namespaces', 'top', 'alerts', ...(RECOMMENDATIONS_AVAILABLE ? ['recommendations'] : [])];

const app = document.getElementById('app')!;
let leave: AbortController | undefined;
let session: { api: Api; namespaces: NamespacesAnswer } | undefined;

function parseHash(): { view: string; path: string[]; params: URLSearchParams } {
  const hash = location.hash.replace(/^#\/?/, '');
  const [pathPart = '', query = ''] = hash.split('?', 2);
  const [view = 'namespaces', ...path] = pathPart.split('/').filter(Boolean);
  return { view, path, params: new URLSearchParams(query) };
}

function showLogin(message?: string): void {
  leave?.abort();
  session = undefined;
  clear(app);
  const token = h('input', {
    id: 'token',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
  });
  const form = h(
    'form',
    { class: 'login', 'aria-labelledby': 'login-heading' },
    h('h1', { id: 'login-heading' }, 'kube-usage-operator'),
    h(
      'p',
      {},
      'Sign in with your own Kubernetes token. The dashboard shows what your RBAC lets you read, nothing more. ',
      'The token is kept in this tab only (sessionStorage) and sent as an Authorization header.',
    ),
    message ? h('p', { class: 'notice error', role: 'alert', id: 'login-error' }, message) : null,
    field('Token', token, 'For example: kubectl create token <service-account> -n <namespace>'),
    h('button', { type: 'submit', id: 'sign-in' }, 'Sign in'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const value = token.value.trim();
    if (!value) return;
    saveToken(value);
    void start();
  });
  app.append(h('main', { id: 'main' }, form));
  token.focus();
}

async function start(): Promise<void> {
  const token = loadToken();
  if (!token) return showLogin();
  const api = new Api(token, (message) => {
    forgetToken();
    showLogin(`Signed out: ${message}`);
  });
  clear(app);
  app.append(h('main', { id: 'main' }, h('p', { class: 'loading', role: 'status' }, 'Checking your token…')));
  try {
    const namespaces = await api.get<NamespacesAnswer>('/api/v1/namespaces');
    session = { api, namespaces };
    render();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return; // onUnauthorized showed the login
    clear(app);
    app.append(h('main', { id: 'main' }, errorPanel(err, 'the namespaces you may read')));
  }
}

function render(): void {
  if (!session) return;
  leave?.abort();
  const abort = (leave = new AbortController());
  const route = parseHash();
  const view = VIEWS[route.view] ?? namespacesView;
  const { api, namespaces } = session;
  clear(app);
  const signOut = h('button', { type: 'button', id: 'sign-out', class: 'link' }, 'Sign out');
  signOut.addEventListener('click', () => {
    forgetToken();
    showLogin();
  });
  const nav = h(
    'nav',
    { 'aria-label': 'Views' },
    h(
      'ul',
      {},
      NAV.map((name) =>
        h(
          'li',
          {},
          h(
            'a',
            { href: `#/${name}`, 'aria-current': name === route.view ? 'page' : undefined },
            VIEWS[name]!.title,
          ),
        ),
      ),
    ),
  );
  const scope = namespaces.clusterWide
    ? 'all namespaces'
    : `${namespaces.items.length} namespace${namespaces.items.length === 1 ? '' : 's'}`;
  const header = h(
    'header',
    { class: 'top' },
    h('a', { class: 'brand', href: '#/namespaces' }, 'kube-usage'),
    nav,
    h('span', { class: 'scope', id: 'scope' }, `You may read ${scope}`),
    signOut,
  );
  const main = h('main', { id: 'main', tabindex: -1 });
  app.append(header, main);
  document.title = `${view.title} · kube-usage-operator`;
  view.render(main, {
    api,
    namespaces,
    path: route.path,
    params: route.params,
    signal: abort.signal,
    replaceParams(params) {
      const path = [route.view, ...route.path].join('/');
      const query = params.toString();
      history.replaceState(null, '', `#/${path}${query ? `?${query}` : ''}`);
    },
    subscribe(namespace, onMessage: (message: SseMessage) => void, onStatus) {
      const close = openEventStream({
        url: api.url('/api/v1/events', { namespace: namespace || undefined }),
        token: api.bearer,
        onMessage,
        onStatus: (status) => {
          if (status.kind === 'open') onStatus('Live: updates as the operator collects.', true);
          else if (status.kind === 'connecting') onStatus('Connecting to live updates…', false);
          else if (status.kind === 'closed')
            onStatus(
              `Live updates interrupted (${status.reason}); retrying in ${Math.round(status.retryInMs / 1000)} s.`,
              false,
            );
          else onStatus(`No live updates: ${status.message}`, false);
        },
      });
      abort.signal.addEventListener('abort', close, { once: true });
    },
  });
}

window.addEventListener('hashchange', () => {
  if (!session) return;
  render();
  // The links that were focused are gone: put keyboard focus at the start of the new view.
  document.getElementById('main')?.focus();
});
void start();
