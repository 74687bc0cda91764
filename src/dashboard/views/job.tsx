import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, describeError, type Job } from '../api.ts';
import { durationOf, formatTime } from '../hooks.ts';
import { TagLinks } from './tag-links.tsx';
import { JobEditActions } from './job-edit.tsx';

/** One job, kept live by its own event stream until it ends. */
export function JobView({ id }: { id: string }) {
  const [job, setJob] = useState<Job | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [message, setMessage] = useState<{ text: string; error: boolean } | undefined>(undefined);
  const [generation, setGeneration] = useState(0);
  const [removed, setRemoved] = useState<Job | undefined>(undefined);
  const stream = useRef<EventSource | undefined>(undefined);

  useEffect(() => {
    if (!/^[1-9][0-9]{0,17}$/.test(id)) {
      setError(`"${id}" is not a job id: ids are whole numbers.`);
      return;
    }
    let source: EventSource | undefined;
    api<Job>('GET', `/v1/jobs/${id}`).then(
      (loaded) => {
        setJob(loaded);
        setError(undefined);
        source = new EventSource(`/v1/jobs/${id}/events`);
        stream.current = source;
        const update = (event: MessageEvent<string>) => setJob(JSON.parse(event.data) as Job);
        source.addEventListener('state', update as EventListener);
        source.addEventListener('end', ((event: MessageEvent<string>) => {
          update(event);
          source?.close();
        }) as EventListener);
        source.addEventListener('progress', ((event: MessageEvent<string>) => {
          const { progress } = JSON.parse(event.data) as { progress: unknown };
          setJob((current) => (current ? { ...current, progress } : current));
        }) as EventListener);
      },
      (failure: unknown) =>
        setError(
          failure instanceof ApiError && failure.status === 404
            ? `No job has id ${id}. It may have been deleted by retention.`
            : describeError(failure),
        ),
    );
    return () => source?.close();
  }, [id, generation]);

  const act = async (action: 'retry' | 'cancel') => {
    try {
      setJob(await api<Job>('POST', `/v1/jobs/${id}/${action}`));
      setMessage({ text: action === 'retry' ? 'Queued again.' : 'Cancelled.', error: false });
      setGeneration((n) => n + 1);
    } catch (failure) {
      setMessage({ text: describeError(failure), error: true });
    }
  };

  if (removed?.id === id) {
    return (
      <>
        <h1>Job {id}</h1>
        <p class="ok" role="status">
          Removed job {removed.id} ({removed.task}, it was {removed.state}).
        </p>
        <a href="#/jobs">Back to jobs</a>
      </>
    );
  }
  if (error) {
    return (
      <>
        <h1>Job {id}</h1>
        <p class="error" role="alert">
          {error}
        </p>
        <a href="#/jobs">Back to jobs</a>
      </>
    );
  }
  if (!job) return <p>Loading job {id}…</p>;
  const percent =
    typeof job.progress === 'number' ? Math.max(0, Math.min(100, job.progress)) : undefined;
  const finished = ['succeeded', 'failed', 'cancelled'].includes(job.state);
  return (
    <>
      <h1>
        Job {job.id}{' '}
        <span class={`state ${job.state}`} data-testid="job-state">
          {job.state}
        </span>
      </h1>
      <div class="actions">
        <button
          type="button"
          disabled={!['failed', 'cancelled'].includes(job.state)}
          onClick={() => act('retry')}
        >
          Retry
        </button>
        <button type="button" disabled={finished} onClick={() => act('cancel')}>
          Cancel
        </button>
      </div>
      <JobEditActions
        job={job}
        onChanged={(changed, text) => {
          setJob(changed);
          setMessage({ text, error: false });
        }}
        onRemoved={(gone) => {
          stream.current?.close();
          setRemoved(gone);
        }}
        onError={(text) => setMessage({ text, error: true })}
      />
      {message && (
        <p class={message.error ? 'error' : 'ok'} role={message.error ? 'alert' : 'status'}>
          {message.text}
        </p>
      )}
      <section aria-labelledby="progress-heading">
        <h2 id="progress-heading">Progress</h2>
        {percent !== undefined ? (
          <progress max={100} value={percent} aria-label="Job progress">
            {percent}%
          </progress>
        ) : (
          <pre>
            {job.progress === null ? 'none reported' : JSON.stringify(job.progress, null, 2)}
          </pre>
        )}
      </section>
      <dl class="facts">
        <dt>Task</dt>
        <dd>{job.task}</dd>
        <dt>Queue</dt>
        <dd>{job.queue}</dd>
        <dt>Attempts</dt>
        <dd>
          {job.attempts} of {job.maxAttempts}
        </dd>
        <dt>Priority</dt>
        <dd>{job.priority}</dd>
        <dt>Flow key</dt>
        <dd>{job.key ?? '–'}</dd>
        <dt>Worker</dt>
        <dd>{job.worker ?? '–'}</dd>
        <dt>Mode</dt>
        <dd data-testid="job-mode">{job.placement ?? '–'}</dd>
        <dt>Timeout</dt>
        <dd>{job.timeoutMs ? `${job.timeoutMs} ms` : 'none'}</dd>
        <dt>Tags</dt>
        <dd data-testid="job-tags">{job.tags.length ? <TagLinks tags={job.tags} /> : '–'}</dd>
      </dl>
      <section aria-labelledby="timeline-heading">
        <h2 id="timeline-heading">Timeline</h2>
        <ol class="timeline">
          <li>Created {formatTime(job.createdAt)}</li>
          <li>Due {formatTime(job.runAt)}</li>
          {job.startedAt && (
            <li>
              Attempt {job.attempts} started {formatTime(job.startedAt)} (waited{' '}
              {durationOf(job.runAt, job.startedAt)})
            </li>
          )}
          {job.errors.map((entry) => (
            <li data-testid="job-attempt-error">
              Attempt {entry.attempt} failed {formatTime(entry.at)}:{' '}
              {entry.code ? `[${entry.code}] ` : ''}
              {entry.message}
            </li>
          ))}
          {job.finishedAt && (
            <li>
              {job.state} {formatTime(job.finishedAt)} (ran{' '}
              {durationOf(job.startedAt, job.finishedAt)})
            </li>
          )}
        </ol>
      </section>
      {Object.keys(job.meta).length > 0 && (
        <section aria-labelledby="meta-heading">
          <h2 id="meta-heading">Meta</h2>
          <pre data-testid="job-meta">{JSON.stringify(job.meta, null, 2)}</pre>
        </section>
      )}
      <section aria-labelledby="payload-heading">
        <h2 id="payload-heading">Payload</h2>
        <pre>{JSON.stringify(job.payload, null, 2)}</pre>
      </section>
      {job.result !== null && (
        <section aria-labelledby="result-heading">
          <h2 id="result-heading">Result</h2>
          <pre>{JSON.stringify(job.result, null, 2)}</pre>
        </section>
      )}
      {job.outputTail !== null && job.outputTail !== undefined && (
        <section aria-labelledby="output-heading">
          <h2 id="output-heading">Output (tail)</h2>
          <pre class="output" data-testid="job-output">
            {job.outputTail === '' ? 'no output' : job.outputTail}
          </pre>
        </section>
      )}
      {job.error && (
        <section aria-labelledby="error-heading">
          <h2 id="error-heading">Error</h2>
          <p>
            <strong>{job.error.name}</strong>
            {job.error.code ? ` [${job.error.code}]` : ''}: {job.error.message}
          </p>
          {job.error.stack && <pre class="stack">{job.error.stack}</pre>}
        </section>
      )}
    </>
  );
}
