/** One numbered schema migration of a store. Append only: a released migration is never edited. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** What a migration run found and did: the versions before and after, and the migrations it applied (or would apply). */
export interface MigrationReport {
  /** The schema version found. 0: nothing there yet. */
  from: number;
  /** The version after the run (the `from` version on a dry run). */
  to: number;
  /** Applied in this run, in order; on a dry run, the pending ones. */
  migrations: Array<Pick<Migration, 'version' | 'name'>>;
}

/** The migrations of `all` newer than `version`, by number and name. */
export function pendingAfter(
  all: readonly Migration[],
  version: number,
): Array<Pick<Migration, 'version' | 'name'>> {
  return all
    .filter((migration) => migration.version > version)
    .map(({ version: v, name }) => ({ version: v, name }));
}
