import { useEffect, useState } from 'preact/hooks';
import { api, describeError, type Job, type QueueInfo, type TaskInfo, JOB_STATES } from '../api.ts';
import { describeBulk, runBulk } from '../bulk.ts';
import { TagLinks } from './tag-links.tsx';
import { durationOf, formatTime, useLiveData } from '../hooks.ts';

const PAGE = 50;
/** Which of the matching jobs each bulk action takes. */
const BULK_SCOPE = {
  retry: 'failed or cancelled ones, each with a fresh attempt budget',
  cancel: 'those that have not ended',
  delete: 'those that ended or have not started',
} as const;

export function JobsView({ query }: { query: URLSearchParams }) {
  const queue = query.get('queue') ?? '';
  const state = query.get('state') ?? '';
  const task = query.get('task') ?? '';
  const tag = query.get('tag') ?? '';
  const [tagInput, setTagInput] = useState(tag);
  useEffect(() => setTagInput(tag), [tag]);
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.at(-1);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [message, setMessage] = useState<{ text: string; error: boolean } | undefined>(undefined);
  const [search, setSearch] = useState('');
  const [bulkBusy, setBulkBusy] = useState(false);

  const params = new URLSearchParams({ limit: String(PAGE) });
  if (queue) params.set('queue', queue);
  if (state) params.set('state', state);
  if (task) params.set('task', task);
  if (tag) params.set('tag', tag);
  if (cursor) params.set('cursor', cursor);
  const page = useLiveData(
    () => api<{ jobs: Job[]; nextCursor: string | null }>('GET', `/v1/jobs?${params}`),
    [params.toString()],
  );
  const queues = useLiveData(() => api<{ queues: QueueInfo[] }>('GET', '/v1/queues'), []);
  const tasks = useLiveData(() => api<{ tasks: TaskInfo[] }>('GET', '/v1/tasks'), [], false);

  const setFilter = (key: string, value: string) => {
    const next = new URLSearchParams(query);
    if (value) next.set(key, value);
    else next.delete(key);
    setCursors([]);
    setSelected(new Set());
    location.hash = `#/jobs?${next}`;
  };

  const bulk = async (action: 'retry' | 'cancel') => {
    const ids = [...selected];
    const failures: string[] = [];
    for (const id of ids) {
      try {
        await api('POST', `/v1/jobs/${id}/${action}`);
      } catch (error) {
        failures.push(`job ${id}: ${describeError(error)}`);
      }
    }
    setSelected(new Set());
    setMessage(
      failures.length
        ? {
            text: `${ids.length - failures.length} of ${ids.length} done. ${failures.join('; ')}`,
            error: true,
          }
        : {
            text: `${action === 'retry' ? 'Retried' : 'Cancelled'} ${ids.length} job(s).`,
            error: false,
          },
    );
    page.reload();
  };

  /** Every job the filters match, in one bulk request the server runs in chunks. */
  const bulkAll = async (action: 'retry' | 'cancel' | 'delete') => {
    const filter: Record<string, string> = {};
    if (queue) filter.queue = queue;
    if (task) filter.task = task;
    if (state) filter.state = state;
    if (tag) filter.tag = tag;
    const all = Object.keys(filter).length === 0;
    const which = all ? 'every job' : 'every job matching these filters';
    if (!confirm(`${action[0]!.toUpperCase()}${action.slice(1)} ${which}? (${BULK_SCOPE[action]})`))
      return;
    setBulkBusy(true);
    try {
      const end = await runBulk({ action, filter, all }, (progress) =>
        setMessage({ text: describeBulk(progress), error: false }),
      );
      setMessage({ text: describeBulk(end), error: end.state !== 'done' });
    } catch (error) {
      setMessage({ text: describeError(error), error: true });
    } finally {
      setBulkBusy(false);
      setSelected(new Set());
      page.reload();
    }
  };

  const toggle = (id: string) =>
    setSelected((current) => {
      const next = new Set(current);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });

  const goTo = (event: Event) => {
    event.preventDefault();
    const id = search.trim();
    if (/^[1-9][0-9]{0,17}$/.test(id)) location.hash = `#/jobs/${id}`;
    else setMessage({ text: 'A job id is a whole number, such as 42.', error: true });
  };

  return (
    <>
      <h1>Jobs</h1>
      <div class="filters">
        <div class="field">
          <label for="filter-queue">Queue</label>
          <select
            id="filter-queue"
            value={queue}
            onChange={(e) => setFilter('queue', (e.target as HTMLSelectElement).value)}
          >
            <option value="">all</option>
            {queues.data?.queues.map((q) => (
              <option value={q.name}>{q.name}</option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="filter-state">State</label>
          <select
            id="filter-state"
            value={state}
            onChange={(e) => setFilter('state', (e.target as HTMLSelectElement).value)}
          >
            <option value="">all</option>
            {JOB_STATES.map((s) => (
              <option value={s}>{s}</option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="filter-task">Task</label>
          <select
            id="filter-task"
            value={task}
            onChange={(e) => setFilter('task', (e.target as HTMLSelectElement).value)}
          >
            <option value="">all</option>
            {tasks.data?.tasks.map((t) => (
              <option value={t.name}>{t.name}</option>
            ))}
          </select>
        </div>
        <form
          class="field"
          aria-label="Filter by tag"
          onSubmit={(e) => {
            e.preventDefault();
            setFilter('tag', tagInput.trim());
          }}
        >
          <label for="filter-tag">Tag</label>
          <span class="inline">
            <input
              id="filter-tag"
              value={tagInput}
              maxLength={64}
              onInput={(e) => setTagInput((e.target as HTMLInputElement).value)}
            />
            <button type="submit">Filter</button>
          </span>
        </form>
        <form class="field" onSubmit={goTo} role="search">
          <label for="job-search">Job id</label>
          <span class="inline">
            <input
              id="job-search"
              inputMode="numeric"
              value={search}
              onInput={(e) => setSearch((e.target as HTMLInputElement).value)}
            />
            <button type="submit">Open</button>
          </span>
        </form>
      </div>
      <div class="actions">
        <button type="button" disabled={selected.size === 0} onClick={() => bulk('retry')}>
          Retry selected
        </button>
        <button type="button" disabled={selected.size === 0} onClick={() => bulk('cancel')}>
          Cancel selected
        </button>
        <span>{selected.size} selected</span>
      </div>
      <div class="actions" role="group" aria-label="Every matching job">
        <button
          type="button"
          disabled={bulkBusy || !['', 'failed', 'cancelled'].includes(state)}
          onClick={() => bulkAll('retry')}
        >
          {state === 'failed' ? 'Retry all failed' : 'Retry all matching'}
        </button>
        <button
          type="button"
          disabled={bulkBusy || ['succeeded', 'failed', 'cancelled'].includes(state)}
          onClick={() => bulkAll('cancel')}
        >
          Cancel all matching
        </button>
        <button
          type="button"
          disabled={bulkBusy || ['claimed', 'running'].includes(state)}
          onClick={() => bulkAll('delete')}
        >
          Delete all matching
        </button>
      </div>
      {message && (
        <p class={message.error ? 'error' : 'ok'} role={message.error ? 'alert' : 'status'}>
          {message.text}
        </p>
      )}
      {page.error && (
        <p class="error" role="alert">
          {page.error}
        </p>
      )}
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">
                <span class="sr-only">Select</span>
              </th>
              <th scope="col">Id</th>
              <th scope="col">Task</th>
              <th scope="col">Queue</th>
              <th scope="col">State</th>
              <th scope="col" class="num">
                Attempts
              </th>
              <th scope="col">Tags</th>
              <th scope="col">Created</th>
              <th scope="col">Run time</th>
            </tr>
          </thead>
          <tbody>
            {page.data?.jobs.map((job) => (
              <tr data-job={job.id}>
                <td>
                  <input
                    type="checkbox"
                    aria-label={`Select job ${job.id}`}
                    checked={selected.has(job.id)}
                    onChange={() => toggle(job.id)}
                  />
                </td>
                <td>
                  <a href={`#/jobs/${job.id}`}>{job.id}</a>
                </td>
                <td>{job.task}</td>
                <td>{job.queue}</td>
                <td>
                  <span class={`state ${job.state}`}>{job.state}</span>
                </td>
                <td class="num">
                  {job.attempts}/{job.maxAttempts}
                </td>
                <td>
                  <TagLinks tags={job.tags} />
                </td>
                <td>{formatTime(job.createdAt)}</td>
                <td>{durationOf(job.startedAt, job.finishedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {page.data && page.data.jobs.length === 0 && <p>No jobs match.</p>}
      <nav class="pager" aria-label="Pages">
        <button type="button" disabled={cursors.length === 0} onClick={() => setCursors([])}>
          First page
        </button>
        <button
          type="button"
          disabled={cursors.length === 0}
          onClick={() => setCursors((c) => c.slice(0, -1))}
        >
          Previous
        </button>
        <button
          type="button"
          disabled={!page.data?.nextCursor}
          onClick={() => setCursors((c) => [...c, page.data!.nextCursor!])}
        >
          Next
        </button>
      </nav>
    </>
  );
}
