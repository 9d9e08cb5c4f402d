import { tsImport } from 'tsx/esm/api';

export default async function globalTeardown() {
  const { stopServers } = await tsImport('./servers.ts', import.meta.url);
  await stopServers();
}
