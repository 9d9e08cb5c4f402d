import { describe, expect, it } from '@jest/globals';
import { openEventStream, SseParser, type SseMessage, type StreamStatus } from '../../../ui/src/sse.js';

describe('SseParser', () => {
  it('parses events split anywhere across chunks, with comments and retry', () => {
    const text =
      'retry: 5000\n: connected\n\nevent: snapshot\ndata: {"a":1}\n\n: keep-alive\n\nevent: alert\ndata: {"b":2}\n\n';
    for (let size = 1; size <= text.length; size++) {
      const parser = new SseParser();
      const out: SseMessage[] = [];
      for (let i = 0; i < text.length; i += size) out.push(...parser.push(text.slice(i, i + size)));
      expect(out).toEqual([
        { event: 'snapshot', data: '{"a":1}' },
        { event: 'alert', data: '{"b":2}' },
      ]);
      expect(parser.retryMs).toBe(5000);
    }
  });

  it('joins multi-line data, defaults the event name, and accepts CRLF and CR line ends', () => {
    const parser = new SseParser();
    expect(parser.push('data: one\r\ndata:two\r\n\r\ndata: x\r\rid: 7\ndata: y\n\n')).toEqual([
      { event: 'message', data: 'one\ntwo' },
      { event: 'message', data: 'x' },
      { event: 'message', data: 'y', id: '7' },
    ]);
  });

  it('waits for the rest of a CRLF split between chunks', () => {
    const parser = new SseParser();
    expect(parser.push('data: a\r')).toEqual([]);
    expect(parser.push('\n\r\n')).toEqual([{ event: 'message', data: 'a' }]);
  });
});

describe('openEventStream', () => {
  const streamOf = (text: string) =>
    new Response(
      new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode(text)), c.close()) }),
      {
        status: 200,
        headers: { 'content-type': 'text/event-stream' },
      },
    );

  it('sends the token as a header, never in the URL, and stops on 403 with the API message', async () => {
    const calls: { url: string; auth: string | null }[] = [];
    const statuses: StreamStatus[] = [];
    const close = openEventStream({
      url: '/api/v1/events?namespace=shop',
      token: 'secret',
      onMessage: () => {},
      onStatus: (s) => statuses.push(s),
      fetch: async (url, init) => {
        calls.push({ url: String(url), auth: new Headers(init?.headers).get('authorization') });
        return new Response(JSON.stringify({ error: 'Forbidden', message: 'User "x" cannot get pods' }), {
          status: 403,
        });
      },
    });
    await new Promise((r) => setTimeout(r, 20));
    close();
    expect(calls).toEqual([{ url: '/api/v1/events?namespace=shop', auth: 'Bearer secret' }]);
    expect(statuses.at(-1)).toEqual({ kind: 'stopped', status: 403, message: 'User "x" cannot get pods' });
  });

  it('delivers events and reconnects after the server-given retry delay when the stream ends', async () => {
    let calls = 0;
    const messages: SseMessage[] = [];
    const close = openEventStream({
      url: '/e',
      token: 't',
      onMessage: (m) => messages.push(m),
      onStatus: () => {},
      fetch: async () => {
        calls++;
        return streamOf(`retry: 10\n\nevent: snapshot\ndata: {"n":${calls}}\n\n`);
      },
    });
    const deadline = Date.now() + 5000;
    while (calls < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    close();
    expect(calls).toBeGreaterThanOrEqual(3);
    expect(messages.slice(0, 2)).toEqual([
      { event: 'snapshot', data: '{"n":1}' },
      { event: 'snapshot', data: '{"n":2}' },
    ]);
  });
});
