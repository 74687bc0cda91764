import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.ts';
import {
  adminQuery,
  dropSchema,
  requirePostgres,
  TEST_PG_URL,
  uniqueSchema,
} from '../helpers/postgres.ts';

const schema = uniqueSchema('claimplan');
after(() => dropSchema(schema));

/**
 * The claim function keeps one plan per connection (migrations 5 and 6). A plan made while the table was
 * empty must still walk the indexes once the table is big: a sequential scan there would read every
 * job on every claim.
 */
describe('postgres store: the claim plan', () => {
  it('made on an empty table, still claims through the indexes at 20 000 jobs, without ANALYZE', async () => {
    await requirePostgres();
    const store = await createPostgresStore({
      connectionString: TEST_PG_URL,
      schema,
      listen: false,
    });
    await store.close();
    await adminQuery(`ALTER TABLE "${schema}".jobs SET (autovacuum_enabled = false)`);
    const client = new pg.Client({ connectionString: TEST_PG_URL });
    await client.connect();
    const claim = (limit: number) =>
      client.query<{ id: string }>(
        `SELECT id FROM "${schema}".claim_jobs('w', ARRAY['default'], ARRAY[$1::int], ARRAY[$1::int], $2, ARRAY['t'], 15000, 'on')`,
        [limit, Date.now()],
      );
    try {
      for (let i = 0; i < 6; i++) assert.equal((await claim(10)).rows.length, 0);
      await client.query(
        `INSERT INTO "${schema}".jobs (queue, task, payload, state, run_at, max_attempts, created_at)
         SELECT 'default', 't', '{}', 'queued', g, 1, g FROM generate_series(1, 20000) g`,
      );
      await client.query('BEGIN');
      const { rows } = await claim(5);
      const stats = await client.query<{ seq_scan: string; idx_scan: string }>(
        `SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables WHERE schemaname = $1 AND relname = 'jobs'`,
        [schema],
      );
      await client.query('ROLLBACK');
      assert.deepEqual(
        rows.map((row) => row.id),
        ['1', '2', '3', '4', '5'],
      );
      assert.equal(
        Number(stats.rows[0]!.seq_scan),
        0,
        'the claim scanned the jobs table sequentially',
      );
      assert.ok(
        Number(stats.rows[0]!.idx_scan) >= 2,
        `expected index scans, got ${stats.rows[0]!.idx_scan}`,
      );
    } finally {
      await client.end();
    }
  });
});
