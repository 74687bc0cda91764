/** The test pool's worker: the fixtures plus the example task module shared with Node's pool. */
import { serve } from 'offload/browser/worker';
import * as shared from '../../../examples/browser-pool/tasks.ts';
import * as fixtures from './fixture-tasks.ts';

serve({ ...fixtures, ...shared });
