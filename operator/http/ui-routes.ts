import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join, relative, sep } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { errorBody } from './errors.js';

/**
 * The dashboard's Content-Security-Policy: scripts, styles and API calls from this origin
 * only, no inline code, no framing. The build emits no inline script or style (ui/README.md).
 */
export const UI_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': UI_CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/** esbuild's `[name]-[hash]` names: content-addressed, so cached for good. */
const HASHED_NAME = /-[A-Z0-9]{8}\.[a-z.]+$/;

interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
  cacheControl: string;
}

export interface UiOptions {
  /** The built dashboard (index.html and its assets); undefined or missing: /ui/ says it is not built. */
  directory: string | undefined;
}

/**
 * Serves the built dashboard under `/ui/` from memory (read once at start-up): a strict CSP and
 * the usual hardening headers on every answer, `no-cache` plus an ETag for index.html so a new
 * build is picked up at once, and a year's `immutable` caching for the content-hashed assets.
 */
export function registerUi(app: FastifyInstance, options: UiOptions): void {
  const files = options.directory ? loadFiles(options.directory) : new Map<string, StaticFile>();

  app.get('/ui', async (_request, reply) => withSecurityHeaders(reply).redirect('/ui/', 301));
  app.get('/ui/*', async (request, reply) => {
    withSecurityHeaders(reply);
    const path = (request.params as { '*': string })['*'] || 'index.html';
    const file = files.get(path);
    if (!file) {
      const message = files.size
        ? `no dashboard file "${path.slice(0, 200)}"`
        : 'the dashboard is not built into this operator: run `npm run build` (it writes dist/ui)';
      return reply.code(404).send(errorBody(404, message));
    }
    reply
      .header('content-type', file.type)
      .header('etag', file.etag)
      .header('cache-control', file.cacheControl);
    if (matchesEtag(request.headers['if-none-match'], file.etag)) return reply.code(304).send();
    return reply.send(file.body);
  });
}

/** `dist/ui` of the package this module belongs to (the sources or the compiled `dist/`). */
export function defaultUiDirectory(from: string = import.meta.dirname): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const { name } = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string };
      if (name === 'kube-usage-operator') return join(dir, 'dist', 'ui');
    }
    if (dirname(dir) === dir) return undefined;
  }
}

function withSecurityHeaders(reply: FastifyReply): FastifyReply {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value);
  return reply;
}

function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .some((tag) => tag === etag || tag === '*');
}

function loadFiles(root: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  if (!existsSync(join(root, 'index.html'))) return files;
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) {
        const name = relative(root, path).split(sep).join('/');
        const body = readFileSync(path);
        files.set(name, {
          body,
          type: CONTENT_TYPES[extname(name)] ?? 'application/octet-stream',
          etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
          cacheControl: HASHED_NAME.test(name) ? 'public, max-age=31536000, immutable' : 'no-cache',
        });
      }
    }
  };
  walk(root);
  return files;
}
