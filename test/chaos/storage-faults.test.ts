import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { OffloadError } from '../../src/core/errors.ts';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { defineTask } from '../../src/task/define-task-node.ts';
import { startApi } from '../helpers/api.ts';
import { makeTempDir } from '../helpers/temp.ts';

const note = defineTask({
  name: 'note',
  run: async (payload: { text: string }) => payload.text.length,
});

/** A closed store file holding `count` jobs, its log folded into the main file. */
async function filledStore(file: string, count: number): Promise<void> {
  const store = createSqliteStore({ path: file });
  const jobs = Array.from({ length: count }, (_, i) => ({
    task: 'note',
    queue: 'default',
    payload: JSON.stringify({ text: `job ${i} ${'x'.repeat(200)}` }),
    priority: 0,
    runAt: 0,
    maxAttempts: 1,
    timeoutMs: 0,
    uniqueKey: null,
    idempotencyKey: null,
    callbackUrl: null,
  }));
  await store.jobEnqueueMany(jobs);
  await store.close();
  for (const suffix of ['-wal', '-shm']) fs.rmSync(file + suffix, { force: true });
}

const refusedAsDamaged = (error: unknown) =>
  error instanceof OffloadError &&
  error.code === 'ERR_STORE_CORRUPT' &&
  /damaged/.test(error.message) &&
  /backup/.test(error.message);

describe('a damaged SQLite file is refused at start, never used', () => {
  test('a truncated file', async () => {
    const { dir, cleanup } = makeTempDir('truncated');
    try {
      const file = path.join(dir, 'jobs.db');
      await filledStore(file, 3000);
      const size = fs.statSync(file).size;
      fs.truncateSync(file, Math.floor(size * 0.6));
      assert.throws(() => createSqliteStore({ path: file }), refusedAsDamaged);
    } finally {
      cleanup();
    }
  });

  test('a file with one data page overwritten (which opening alone would not notice)', async () => {
    const { dir, cleanup } = makeTempDir('corrupted');
    try {
      const file = path.join(dir, 'jobs.db');
      await filledStore(file, 3000);
      const fd = fs.openSync(file, 'r+');
      const size = fs.fstatSync(fd).size;
      fs.writeSync(
        fd,
        Buffer.alloc(512, 0xa5),
        0,
        512,
        Math.floor((size * 0.7) / 4096) * 4096 + 100,
      );
      fs.closeSync(fd);
      assert.throws(() => createSqliteStore({ path: file }), refusedAsDamaged);
    } finally {
      cleanup();
    }
  });

  test('offload start on a damaged file exits with the reason, not a stack trace', async () => {
    const { dir, cleanup } = makeTempDir('damaged-cli');
    try {
      const file = path.join(dir, 'jobs.db');
      await filledStore(file, 3000);
      fs.truncateSync(file, Math.floor(fs.statSync(file).size * 0.5));
      let stderr = '';
      try {
        execFileSync(process.execPath, [path.resolve('dist/cli/main.js'), 'jobs', '--db', file], {
          stdio: 'pipe',
        });
      } catch (error) {
        stderr = String((error as { stderr: Buffer }).stderr);
      }
      assert.match(stderr, /is damaged/);
      assert.match(stderr, /ERR_STORE_CORRUPT/);
      assert.doesNotMatch(stderr, /\n\s+at /);
    } finally {
      cleanup();
    }
  });
});

describe('a full disk during enqueue', () => {
  test('answers 507 with a problem document, never a false 202, and every 202 is stored', async (t) => {
    const { dir, cleanup } = makeTempDir('full-disk');
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
    } catch (error) {
      cleanup();
      throw new Error(
        `this test mounts a 1 MiB tmpfs to fill a disk and needs root (as CI has): ${(error as Error).message}`,
        { cause: error },
      );
    }
    t.after(() => {
      execFileSync('umount', ['-l', dir]);
      cleanup();
    });
    const file = path.join(dir, 'jobs.db');
    const api = await startApi([note], {
      worker: false,
      store: createSqliteStore({ path: file, checkpointInterval: 0 }),
    });
    const accepted: string[] = [];
    let refusal:
      | { status: number; body: { code: string; detail: string; status: number }; headers: Headers }
      | undefined;
    try {
      for (let i = 0; i < 5000 && !refusal; i++) {
        const answer = await api.call('POST', '/v1/jobs', {
          task: 'note',
          payload: { text: `${i} ${'y'.repeat(2000)}` },
        });
        if (answer.status === 202) accepted.push(answer.body.id);
        else refusal = answer;
      }
      assert.ok(refusal, 'the disk filled up within 5 000 jobs');
      assert.equal(refusal.status, 507, JSON.stringify(refusal.body));
      assert.equal(refusal.body.code, 'ERR_STORE_FULL');
      assert.match(refusal.headers.get('content-type') ?? '', /problem\+json/);
      assert.match(refusal.body.detail, /disk .* is full/);
      assert.ok(
        accepted.length > 10,
        `some jobs fit before the disk was full (${accepted.length})`,
      );
      for (const id of accepted) {
        const job = await api.queue.getJob(id);
        assert.ok(job, `acknowledged job ${id} is stored`);
        assert.match((job.payload as { text: string }).text, /^\d+ y+$/);
      }
      assert.equal(
        (await api.call('GET', '/healthz')).status,
        200,
        'the server keeps serving reads',
      );
      // A worker's claim rewrites every row it takes: on the full disk it fails with the same clear error.
      await assert.rejects(
        api.store.jobClaim({
          workerId: 'w',
          queues: [{ name: 'default', limit: 10_000 }],
          tasks: ['note'],
          leaseMs: 30_000,
        }),
        (error: { code?: string; message?: string }) =>
          error.code === 'ERR_STORE_FULL' && /disk .* is full/.test(error.message ?? ''),
      );
      assert.equal(
        (await api.store.jobCount({})).queued,
        accepted.length,
        'the failed claim changed nothing',
      );
    } finally {
      await api.close();
    }
  });
});

describe('a SQLite file damaged while a store has it open', () => {
  test('makes cancel, pause, retry and reads fail with ERR_STORE_CORRUPT, not a raw SQLite error', async () => {
    const { dir, cleanup } = makeTempDir('damaged-open');
    const file = path.join(dir, 'jobs.db');
    try {
      await filledStore(file, 3000);
      const store = createSqliteStore({ path: file, watchInterval: 0, checkpointInterval: 0 });
      try {
        // Every page but the first (the header and the schema) overwritten; another connection's
        // commit (of the header alone) makes the store drop the pages it has cached.
        const fd = fs.openSync(file, 'r+');
        const size = fs.fstatSync(fd).size;
        for (let at = 4096; at < size; at += 4096)
          fs.writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, at);
        fs.closeSync(fd);
        const other = new Database(file);
        other.pragma('user_version = 7');
        other.close();
        await assert.rejects(store.jobCancel({ id: '1' }), refusedAsDamaged);
        await assert.rejects(store.queuePause({ name: 'default' }), refusedAsDamaged);
        await assert.rejects(store.jobRetry({ id: '2' }), refusedAsDamaged);
        await assert.rejects(store.jobGet({ id: '3' }), refusedAsDamaged);
      } finally {
        await store.close().catch(() => undefined);
      }
    } finally {
      cleanup();
    }
  });
});
