import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { OffloadError } from '../core/errors.ts';
import type { GlobalFlags } from './context.ts';
import { LOG_FORMATS } from './logger.ts';
import { choiceOption } from './parse.ts';
import { registerBenchCommands } from './commands/bench.ts';
import { registerBulkCommands } from './commands/bulk.ts';
import { registerJobCommands } from './commands/jobs.ts';
import { registerLimitsCommands } from './commands/limits.ts';
import { registerWorkerCommands } from './commands/worker.ts';
import { registerTokenCommands } from './commands/tokens.ts';
import { registerMigrateCommand } from './commands/migrate.ts';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

/** The `offload` command line. The only place that reads the environment and installs signal handlers. */
export async function main(argv: string[]): Promise<number> {
  const program = new Command('offload')
    .description(
      'durable background jobs: queues on SQLite or PostgreSQL, run as coroutines, threads or processes',
    )
    .version(version)
    .option(
      '--db <path|url>',
      'SQLite file or postgres:// URL (env OFFLOAD_DB; default ./.offload/offload.db)',
    )
    .option(
      '--config <file>',
      'config file (default: offload.config.{ts,mjs,js,json} in this folder)',
    )
    .option('--json', 'print JSON instead of tables')
    .option(
      '--log-level <level>',
      'fatal, error, warn, info, debug, trace or silent (env OFFLOAD_LOG_LEVEL)',
    )
    .option(
      '--log-format <format>',
      'pretty or json (env OFFLOAD_LOG_FORMAT; default pretty when stderr is a terminal, json otherwise)',
      choiceOption('--log-format', LOG_FORMATS),
    )
    .showSuggestionAfterError(true)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  const globals = () => program.opts<GlobalFlags>();
  registerWorkerCommands(program, globals);
  registerJobCommands(program, globals);
  registerBulkCommands(program, globals);
  registerLimitsCommands(program, globals);
  registerTokenCommands(program, globals);
  registerBenchCommands(program, globals);
  registerMigrateCommand(program, globals);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    return reportError(error);
  }
}

function reportError(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode;
  if (error instanceof OffloadError) {
    process.stderr.write(`offload: ${error.message} [${error.code}]\n`);
    return 1;
  }
  process.stderr.write(`offload: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
  return 70;
}
