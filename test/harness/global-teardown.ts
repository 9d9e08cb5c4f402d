import { stopStartedServers } from './global-setup.js';

/** Stops what global setup started (nothing when the run used given servers). */
export default async function globalTeardown(): Promise<void> {
  await stopStartedServers(globalThis.kuoStartedServers);
  globalThis.kuoStartedServers = undefined;
}
