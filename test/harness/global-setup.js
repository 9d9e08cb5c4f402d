// Jest loads global setup with Node's own ESM loader, which cannot resolve the TypeScript
// sources' `.js` imports; tsx's tsImport can. The work is in servers.ts.
import { tsImport } from 'tsx/esm/api';

export default async function globalSetup() {
  const { startServers } = await tsImport('./servers.ts', import.meta.url);
  await startServers();
}
