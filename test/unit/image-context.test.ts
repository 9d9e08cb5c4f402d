/**
 * The image's build context (.dockerignore admits a list, everything else is left out) must
 * hold every folder the Dockerfile compiles: a folder missing from that list builds an image
 * without its part of dist/ (it happened to cmd/, and the operator's pods could not find
 * dist/cmd/operator.js).
 */
import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** The paths .dockerignore admits (its `!` lines), without a trailing slash. */
function admitted(): string[] {
  return read('.dockerignore')
    .split('\n')
    .filter((line) => line.startsWith('!'))
    .map((line) => line.slice(1).replace(/\/+$/, ''));
}

describe('the image build context', () => {
  it('excludes everything but a list, and admits every folder tsconfig.build.json compiles', () => {
    expect(read('.dockerignore').split('\n')).toContain('*');
    const include = (JSON.parse(read('tsconfig.build.json')) as { include: string[] }).include;
    expect(include.length).toBeGreaterThan(0);
    expect(include.filter((dir) => !admitted().includes(dir))).toEqual([]);
  });

  it("admits the source of the image's entry point and every file the Dockerfile names", () => {
    const dockerfile = read('Dockerfile');
    const entry = /ENTRYPOINT \[[^\]]*"dist\/([^"]+)\.js"\]/.exec(dockerfile)?.[1];
    expect(entry).toBe('cmd/operator');
    expect(existsSync(join(ROOT, `${entry}.ts`))).toBe(true);
    expect(admitted()).toContain(entry!.split('/')[0]);
    const named = ['package.json', 'package-lock.json', 'tsconfig.build.json', 'scripts/build-ui.ts'];
    for (const file of named) expect(dockerfile).toContain(file);
    expect(named.filter((file) => !admitted().includes(file))).toEqual([]);
  });
});
