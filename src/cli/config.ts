import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { ErrorCodes, OffloadError } from '../core/errors.ts';
import { optionSchemas, parseOptions } from '../core/options.ts';
import { DEFAULT_DATABASE } from '../store/open-store.ts';

/**
 * What `offload.config.{ts,mjs,js,json}` may hold. The same settings come from the environment
 * (OFFLOAD_DB, OFFLOAD_TASKS, OFFLOAD_CONCURRENCY, OFFLOAD_HOST, OFFLOAD_PORT, OFFLOAD_CORS_ORIGINS, OFFLOAD_LOG_LEVEL,
 * OFFLOAD_LOG_FORMAT, OFFLOAD_WEBHOOK_SECRET, OFFLOAD_METRICS_PORT, OFFLOAD_METRICS_HOST) and from
 * flags; a flag beats the environment, which beats the file.
 */
export interface OffloadConfig {
  /** SQLite file path (default `./.offload/offload.db`) or a postgres:// URL. */
  database?: string;
  /** Path of the task module, relative to the config file. */
  tasks?: string;
  /** Jobs per queue a worker runs at once. Default 100 (see createWorker). */
  concurrency?: number;
  /** Per-queue concurrency, as for createWorker. */
  queues?: Record<string, { concurrency?: number }>;
  /** Shutdown grace in ms. Default 10 000. */
  shutdownGrace?: number;
  /** Retention of finished jobs: max age in ms. Default 7 days. */
  retentionMs?: number;
  /** Address `offload start` serves the HTTP API on. Default `127.0.0.1`; others need a stored token. */
  host?: string;
  /** Port of the HTTP API. Default 7070; 0 picks a free one. */
  port?: number;
  /** Port of a `/metrics` endpoint of its own (`offload worker --metrics-port`). Default none; 0 picks a free one. */
  metricsPort?: number;
  /** Address the `/metrics` endpoint listens on. Default `127.0.0.1`; it has no authentication. */
  metricsHost?: string;
  /** Web origins allowed to call the API from browsers (CORS), or `['*']`. Default none. */
  corsOrigins?: string[];
  /** pino level. Default `info`. */
  logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** How log lines are written: `pretty` or `json`. Default: `pretty` when stderr is a terminal, `json` otherwise. */
  logFormat?: 'pretty' | 'json';
  /**
   * Signs webhook deliveries (at least 16 characters). Default: one generated once and kept in the
   * store, shared by every worker on it; `offload webhook secret` prints it.
   */
  webhookSecret?: string;
}

const configSchema = z.object({
  database: z.string().min(1).optional(),
  tasks: z.string().min(1).optional(),
  concurrency: optionSchemas.positiveInt.optional(),
  queues: z
    .record(
      optionSchemas.name,
      z.object({ concurrency: optionSchemas.positiveInt.optional() }).strict(),
    )
    .optional(),
  shutdownGrace: optionSchemas.timerMs.optional(),
  retentionMs: optionSchemas.positiveInt.optional(),
  host: z.string().min(1).optional(),
  port: z
    .number()
    .int('must be a whole number')
    .min(0)
    .max(65535, 'must be at most 65535')
    .optional(),
  metricsPort: z
    .number()
    .int('must be a whole number')
    .min(0)
    .max(65535, 'must be at most 65535')
    .optional(),
  metricsHost: z.string().min(1).optional(),
  corsOrigins: z.array(z.string().min(1)).optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  logFormat: z.enum(['pretty', 'json']).optional(),
  webhookSecret: z.string().min(16, 'must be at least 16 characters').optional(),
});

export type ResolvedConfig = Required<Pick<OffloadConfig, 'database' | 'logLevel'>> &
  Omit<OffloadConfig, 'database' | 'logLevel'>;

const CONFIG_NAMES = [
  'offload.config.ts',
  'offload.config.mts',
  'offload.config.mjs',
  'offload.config.js',
  'offload.config.json',
];

/** Finds and loads the config file (explicit path, or the first of CONFIG_NAMES in `cwd`). */
export async function loadConfigFile(
  explicit: string | undefined,
  cwd = process.cwd(),
): Promise<OffloadConfig> {
  const file = explicit
    ? path.resolve(cwd, explicit)
    : CONFIG_NAMES.map((name) => path.join(cwd, name)).find((f) => fs.existsSync(f));
  if (!file) return {};
  if (!fs.existsSync(file))
    throw new OffloadError(ErrorCodes.CONFIG, `config file ${explicit} does not exist`);
  let raw: unknown;
  try {
    if (file.endsWith('.json')) raw = JSON.parse(fs.readFileSync(file, 'utf8'));
    else {
      const { tsImport } = await import('tsx/esm/api');
      const loaded = (await tsImport(pathToFileURL(file).href, import.meta.url)) as {
        default?: unknown;
      };
      raw = loaded.default;
    }
  } catch (error) {
    throw new OffloadError(
      ErrorCodes.CONFIG,
      `config file ${file} could not be read: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const config = parseOptions(`config file ${path.basename(file)}`, configSchema, raw);
  if (config.tasks) config.tasks = path.resolve(path.dirname(file), config.tasks);
  if (config.database && !isUrl(config.database))
    config.database = path.resolve(path.dirname(file), config.database);
  return config;
}

/** Reads the OFFLOAD_* environment variables. The CLI is the only place that reads the environment. */
export function configFromEnv(env: NodeJS.ProcessEnv): OffloadConfig {
  const config: Record<string, unknown> = {};
  if (env.OFFLOAD_DB) config.database = env.OFFLOAD_DB;
  if (env.OFFLOAD_TASKS) config.tasks = env.OFFLOAD_TASKS;
  if (env.OFFLOAD_CONCURRENCY) config.concurrency = Number(env.OFFLOAD_CONCURRENCY);
  if (env.OFFLOAD_LOG_LEVEL) config.logLevel = env.OFFLOAD_LOG_LEVEL;
  if (env.OFFLOAD_LOG_FORMAT) config.logFormat = env.OFFLOAD_LOG_FORMAT;
  if (env.OFFLOAD_HOST) config.host = env.OFFLOAD_HOST;
  if (env.OFFLOAD_PORT) config.port = Number(env.OFFLOAD_PORT);
  if (env.OFFLOAD_METRICS_PORT) config.metricsPort = Number(env.OFFLOAD_METRICS_PORT);
  if (env.OFFLOAD_METRICS_HOST) config.metricsHost = env.OFFLOAD_METRICS_HOST;
  if (env.OFFLOAD_CORS_ORIGINS)
    config.corsOrigins = env.OFFLOAD_CORS_ORIGINS.split(',')
      .map((origin) => origin.trim())
      .filter(Boolean);
  if (env.OFFLOAD_WEBHOOK_SECRET) config.webhookSecret = env.OFFLOAD_WEBHOOK_SECRET;
  return parseOptions('environment (OFFLOAD_*)', configSchema, config);
}

/** Checks the settings given as flags, leaving out those not given. */
export function configFromFlags(flags: Record<string, unknown>): OffloadConfig {
  const given = Object.fromEntries(
    Object.entries(flags).filter(([, value]) => value !== undefined),
  );
  return parseOptions('command-line flags', configSchema, given);
}

/** Layers file < environment < flags and fills defaults. */
export function mergeConfig(...layers: OffloadConfig[]): ResolvedConfig {
  const merged: OffloadConfig = {};
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer))
      if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
  }
  return {
    ...merged,
    database: merged.database ?? DEFAULT_DATABASE,
    logLevel: merged.logLevel ?? 'info',
  };
}

export function isUrl(value: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(value);
}
