import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.ts';
import { dropSchema, requirePostgres, TEST_PG_URL, uniqueSchema } from '../helpers/postgres.ts';

const schema = uniqueSchema('tagplan');
after(() => dropSchema(schema));

/** A filter by tag reads the partial GIN index of migration 10, which holds the tagged jobs only. */
describe('postgres store: the tag filter plan', () => {
  it('finds 5 tagged jobs among 20 000 through jobs_tags, which indexes only tagged jobs', async () => {
    await requirePostgres();
    const store = await createPostgresStore({
      connectionString: TEST_PG_URL,
      schema,
      listen: false,
    });
    const job = (tags: string[] | null) => ({
      task: 't',
      queue: 'default',
      payload: '{}',
      priority: 0,
      runAt: Date.now(),
      maxAttempts: 1,
      timeoutMs: 0,
      uniqueKey: null,
      idempotencyKey: null,
      callbackUrl: null,
      tags,
    });
    try {
      for (let i = 0; i < 4; i++)
        await store.jobEnqueueMany(Array.from({ length: 5000 }, () => job(null)));
      const tagged = await store.jobEnqueueMany(Array.from({ length: 5 }, () => job(['rare'])));
      const listed = await store.jobList({ tag: 'rare' });
      assert.deepEqual(
        listed.jobs.map((j) => j.id),
        tagged.map((r) => r.job.id).reverse(),
      );
    } finally {
      await store.close();
    }
    const client = new pg.Client({ connectionString: TEST_PG_URL });
    await client.connect();
    try {
      await client.query(`ANALYZE "${schema}".jobs`);
      const plan = await client.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN SELECT * FROM "${schema}".jobs WHERE tags @> ARRAY['rare'::text] ORDER BY id DESC LIMIT 51`,
      );
      const text = plan.rows.map((row) => row['QUERY PLAN']).join('\n');
      assert.match(text, /jobs_tags/, text);
      const { rows } = await client.query<{ tagged: string }>(
        `SELECT count(*) AS tagged FROM "${schema}".jobs WHERE tags IS NOT NULL`,
      );
      assert.equal(rows[0]!.tagged, '5', 'untagged jobs store NULL');
    } finally {
      await client.end();
    }
  });
});
