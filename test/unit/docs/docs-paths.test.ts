/**
 * Every repository path the docs name exists: in backticks, in prose or in a command
 * (`operator/store/queries.ts`, `kubectl apply -k manifests/agent`, `crds/*.yaml`), and every
 * relative link's target, resolved from the page's folder as GitHub does. A file moved without
 * its docs fails here, naming the page, the line and the path.
 */
import { describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..', '..');

/** The pages checked: the README, the docs and the other folders' READMEs. */
const PAGES = [
  'README.md',
  ...markdownUnder('docs'),
  'manifests/README.md',
  'bench/README.md',
  'test/README.md',
  'ui/README.md',
];

/** The repository's top-level folders: a word starting with one of these and a slash is a path. */
const TOP_LEVEL = [
  'agent',
  'api',
  'bench',
  'cmd',
  'controllers',
  'crds',
  'docs',
  'manifests',
  'operator',
  'scripts',
  'test',
  'ui',
];

function markdownUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return markdownUnder(path);
    return entry.name.endsWith('.md') ? [path] : [];
  });
}

/** Every file and folder of the repository (relative, folders without a trailing slash). */
function repositoryEntries(dir = ''): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    if (['node_modules', '.git', 'dist', '.dev'].includes(entry.name)) return [];
    const path = dir === '' ? entry.name : `${dir}/${entry.name}`;
    return entry.isDirectory() ? [path, ...repositoryEntries(path)] : [path];
  });
}

interface NamedPath {
  line: number;
  /** As written, relative to the repository root (links resolved from the page's folder). */
  path: string;
}

const PATH_PATTERN = new RegExp(`(?<![\\w./~$@-])((?:${TOP_LEVEL.join('|')})/[A-Za-z0-9_.*<>/-]*)`, 'g');
const LINK_PATTERN = /\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g;

/** The repository paths a page names, line by line. */
function pathsNamedIn(page: string, text: string): NamedPath[] {
  const named: NamedPath[] = [];
  text.split('\n').forEach((content, index) => {
    const line = index + 1;
    for (const match of content.matchAll(PATH_PATTERN)) {
      // Sentence punctuation after a path is not part of it.
      const path = match[1]!.replace(/[.,:;]+$/, '');
      named.push({ line, path });
    }
    // A link is never inside a code span (where `](` is text, e.g. in a pattern).
    for (const match of content.replace(/`[^`]*`/g, '``').matchAll(LINK_PATTERN)) {
      const target = match[1]!.replace(/#.*$/, '');
      if (target === '' || /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('/')) continue;
      named.push({ line, path: relative(ROOT, normalize(join(ROOT, dirname(page), target))) });
    }
  });
  return named;
}

/** A path with `*`, `**` or a `<placeholder>` segment as a pattern over the repository's entries. */
function patternOf(path: string): RegExp {
  const source = path
    .replace(/\/$/, '')
    .split(/(\*\*|\*|<[^>/]*>)/)
    .map((part) =>
      part === '**'
        ? '.*'
        : part === '*'
          ? '[^/]*'
          : part.startsWith('<')
            ? '[^/]+'
            : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('');
  return new RegExp(`^${source}$`);
}

function missingPaths(named: readonly NamedPath[], entries: readonly string[]): NamedPath[] {
  const known = new Set(entries);
  return named.filter(({ path }) => {
    const bare = path.replace(/\/$/, '');
    if (/[*<]/.test(bare)) {
      const pattern = patternOf(bare);
      return !entries.some((entry) => pattern.test(entry));
    }
    return !known.has(bare);
  });
}

describe('paths named in the docs', () => {
  const entries = repositoryEntries();

  it.each(PAGES.filter((page) => existsSync(join(ROOT, page))))('%s names only paths that exist', (page) => {
    const named = pathsNamedIn(page, readFileSync(join(ROOT, page), 'utf8'));
    const missing = missingPaths(named, entries).map(({ line, path }) => `${page}:${line}: ${path}`);
    expect(missing).toEqual([]);
  });

  it('checks every page it means to', () => {
    for (const page of ['README.md', 'manifests/README.md', 'bench/README.md', 'test/README.md'])
      expect(existsSync(join(ROOT, page))).toBe(true);
  });

  it('finds paths in backticks, prose, commands and links, and tells missing ones', () => {
    const text = [
      'See `operator/store/queries.ts`, then docs/accounting.md.',
      'Run `kubectl apply -k manifests/agent` and read crds/*.yaml or controllers/<kind>/setup.ts.',
      'The [API](../operator/http/server.ts#L10) and [a site](https://example.com/operator/x.ts).',
      'Not paths: /api/v1/usage, .dev/kubeconfig, ~/.cache/x, dist/cmd/agent.js.',
      'Gone: `operator/sources/nowhere.ts`; [gone](missing.md).',
    ].join('\n');
    const named = pathsNamedIn('docs/page.md', text);
    expect(named.map((n) => n.path)).toEqual([
      'operator/store/queries.ts',
      'docs/accounting.md',
      'manifests/agent',
      'crds/*.yaml',
      'controllers/<kind>/setup.ts',
      'operator/http/server.ts',
      'operator/sources/nowhere.ts',
      'docs/missing.md',
    ]);
    expect(missingPaths(named, entries)).toEqual([
      { line: 5, path: 'operator/sources/nowhere.ts' },
      { line: 5, path: 'docs/missing.md' },
    ]);
  });
});
