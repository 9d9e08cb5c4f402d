import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Folder of the test-environment scripts (build.sh, cluster.sh). */
export const TESTENV_DIR = dirname(fileURLToPath(import.meta.url));

/** Builds the pinned binaries when missing (prints progress on stderr); returns their folder. */
export function ensureBinaries(): string {
  const out = execFileSync('bash', [join(TESTENV_DIR, 'build.sh')], { stdio: ['ignore', 'pipe', 'inherit'] });
  return out.toString().trim().split('\n').pop() ?? '';
}
