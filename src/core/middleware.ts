import { describeThrown, ErrorCodes, OffloadError } from './errors.ts';

/**
 * One middleware, Koa style: it gets the context and `next`, which runs the rest of the chain (the
 * later middleware, then the work itself) and resolves with the work's result. A middleware may
 * change the context before `next()`, look at the result after it, or time and log the whole.
 */
export type Middleware<Ctx, R> = (ctx: Ctx, next: () => Promise<R>) => unknown;

/** A middleware's name for errors and logs: its function name, else its place in the array. */
export function middlewareName(middleware: readonly unknown[], index: number): string {
  const name = (middleware[index] as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' && name !== '' ? name : `middleware[${index}]`;
}

/**
 * Runs `work` inside the middleware, the first outermost (onion order: a, b, work, b, a), and
 * resolves with what `work` resolved with. Rejects with an OffloadError naming the middleware:
 * ERR_MIDDLEWARE when one threw (`cause` the thrown value), ERR_MIDDLEWARE_NEXT when one called
 * `next()` twice or returned without calling it (then `work` never ran). A middleware that calls
 * `next()` without awaiting it still waits for it here. An error out of `work` passes through a middleware that lets it through as it
 * is; the label (`enqueue`, `run`) goes in the messages.
 */
export async function runMiddleware<Ctx, R>(
  middleware: ReadonlyArray<Middleware<Ctx, R>>,
  ctx: Ctx,
  work: () => Promise<R>,
  label: string,
): Promise<R> {
  const passed = new WeakSet<object>();
  const step = async (index: number): Promise<R> => {
    if (index === middleware.length) return work();
    const name = middlewareName(middleware, index);
    let pending: Promise<R> | undefined;
    const next = (): Promise<R> => {
      if (pending)
        return Promise.reject(
          new OffloadError(
            ErrorCodes.MIDDLEWARE_NEXT,
            `${label} middleware "${name}" called next() twice; call it once and await it`,
            { details: { middleware: name } },
          ),
        );
      pending = step(index + 1).catch((error: unknown) => {
        if (typeof error === 'object' && error !== null) passed.add(error);
        throw error;
      });
      pending.catch(() => undefined);
      return pending;
    };
    try {
      await middleware[index]!(ctx, next);
    } catch (error) {
      if (typeof error === 'object' && error !== null && passed.has(error)) throw error;
      if (error instanceof OffloadError && error.code === ErrorCodes.MIDDLEWARE_NEXT) throw error;
      const what = error instanceof Error ? error.message : describeThrown(error);
      throw new OffloadError(
        ErrorCodes.MIDDLEWARE,
        `${label} middleware "${name}" threw: ${what}`,
        { cause: error, details: { middleware: name } },
      );
    }
    if (!pending)
      throw new OffloadError(
        ErrorCodes.MIDDLEWARE_NEXT,
        `${label} middleware "${name}" returned without calling next(); ${label === 'enqueue' ? 'nothing was stored' : 'the task did not run'}`,
        { details: { middleware: name } },
      );
    // A middleware that did not await next() still gets the work's end, never a half-done one.
    return pending;
  };
  return step(0);
}
