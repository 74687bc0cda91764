import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { createSqliteStore } from '../../src/store/sqlite/index.ts';
import { filterClause } from '../../src/store/sqlite/queries.ts';
import { makeTempDir } from '../helpers/temp.ts';

const temp = makeTempDir('sqlite-tags');
after(() => temp.cleanup());

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

/** The side table of migration 10: rows for tagged jobs only, and the tag filter reads it by key. */
describe('SQLite tag index', () => {
  it('writes tag rows only for tagged jobs, and the filter seeks offload_job_tags by tag', async () => {
    const file = path.join(temp.dir, 'tags.db');
    const store = createSqliteStore({ path: file });
    await store.jobEnqueueMany(Array.from({ length: 1000 }, () => job(null)));
    await Promise.all([store.jobEnqueue(job(['a', 'b'])), store.jobEnqueue(job(null))]);
    await store.jobEnqueue(job(['a']));
    await store.close();
    const db = new Database(file, { readonly: true });
    try {
      const rows = db
        .prepare('SELECT tag, job_id FROM offload_job_tags ORDER BY job_id, tag')
        .all();
      assert.deepEqual(rows, [
        { tag: 'a', job_id: 1001 },
        { tag: 'b', job_id: 1001 },
        { tag: 'a', job_id: 1003 },
      ]);
      const plan = db
        .prepare(
          `EXPLAIN QUERY PLAN SELECT * FROM offload_jobs WHERE ${filterClause({ tag: 'a' })} ORDER BY id DESC LIMIT 51`,
        )
        .all({ tag: 'a', now: Date.now() }) as Array<{ detail: string }>;
      const text = plan.map((row) => row.detail).join('\n');
      assert.match(text, /offload_job_tags USING PRIMARY KEY \(tag=\?\)/, text);
      assert.doesNotMatch(text, /SCAN offload_jobs(?! USING)/, text);
    } finally {
      db.close();
    }
  });
});
