import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBinaries } from './paths.js';
import { freeLoopbackPort, waitForPort } from './ports.js';

export interface FerretDB {
  uri: string;
  port: number;
  dataDir: string;
  pid: number;
  /** Stops the server; removes the data folder unless it was given by the caller. */
  stop(): Promise<void>;
}

export interface FerretDBOptions {
  /** Reuse a port (e.g. to restart the same server); default: a free one. */
  port?: number;
  /** Reuse a data folder (kept on stop); default: a new temporary folder, removed on stop. */
  dataDir?: string;
  /** Where the binary is; default: the pinned build, built when missing. */
  binDir?: string;
}

/** Starts FerretDB v1 (SQLite backend) on 127.0.0.1, and waits until it accepts connections. */
export async function startFerretDB(options: FerretDBOptions = {}): Promise<FerretDB> {
  const binDir = options.binDir ?? ensureBinaries();
  const port = options.port ?? (await freeLoopbackPort());
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'kuo-ferretdb-'));
  mkdirSync(dataDir, { recursive: true });
  const child: ChildProcess = spawn(
    join(binDir, 'ferretdb'),
    [
      '--handler=sqlite',
      `--sqlite-url=file:${dataDir}/`,
      `--listen-addr=127.0.0.1:${port}`,
      '--state-dir=-',
      '--debug-addr=-',
      '--telemetry=disable',
      '--log-level=error',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    if (ownDir) rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await Promise.race([
      waitForPort(port, 30_000),
      exited.then(() => {
        throw new Error(`ferretdb exited at start-up (code ${child.exitCode})`);
      }),
    ]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { uri: `mongodb://127.0.0.1:${port}/`, port, dataDir, pid: child.pid ?? 0, stop };
}
