import { useState } from 'preact/hooks';
import { api, describeError, type Job } from '../api.ts';

/** States a job can be changed in: it has not started. */
const WAITING = ['scheduled', 'queued'];
/** States a job can be removed in: it has not started, or it has ended. */
const REMOVABLE = [...WAITING, 'succeeded', 'failed', 'cancelled'];

/** The value of a datetime-local input for epoch ms, in the browser's time zone. */
function localInput(ms: number): string {
  const date = new Date(ms);
  return new Date(ms - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

/**
 * Reschedule and remove a job: "Run now" and a new run-at for a job that has not started
 * (`PATCH /v1/jobs/{id}`), and a removal, confirmed once, for a job that is not running
 * (`DELETE /v1/jobs/{id}`). A job a worker claimed meanwhile is refused by the server (409), shown here.
 */
export function JobEditActions(props: {
  job: Job;
  onChanged(job: Job, message: string): void;
  onRemoved(job: Job): void;
  onError(message: string): void;
}) {
  const { job } = props;
  const [confirming, setConfirming] = useState(false);
  const [runAt, setRunAt] = useState(() => localInput(Date.parse(job.runAt)));
  const waiting = WAITING.includes(job.state);

  /** `{ delay: 0 }` is due by the server's clock, whatever this browser's says. */
  const reschedule = async (change: { runAt: number } | { delay: 0 }, message: string) => {
    try {
      props.onChanged(await api<Job>('PATCH', `/v1/jobs/${job.id}`, change), message);
    } catch (failure) {
      props.onError(describeError(failure));
    }
  };
  const remove = async () => {
    setConfirming(false);
    try {
      props.onRemoved(await api<Job>('DELETE', `/v1/jobs/${job.id}`));
    } catch (failure) {
      props.onError(describeError(failure));
    }
  };

  return (
    <div class="actions" data-testid="job-edit">
      <button
        type="button"
        disabled={job.state !== 'scheduled'}
        onClick={() => reschedule({ delay: 0 }, 'Due now.')}
      >
        Run now
      </button>
      <form
        class="inline"
        onSubmit={(event) => {
          event.preventDefault();
          const at = new Date(runAt).getTime();
          if (Number.isNaN(at)) props.onError('Pick a date and time to run the job at.');
          else void reschedule({ runAt: at }, `Rescheduled to ${new Date(at).toLocaleString()}.`);
        }}
      >
        <label>
          Run at{' '}
          <input
            type="datetime-local"
            value={runAt}
            disabled={!waiting}
            onInput={(event) => setRunAt((event.target as HTMLInputElement).value)}
          />
        </label>{' '}
        <button type="submit" disabled={!waiting}>
          Reschedule
        </button>
      </form>
      {confirming ? (
        <span role="group" aria-label="Confirm removal">
          Remove job {job.id} for good?{' '}
          <button type="button" class="danger" onClick={() => void remove()}>
            Remove for good
          </button>{' '}
          <button type="button" onClick={() => setConfirming(false)}>
            Keep
          </button>
        </span>
      ) : (
        <button
          type="button"
          disabled={!REMOVABLE.includes(job.state)}
          title={REMOVABLE.includes(job.state) ? undefined : 'Cancel a running job first'}
          onClick={() => setConfirming(true)}
        >
          Remove
        </button>
      )}
    </div>
  );
}
