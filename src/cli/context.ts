import path from 'node:path';
import type { Logger } from 'pino';
import { ErrorCodes, OffloadError } from '../core/errors.ts';
import { createQueue, type Queue } from '../queue/queue.ts';
import { openStore } from '../store/open-store.ts';
import type { Store } from '../store/contract.ts';
import type { Task } from '../task/task.ts';
import { loadTaskModule } from '../task/load-task-module-node.ts';
import {
  configFromEnv,
  configFromFlags,
  isUrl,
  loadConfigFile,
  mergeConfig,
  type ResolvedConfig,
} from './config.ts';
import { createCliLogger } from './logger.ts';

/** Flags every command accepts. */
export interface GlobalFlags {
  db?: string;
  config?: string;
  json?: boolean;
  logLevel?: string;
  logFormat?: string;
}

/** What a command needs: the merged configuration and ways to open the store and load tasks. */
export interface CommandContext {
  config: ResolvedConfig;
  json: boolean;
  logger: Logger;
  /** Where the data lives, for people: an absolute path or a URL without its password. */
  databaseLabel: string;
  /** offload's data folder: where the SQLite file lives, or ./.offload for PostgreSQL (benchmark results). */
  dataDir: string;
  openStore(): Promise<Store>;
  loadTasks(): Promise<Task[] | undefined>;
}

export async function createContext(
  flags: GlobalFlags & {
    tasks?: string;
    concurrency?: number;
    host?: string;
    port?: number;
    metricsPort?: number;
    metricsHost?: string;
  },
): Promise<CommandContext> {
  const fromFlags = configFromFlags({
    database: flags.db,
    tasks: flags.tasks,
    concurrency: flags.concurrency,
    host: flags.host,
    port: flags.port,
    metricsPort: flags.metricsPort,
    metricsHost: flags.metricsHost,
    logLevel: flags.logLevel,
    logFormat: flags.logFormat,
  });
  const config = mergeConfig(
    await loadConfigFile(flags.config),
    configFromEnv(process.env),
    fromFlags,
  );
  const logger = createCliLogger(config.logLevel, config.logFormat);
  return {
    config,
    json: flags.json === true,
    logger,
    databaseLabel: isUrl(config.database)
      ? redactUrl(config.database)
      : path.resolve(config.database),
    dataDir: isUrl(config.database)
      ? path.resolve('.offload')
      : path.dirname(path.resolve(config.database)),
    openStore: () => openStore(config.database),
    loadTasks: async () => (config.tasks ? loadTaskModule(config.tasks) : undefined),
  };
}

/** Runs a command over the producer side of the configured store, and closes the store after. */
export async function withQueue(
  globals: () => GlobalFlags,
  flags: { tasks?: string },
  action: (queue: Queue, context: CommandContext) => Promise<void>,
): Promise<void> {
  const context = await createContext({ ...globals(), tasks: flags.tasks });
  const tasks = await context.loadTasks();
  const store = await context.openStore();
  try {
    await action(createQueue({ store, tasks }), context);
  } finally {
    await store.close();
  }
}

/** The task module is required by commands that run tasks. */
export async function requireTasks(context: CommandContext): Promise<Task[]> {
  const tasks = await context.loadTasks();
  if (!tasks) {
    throw new OffloadError(
      ErrorCodes.TASK_MODULE,
      'no task module given: pass --tasks ./path/to/tasks.ts, set OFFLOAD_TASKS, or set `tasks` in offload.config.ts',
    );
  }
  return tasks;
}

export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}
