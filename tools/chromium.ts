/** Launches Debian's Chromium through playwright-core for the browser tests and benchmark. */
import fs from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Where Chromium is; `OFFLOAD_CHROMIUM` overrides. */
export const CHROMIUM = process.env.OFFLOAD_CHROMIUM ?? '/usr/bin/chromium';

/** A headless Chromium; fails loudly, saying how to install it, when it is missing. */
export async function launchChromium(executablePath = CHROMIUM): Promise<Browser> {
  if (!fs.existsSync(executablePath)) {
    throw new Error(
      `Chromium is not installed at ${executablePath}: run \`apt-get install -y chromium\` (or set OFFLOAD_CHROMIUM to its path)`,
    );
  }
  return chromium.launch({
    executablePath,
    args: [
      '--no-sandbox',
      '--headless',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
