import { describe, expect, it } from '@jest/globals';
import { supersedingLoads } from '../../../ui/src/api.js';

describe('supersedingLoads', () => {
  it('aborts a load when the next one starts, so a slow stale answer is never drawn over a newer one', () => {
    const view = new AbortController();
    const nextLoad = supersedingLoads(view.signal);
    const first = nextLoad();
    expect(first.aborted).toBe(false);
    const second = nextLoad();
    expect(first.aborted).toBe(true);
    expect(second.aborted).toBe(false);
  });

  it('aborts the current load when the view ends', () => {
    const view = new AbortController();
    const nextLoad = supersedingLoads(view.signal);
    const load = nextLoad();
    view.abort();
    expect(load.aborted).toBe(true);
  });

  it('gives an aborted signal once the view has ended', () => {
    const view = new AbortController();
    const nextLoad = supersedingLoads(view.signal);
    view.abort();
    expect(nextLoad().aborted).toBe(true);
  });
});
