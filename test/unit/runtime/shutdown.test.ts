import { EventEmitter } from 'node:events';
import { describe, expect, it } from '@jest/globals';
import { silentLogger } from '../../../operator/logging.js';
import { exitOnShutdownSignal, type ProcessLike } from '../../../operator/runtime/shutdown.js';
import { FakeTimers, settle } from './fake-timers.js';

class FakeProcess extends EventEmitter implements ProcessLike {
  exits: number[] = [];
  exit(code: number): void {
    this.exits.push(code);
  }
}

function setup(shutdown: () => Promise<void>) {
  const proc = new FakeProcess();
  const timers = new FakeTimers();
  const calls: string[] = [];
  const remove = exitOnShutdownSignal({
    shutdown: async (signal) => {
      calls.push(signal);
      await shutdown();
    },
    logger: silentLogger(),
    timeoutMs: 25_000,
    process: proc,
    timers,
  });
  return { proc, timers, calls, remove };
}

describe('exitOnShutdownSignal', () => {
  it('runs the shutdown once on SIGTERM and exits 0 when it completes', async () => {
    let finish!: () => void;
    const { proc, calls } = setup(() => new Promise((resolve) => (finish = resolve)));
    proc.emit('SIGTERM');
    await settle();
    expect(calls).toEqual(['SIGTERM']);
    expect(proc.exits).toEqual([]);
    finish();
    await settle();
    expect(proc.exits).toEqual([0]);
    expect(proc.listenerCount('SIGTERM') + proc.listenerCount('SIGINT')).toBe(0);
  });

  it('exits 1 when the shutdown fails', async () => {
    const { proc } = setup(() => Promise.reject(new Error('mongo close failed')));
    proc.emit('SIGINT');
    await settle();
    expect(proc.exits).toEqual([1]);
  });

  it('exits 1 when the shutdown takes longer than the timeout', async () => {
    const { proc, timers } = setup(() => new Promise(() => {}));
    proc.emit('SIGTERM');
    await timers.advance(24_999);
    expect(proc.exits).toEqual([]);
    await timers.advance(1);
    expect(proc.exits).toEqual([1]);
  });

  it('exits 1 at once on a second signal', async () => {
    const { proc, calls } = setup(() => new Promise(() => {}));
    proc.emit('SIGTERM');
    proc.emit('SIGINT');
    await settle();
    expect(calls).toEqual(['SIGTERM']);
    expect(proc.exits).toEqual([1]);
  });

  it('can be removed', () => {
    const { proc, remove } = setup(() => Promise.resolve());
    remove();
    expect(proc.listenerCount('SIGTERM')).toBe(0);
  });
});
