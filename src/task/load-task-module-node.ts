import path from 'node:path';
import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { ErrorCodes, OffloadError } from '../core/errors.ts';
import { isTask, type Task } from './task.ts';

const TYPESCRIPT = /\.(c|m)?tsx?$/;

/**
 * Loads a task module (a file that exports tasks made with `defineTask`) and returns its tasks.
 * TypeScript modules load without any loader set up by the user (offload compiles them on the fly
 * with tsx). Every export that is a task counts, including arrays of tasks and the default export.
 */
export async function loadTaskModule(modulePath: string): Promise<Task[]> {
  const absolute = path.resolve(modulePath);
  if (!fs.existsSync(absolute)) {
    throw new OffloadError(
      ErrorCodes.TASK_MODULE,
      `task module ${modulePath} does not exist (resolved to ${absolute}); check --tasks`,
      {
        details: { module: absolute },
      },
    );
  }
  let exports: Record<string, unknown>;
  try {
    exports = await importModule(absolute);
  } catch (error) {
    throw new OffloadError(
      ErrorCodes.TASK_MODULE,
      `task module ${modulePath} failed to load: ${(error as Error)?.message ?? String(error)}`,
      {
        cause: error,
        details: { module: absolute },
      },
    );
  }
  const tasks = collectTasks(exports);
  if (tasks.length === 0) {
    throw new OffloadError(
      ErrorCodes.TASK_MODULE,
      `task module ${modulePath} exports no tasks; export the results of defineTask(), e.g. \`export const send = defineTask({...})\``,
      { details: { module: absolute } },
    );
  }
  return tasks;
}

async function importModule(absolute: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(absolute).href;
  if (!TYPESCRIPT.test(absolute)) return (await import(url)) as Record<string, unknown>;
  try {
    // Where a TypeScript loader is already registered (tsx, or offload's own threads), use it.
    return (await import(url)) as Record<string, unknown>;
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw error;
  }
  const { tsImport } = await import('tsx/esm/api');
  return (await tsImport(url, import.meta.url)) as Record<string, unknown>;
}

function collectTasks(exports: Record<string, unknown>): Task[] {
  const found = new Set<Task>();
  const visit = (value: unknown) => {
    if (isTask(value)) found.add(value);
    else if (Array.isArray(value)) value.forEach(visit);
  };
  for (const value of Object.values(exports)) visit(value);
  const fallback = exports.default;
  if (fallback && typeof fallback === 'object' && !isTask(fallback) && !Array.isArray(fallback)) {
    Object.values(fallback).forEach(visit);
  }
  return [...found];
}
