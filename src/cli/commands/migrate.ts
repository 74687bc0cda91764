import type { Command } from 'commander';
import { ErrorCodes, OffloadError } from '../../core/errors.ts';
import type { MigrationReport } from '../../store/migration.ts';
import { storeKind } from '../../store/open-store.ts';
import { createContext, type GlobalFlags } from '../context.ts';
import { print, printJson } from '../output.ts';

interface MigrateFlags {
  dryRun?: boolean;
  schema?: string;
}

/** `offload migrate`: applies the store's schema migrations (PostgreSQL under its advisory lock) and says what it did. */
export function registerMigrateCommand(program: Command, globals: () => GlobalFlags): void {
  program
    .command('migrate')
    .description(
      'bring the store (--db) to the latest schema version and print what was applied; safe while workers run',
    )
    .option('--dry-run', 'only list the pending migrations; change nothing')
    .option('--schema <name>', 'PostgreSQL schema (default offload)')
    .action(async (flags: MigrateFlags) => {
      const context = await createContext(globals());
      const database = context.config.database;
      const dryRun = flags.dryRun === true;
      const postgres = storeKind(database) === 'postgres';
      if (flags.schema !== undefined && !postgres) {
        throw new OffloadError(
          ErrorCodes.INVALID_OPTION,
          `--schema names a PostgreSQL schema, but --db is the SQLite file ${context.databaseLabel}; drop --schema or pass a postgres:// URL`,
        );
      }
      // Each store is loaded only when named: migrating PostgreSQL never loads the SQLite addon.
      const report = postgres
        ? await (
            await import('../../store/postgres/migrate.ts')
          ).migratePostgres({ connectionString: database, schema: flags.schema, dryRun })
        : (await import('../../store/sqlite/migrate-file.ts')).migrateSqlite({
            path: database,
            dryRun,
          });
      const where =
        'schema' in report
          ? `${context.databaseLabel} (schema ${report.schema})`
          : context.databaseLabel;
      if (context.json)
        return printJson({
          store: where,
          dryRun,
          from: report.from,
          to: report.to,
          migrations: report.migrations,
        });
      print(describe(report, where, dryRun));
    });
}

function describe(report: MigrationReport, where: string, dryRun: boolean): string {
  const list = report.migrations.map((m) => `  ${m.version} ${m.name}`).join('\n');
  const n = report.migrations.length;
  const plural = n === 1 ? 'migration' : 'migrations';
  if (n === 0) return `${where} is up to date (schema version ${report.from}); nothing to do`;
  if (dryRun)
    return `${where} is at schema version ${report.from}; ${n} pending ${plural} (run \`offload migrate\` to apply):\n${list}`;
  return `${where}: applied ${n} ${plural}, from schema version ${report.from} to ${report.to}:\n${list}`;
}
