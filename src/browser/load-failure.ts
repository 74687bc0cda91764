import { ErrorCodes, OffloadError } from '../core/errors.ts';

const JAVASCRIPT = /(java|ecma)script/i;

/**
 * Explains why a module worker failed to load. Browsers report a failed module fetch as a bare
 * `error` event with no details, so the URL is fetched once more to tell a 404 or a wrong MIME
 * type from an error thrown while the module ran.
 */
export async function describeLoadFailure(url: string, event: Event): Promise<OffloadError> {
  const reported = (event as ErrorEvent).message;
  let why = reported
    ? `failed to load: ${reported}`
    : 'failed to load (see the browser console for the reason)';
  if (!reported) {
    try {
      const response = await fetch(url);
      const type = response.headers.get('content-type') ?? 'no content type';
      if (!response.ok)
        why = `answered HTTP ${response.status}; check the URL passed as \`module\``;
      else if (!JAVASCRIPT.test(type))
        why = `is served as ${type}, not JavaScript: point \`module\` at a module worker script`;
    } catch (error) {
      why = `could not be fetched: ${(error as Error).message}`;
    }
  }
  return moduleError(url, why);
}

/** ERR_TASK_MODULE: the worker module at `url` cannot run tasks, and why. */
export function moduleError(url: string, why: string, cause?: unknown): OffloadError {
  return new OffloadError(ErrorCodes.TASK_MODULE, `the worker module ${url} ${why}`, {
    cause,
    details: { module: url },
  });
}
