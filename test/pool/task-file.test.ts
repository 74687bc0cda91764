import assert from 'node:assert/strict';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadTaskModule } from '../../src/task/load-task-module-node.ts';
import { echo } from '../fixtures/pool-tasks.ts';

const FIXTURE = fileURLToPath(new URL('../fixtures/pool-tasks.ts', import.meta.url));

it('defineTask records the file it was called from, as a non-enumerable property', async () => {
  assert.equal(echo.file, FIXTURE);
  assert.equal(Object.keys(echo).includes('file'), false);
  assert.equal(JSON.stringify(echo).includes('pool-tasks'), false);
  const [loaded] = await loadTaskModule(FIXTURE);
  assert.equal(loaded!.file, FIXTURE);
});
