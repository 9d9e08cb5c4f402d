/**
 * Server-sent events over fetch(): the browser's EventSource cannot send an Authorization
 * header, and the token must never go into a URL, so the stream is read from a fetch
 * response body and parsed here (the WHATWG event-stream format).
 */

export interface SseMessage {
  event: string;
  data: string;
  id?: string;
}

/** An incremental event-stream parser: feed it text as it arrives, get whole events back. */
export class SseParser {
  private buffer = '';
  private event = '';
  private data: string[] = [];
  private id: string | undefined;
  /** The reconnection delay the server asked for with `retry:`, in ms. */
  retryMs: number | undefined;

  push(chunk: string): SseMessage[] {
    this.buffer += chunk;
    const out: SseMessage[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (!match) break;
      // A lone \r at the very end may be the first half of \r\n: wait for more.
      if (match[0] === '\r' && match.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const message = this.line(line);
      if (message) out.push(message);
    }
    return out;
  }

  private line(line: string): SseMessage | undefined {
    if (line === '') {
      if (this.data.length === 0) {
        this.event = '';
        return undefined;
      }
      const message: SseMessage = { event: this.event || 'message', data: this.data.join('\n') };
      if (this.id !== undefined) message.id = this.id;
      this.event = '';
      this.data = [];
      return message;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (name === 'event') this.event = value;
    else if (name === 'data') this.data.push(value);
    else if (name === 'id') this.id = value;
    else if (name === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
    return undefined;
  }
}

export type StreamStatus =
  | { kind: 'connecting' }
  | { kind: 'open' }
  | { kind: 'closed'; reason: string; retryInMs: number }
  | { kind: 'stopped'; status: number; message: string };

export interface StreamOptions {
  url: string;
  token: string;
  onMessage(message: SseMessage): void;
  onStatus(status: StreamStatus): void;
  /** Tests of the parser use their own fetch. */
  fetch?: typeof fetch;
}

/**
 * Keeps an event stream open: reconnects after the server's `retry` delay (or 5 s) when the
 * stream ends or fails, and stops for good on 401/403 (reconnecting cannot fix those).
 * Returns the function that closes it.
 */
export function openEventStream(options: StreamOptions): () => void {
  const doFetch = options.fetch ?? fetch.bind(globalThis);
  const abort = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let retryMs = 5000;

  const connect = async () => {
    options.onStatus({ kind: 'connecting' });
    try {
      const response = await doFetch(options.url, {
        headers: { authorization: `Bearer ${options.token}`, accept: 'text/event-stream' },
        signal: abort.signal,
        cache: 'no-store',
      });
      if (response.status === 401 || response.status === 403) {
        const body = (await response.json().catch(() => ({}))) as { message?: string };
        options.onStatus({
          kind: 'stopped',
          status: response.status,
          message: body.message ?? response.statusText,
        });
        return;
      }
      if (!response.ok || !response.body) throw new Error(`the event stream answered ${response.status}`);
      options.onStatus({ kind: 'open' });
      const parser = new SseParser();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const message of parser.push(value)) options.onMessage(message);
        if (parser.retryMs !== undefined) retryMs = parser.retryMs;
      }
      schedule('the server ended the stream');
    } catch (err) {
      if (abort.signal.aborted) return;
      schedule(err instanceof Error ? err.message : String(err));
    }
  };
  const schedule = (reason: string) => {
    if (abort.signal.aborted) return;
    options.onStatus({ kind: 'closed', reason, retryInMs: retryMs });
    timer = setTimeout(() => void connect(), retryMs);
  };
  void connect();
  return () => {
    abort.abort();
    if (timer !== undefined) clearTimeout(timer);
  };
}
