import assert from 'node:assert/strict';
import { test } from 'node:test';

// Resolved through package.json `exports`, so this runs on the built package (npm test builds first).
test('the package exports offload/client, sharing its error class with offload', async () => {
  const client = await import('offload/client');
  const main = await import('offload');
  assert.equal(typeof client.createClient, 'function');
  assert.equal(typeof client.ProblemError, 'function');
  assert.equal(client.OffloadError, main.OffloadError);
  assert.throws(() => client.createClient({ url: 'nope' }), main.OffloadError);
});
