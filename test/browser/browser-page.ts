/**
 * The Node side of the browser tests: bundles the test pages with esbuild, serves them from a real
 * HTTP server on 127.0.0.1, and opens them in Debian's Chromium. `call` runs a harness function
 * (test/browser/pages/harness.ts) in the page and returns its plain-data result.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { bundleForBrowser } from '../../tools/browser-build.ts';
import { launchChromium } from '../../tools/chromium.ts';
import { ISOLATION_HEADERS, serveStatic, type StaticServer } from '../../tools/static-server.ts';
import { makeTempDir } from '../helpers/temp.ts';

const pages = (file: string) => fileURLToPath(new URL(`./pages/${file}`, import.meta.url));

/** What a page harness call settles to (see `Outcome` in pages/harness.ts). */
export type Outcome =
  | { ok: true; value: unknown }
  | {
      ok: false;
      name: string;
      message: string;
      code: string;
      stack: string | undefined;
      extra: unknown;
      details: Record<string, unknown> | null;
    };

/** The heavy job of the responsiveness test and benchmark: about 0.7 s of rendering on one core here. */
export const HEAVY_VIEW = { width: 800, height: 600, maxIterations: 3000 };

/** What `harness.frameGaps` measures: the longest gap between animation frames while the job ran. */
export interface FrameGaps {
  longestGapMs: number;
  jobMs: number;
  frames: number;
}

export interface TestSite {
  readonly url: string;
  /** Opens a page of the site (`index.html`, or `isolated.html`: cross-origin isolated). */
  open(file?: 'index.html' | 'isolated.html'): Promise<Page>;
  close(): Promise<void>;
}

/** Builds and serves the test pages and launches Chromium. */
export async function openTestSite(): Promise<TestSite> {
  const browser: Browser = await launchChromium();
  const { dir, cleanup } = makeTempDir('browser');
  let server: StaticServer | undefined;
  try {
    const workers = ['tasks-worker', 'no-serve-worker', 'throws-at-load-worker', 'empty-worker'];
    const entries = Object.fromEntries(
      ['harness', ...workers].map((name) => [name, pages(`${name}.ts`)]),
    );
    await bundleForBrowser(entries, dir);
    for (const html of ['index.html', 'isolated.html', 'not-a-module.html'])
      fs.copyFileSync(pages('index.html'), `${dir}/${html}`);
    server = await serveStatic(dir, {
      headers: (pathname) =>
        pathname === '/index.html' || pathname === '/not-a-module.html' ? {} : ISOLATION_HEADERS,
    });
  } catch (error) {
    await browser.close();
    cleanup();
    throw error;
  }
  const site = server;
  return {
    url: site.url,
    async open(file = 'index.html') {
      const page = await browser.newPage();
      page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
      await page.goto(`${site.url}/${file}`);
      await page.waitForFunction(() => 'harness' in globalThis);
      return page;
    },
    async close() {
      await browser.close();
      await site.close();
      cleanup();
    },
  };
}

/** Calls `harness[name](...args)` in the page. */
export function call<T = unknown>(page: Page, name: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(
    ([fn, params]) =>
      (globalThis as unknown as { harness: Record<string, (...values: unknown[]) => unknown> })
        .harness[fn]!(...params),
    [name, args] as const,
  ) as Promise<T>;
}

/** A run's outcome must be a failure with `code`; returns it for more checks. */
export function failure(outcome: Outcome, code: string): Extract<Outcome, { ok: false }> {
  if (outcome.ok)
    throw new Error(
      `expected ${code}, but the task succeeded with ${JSON.stringify(outcome.value)}`,
    );
  if (outcome.code !== code)
    throw new Error(
      `expected ${code}, got ${String(outcome.code)}: ${outcome.name}: ${outcome.message}`,
    );
  return outcome;
}
