/**
 * Every repository path the docs name exists: in backticks, in prose or in a command
 * (`operator/store/queries.ts`, `kubectl apply -k manifests/agent`, `crds/*.yaml`), and every
 * relative link's target, resolved from the page's folder as GitHub does, with the heading its
 * `#fragment` names. A file moved without its docs fails here, naming the page, the line and the path.
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
  /** A link's `#fragment`: a heading of the page linked to. */
  anchor?: string;
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
      const [target = '', anchor] = match[1]!.split('#');
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('/')) continue;
      const path = target === '' ? page : relative(ROOT, normalize(join(ROOT, dirname(page), target)));
      named.push(anchor === undefined ? { line, path } : { line, path, anchor });
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

/** The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens. */
function headingAnchors(text: string): Set<string> {
  const anchors = new Set<string>();
  let fenced = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const base = heading[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    let anchor = base;
    for (let n = 1; anchors.has(anchor); n++) anchor = `${base}-${n}`;
    anchors.add(anchor);
  }
  return anchors;
}

function missingPaths(named: readonly NamedPath[], entries: readonly string[]): NamedPath[] {
  const known = new Set(entries);
  return named.filter(({ path, anchor }) => {
    const bare = path.replace(/\/$/, '');
    if (/[*<]/.test(bare)) {
      const pattern = patternOf(bare);
      return !entries.some((entry) => pattern.test(entry));
    }
    if (!known.has(bare)) return true;
    if (anchor === undefined || !bare.endsWith('.md')) return false;
    return !headingAnchors(readFileSync(join(ROOT, bare), 'utf8')).has(anchor);
  });
}

describe('paths named in the docs', () => {
  const entries = repositoryEntries();

  it.each(PAGES.filter((page) => existsSync(join(ROOT, page))))('%s names only paths that exist', (page) => {
    const named = pathsNamedIn(page, readFileSync(join(ROOT, page), 'utf8'));
    const missing = missingPaths(named, entries).map(
      ({ line, path, anchor }) => `${page}:${line}: ${path}${anchor === undefined ? '' : `#${anchor}`}`,
    );
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
      'Headings: [here](accounting.md#answering-a-window), [not](accounting.md#no-such-heading).',
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
      'docs/accounting.md',
      'docs/accounting.md',
    ]);
    expect(missingPaths(named, entries)).toEqual([
      { line: 5, path: 'operator/sources/nowhere.ts' },
      { line: 5, path: 'docs/missing.md' },
      { line: 6, path: 'docs/accounting.md', anchor: 'no-such-heading' },
    ]);
  });
});
