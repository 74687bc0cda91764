/** The demo's module worker: the shared task module, served to the browser pool. */
import { serve } from 'offload/browser/worker';
import * as tasks from '../tasks.ts';

serve(tasks);
