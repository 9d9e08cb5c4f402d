import type { Api, NamespacesAnswer } from '../api.js';
import type { SseMessage } from '../sse.js';

/** What every view gets from the shell. */
export interface ViewContext {
  api: Api;
  /** The namespaces the token may read (GET /api/v1/namespaces). */
  namespaces: NamespacesAnswer;
  /** The route's path segments after the view name, e.g. ['shop', 'web-1'] for #/pod/shop/web-1. */
  path: string[];
  /** The route's query (filters); views write theirs back with replaceParams. */
  params: URLSearchParams;
  replaceParams(params: URLSearchParams): void;
  /** Aborted when the view is left. */
  signal: AbortSignal;
  /** Live events of a namespace ('' for all the token may see) until the view is left. */
  subscribe(
    namespace: string,
    onMessage: (message: SseMessage) => void,
    onStatus: (text: string, live: boolean) => void,
  ): void;
}

export interface View {
  title: string;
  render(root: HTMLElement, ctx: ViewContext): void;
}
