/**
 * Runs every benchmark in this folder (`*.bench.ts`, through tsx) and prints their figures.
 * `npm run bench` runs them all; `npm run bench -- store` only those whose name contains "store".
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

interface Bench {
  run(): Promise<void>;
}

const only = process.argv.slice(2);
const files = readdirSync(import.meta.dirname)
  .filter((file) => /\.bench\.[jt]s$/.test(file))
  .filter((file) => only.length === 0 || only.some((name) => file.includes(name)))
  .sort();
for (const file of files) {
  const bench = (await import(pathToFileURL(join(import.meta.dirname, file)).href)) as Partial<Bench>;
  if (typeof bench.run !== 'function') throw new Error(`${file} does not export run()`);
  console.log(`\n== ${file.replace(/\.bench\.[jt]s$/, '')}`);
  await bench.run();
}
