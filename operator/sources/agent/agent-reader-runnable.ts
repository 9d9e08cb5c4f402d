/**
 * The node agents' reads as a runnable of every replica (their latest readings feed the API,
 * not the store): reads every interval from start; on stop, waits for a read in flight and
 * closes the connections to the agents.
 */
import type { Runnable } from '../../runtime/runnable.js';
import type { AgentReadings } from './agent-readings.js';

export class AgentReaderRunnable implements Runnable {
  readonly name = 'agents';
  readonly needsLeadership = false;

  constructor(
    private readonly readings: Pick<AgentReadings, 'start' | 'stop'>,
    private readonly source: { close(): void },
  ) {}

  start(): void {
    this.readings.start();
  }

  async stop(): Promise<void> {
    await this.readings.stop();
    this.source.close();
  }
}
