/**
 * Builds the dashboard (ui/) into dist/ui with esbuild: one ES module bundle and one
 * stylesheet, both content-hashed, and index.html pointing at them. `npm run build` runs it.
 * The output is written next to the target and swapped in, so a server reading dist/ui
 * never sees half a build.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '..');

export async function buildUi(outDir = join(ROOT, 'dist', 'ui')): Promise<{ files: string[] }> {
  const staging = `${outDir}.build-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(dirname(outDir), { recursive: true });
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: { app: 'ui/src/main.ts' },
    bundle: true,
    format: 'esm',
    target: ['chrome111', 'firefox115', 'safari16.4'],
    minify: true,
    sourcemap: 'linked',
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    outdir: staging,
    metafile: true,
    legalComments: 'linked',
    logLevel: 'warning',
    tsconfig: 'ui/tsconfig.json',
  });
  const outputs = Object.keys(result.metafile.outputs).map((path) => basename(path));
  const script = outputs.find((f) => f.endsWith('.js'));
  const style = outputs.find((f) => f.endsWith('.css'));
  if (!script || !style) throw new Error(`the UI build made no script or stylesheet: ${outputs.join(', ')}`);
  const html = readFileSync(join(ROOT, 'ui', 'index.html'), 'utf8')
    .replace('{{script}}', script)
    .replace('{{style}}', style);
  writeFileSync(join(staging, 'index.html'), html);
  if (existsSync(outDir)) rmSync(outDir, { recursive: true, force: true });
  renameSync(staging, outDir);
  return { files: ['index.html', ...outputs].sort() };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const outDir = process.argv[2] ? resolve(process.argv[2]) : undefined;
  const { files } = await buildUi(outDir);
  console.log(`dist/ui: ${files.join(', ')}`);
}
