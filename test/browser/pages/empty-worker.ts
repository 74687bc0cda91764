/** A module worker that serves no tasks. */
import { serve } from 'offload/browser/worker';

serve({ notATask: 42 });
