/**
 * Headless Chromium for the dashboard tests: Debian's `chromium` package (no browser download),
 * driven by puppeteer-core, with a temporary profile that is removed however the test ends.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';

/** The Chromium binary: KUO_CHROMIUM, Debian's binary behind its wrapper script, or `chromium` on PATH. */
export function chromiumPath(): string {
  const candidates = [
    process.env.KUO_CHROMIUM,
    '/usr/lib/chromium/chromium',
    ...(process.env.PATH ?? '')
      .split(delimiter)
      .flatMap((dir) => [join(dir, 'chromium'), join(dir, 'chromium-browser')]),
  ].filter((path): path is string => Boolean(path));
  const found = candidates.find((path) => existsSync(path));
  if (!found) {
    throw new Error(
      "Chromium is not installed: the dashboard tests need Debian's chromium package " +
        '(`make browser`, i.e. apt-get install -y chromium), or KUO_CHROMIUM=/path/to/chrome',
    );
  }
  return found;
}

export interface TestBrowser {
  browser: Browser;
  /** Where downloads land (inside the profile folder). */
  downloadDir: string;
  /** Closes the browser (killing it if it does not close) and removes its profile. Idempotent. */
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  const profileDir = mkdtempSync(join(tmpdir(), 'kuo-chromium-'));
  const downloadDir = join(profileDir, 'downloads');
  let browser: Browser | undefined;
  const remove = () => rmSync(profileDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  try {
    browser = await puppeteer.launch({
      executablePath: chromiumPath(),
      headless: true,
      userDataDir: profileDir,
      // Root in a container has no user namespaces for Chromium's sandbox; the pages are our own.
      args: ['--no-sandbox', '--disable-dev-shm-usage', '--no-first-run', '--disable-gpu', '--lang=en-US'],
      env: { ...process.env, TZ: 'UTC' },
      protocolTimeout: 60_000,
    });
  } catch (err) {
    remove();
    throw err;
  }
  const launched = browser;
  let closed = false;
  return {
    browser: launched,
    downloadDir,
    close: async () => {
      if (closed) return;
      closed = true;
      const child = launched.process();
      await Promise.race([
        launched.close().catch(() => undefined),
        new Promise((resolve) => setTimeout(resolve, 10_000)),
      ]);
      if (child && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await new Promise((resolve) => child.once('exit', resolve));
      }
      remove();
    },
  };
}
