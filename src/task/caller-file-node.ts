import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The file that called `fn`, read from a structured stack trace (so source maps and custom
 * `Error.prepareStackTrace` hooks do not change it). Undefined when it cannot be told, for
 * example from a REPL or `eval`.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export function callerFile(fn: Function): string | undefined {
  const prepare = Error.prepareStackTrace;
  const limit = Error.stackTraceLimit;
  try {
    Error.stackTraceLimit = 10;
    Error.prepareStackTrace = (_, sites) => sites;
    const holder: { stack?: unknown } = {};
    Error.captureStackTrace(holder, fn);
    const sites = holder.stack as NodeJS.CallSite[] | undefined;
    for (const site of sites ?? []) {
      const file = toPath(site.getFileName() ?? site.getScriptNameOrSourceURL?.());
      if (file) return file;
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    Error.prepareStackTrace = prepare;
    Error.stackTraceLimit = limit;
  }
}

function toPath(name: string | null | undefined): string | undefined {
  if (!name || name.startsWith('node:')) return undefined;
  if (name.startsWith('file:')) {
    const url = new URL(name);
    url.search = '';
    url.hash = '';
    return fileURLToPath(url);
  }
  return path.isAbsolute(name) ? name : undefined;
}
