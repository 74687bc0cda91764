import { useEffect, useState } from 'preact/hooks';
import {
  api,
  describeError,
  type FieldError,
  type Job,
  type QueueInfo,
  type TaskInfo,
  JOB_STATES,
} from '../api.ts';
import { LineChart } from '../chart.tsx';
import { formatMs, useLiveData } from '../hooks.ts';
import { live } from '../live.ts';
import { PayloadForm } from '../schema-form.tsx';
import { limitsSummary, QueueLimitsSection } from './queue-limits.tsx';
import type { StatsSnapshot } from '../stats.ts';

export function OverviewView() {
  const queues = useLiveData(() => api<{ queues: QueueInfo[] }>('GET', '/v1/queues'), []);
  const [stats, setStats] = useState<StatsSnapshot | undefined>(live.stats);
  const [actionError, setActionError] = useState<string | undefined>(undefined);
  useEffect(() => live.onStats(() => setStats(live.stats)), []);

  const toggle = async (queue: QueueInfo) => {
    try {
      await api(
        'POST',
        `/v1/queues/${encodeURIComponent(queue.name)}/${queue.paused ? 'resume' : 'pause'}`,
      );
      queues.reload();
    } catch (error) {
      setActionError(describeError(error));
    }
  };

  return (
    <>
      <h1>Overview</h1>
      <section aria-labelledby="queues-heading">
        <h2 id="queues-heading">Queues</h2>
        {queues.error && (
          <p class="error" role="alert">
            {queues.error}
          </p>
        )}
        {actionError && (
          <p class="error" role="alert">
            {actionError}
          </p>
        )}
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Queue</th>
                {JOB_STATES.map((state) => (
                  <th scope="col" class="num">
                    {state}
                  </th>
                ))}
                <th scope="col">Status</th>
                <th scope="col">Limits</th>
              </tr>
            </thead>
            <tbody>
              {queues.data?.queues.map((queue) => (
                <tr data-queue={queue.name}>
                  <th scope="row">{queue.name}</th>
                  {JOB_STATES.map((state) => (
                    <td class="num">
                      <a href={`#/jobs?queue=${encodeURIComponent(queue.name)}&state=${state}`}>
                        {queue.counts[state] ?? 0}
                      </a>
                    </td>
                  ))}
                  <td>
                    <span class={queue.paused ? 'badge paused' : 'badge'}>
                      {queue.paused ? 'paused' : 'active'}
                    </span>{' '}
                    <button
                      type="button"
                      onClick={() => toggle(queue)}
                      aria-label={`${queue.paused ? 'Resume' : 'Pause'} queue ${queue.name}`}
                    >
                      {queue.paused ? 'Resume' : 'Pause'}
                    </button>
                  </td>
                  <td class="wrap" data-testid="queue-limits-summary">
                    {queue.limits ? (
                      <a href="#limits-heading">{limitsSummary(queue.limits.limits)}</a>
                    ) : (
                      '–'
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {queues.data && queues.data.queues.length === 0 && <p>No jobs yet. Enqueue one below.</p>}
      </section>

      {queues.data && <QueueLimitsSection queues={queues.data.queues} />}

      <section aria-labelledby="live-heading">
        <h2 id="live-heading">Live</h2>
        <p class="summary" aria-live="polite">
          {stats
            ? `${stats.eventRate.toFixed(0)} events/s · run time p50 ${formatMs(stats.latency.p50)} · p95 ${formatMs(stats.latency.p95)} · p99 ${formatMs(stats.latency.p99)} over ${stats.latency.count} runs (last 2 min)`
            : 'Waiting for the event stream…'}
        </p>
        {stats && (
          <div class="charts">
            <LineChart
              title="Throughput (jobs per second)"
              unit="jobs/s"
              series={[
                { label: 'enqueued', color: '#4061c5' },
                { label: 'succeeded', color: '#1d7f3a' },
                { label: 'failed', color: '#b3261e' },
              ]}
              data={[stats.seconds, stats.enqueued, stats.succeeded, stats.failed]}
            />
            <LineChart
              title="Run time (ms)"
              unit="ms"
              series={[
                { label: 'p50', color: '#1d7f3a' },
                { label: 'p95', color: '#a15c00' },
                { label: 'p99', color: '#b3261e' },
              ]}
              data={[stats.seconds, stats.p50, stats.p95, stats.p99]}
            />
            <Histogram stats={stats} />
          </div>
        )}
      </section>

      <EnqueueSection />
    </>
  );
}

function Histogram({ stats }: { stats: StatsSnapshot }) {
  const max = Math.max(1, ...stats.histogram.counts);
  return (
    <figure class="chart">
      <figcaption>Run time histogram (last 2 min)</figcaption>
      <ol class="histogram">
        {stats.histogram.counts.map((count, index) => {
          const upper = stats.histogram.upperMs[index]!;
          return (
            <li>
              <span class="bucket">{Number.isFinite(upper) ? `≤ ${formatMs(upper)}` : 'more'}</span>
              <span class="bar" style={{ width: `${(count / max) * 100}%` }} />
              <span class="count">{count}</span>
            </li>
          );
        })}
      </ol>
    </figure>
  );
}

function EnqueueSection() {
  const tasks = useLiveData(() => api<{ tasks: TaskInfo[] }>('GET', '/v1/tasks'), [], false);
  const [name, setName] = useState('');
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [message, setMessage] = useState<{ text: string; error: boolean; id?: string } | undefined>(
    undefined,
  );
  const task = tasks.data?.tasks.find((t) => t.name === name) ?? tasks.data?.tasks[0];

  const submit = async (payload: unknown) => {
    if (!task) return;
    setErrors([]);
    try {
      const job = await api<Job>('POST', '/v1/jobs', { task: task.name, payload });
      setMessage({ text: `Job ${job.id} enqueued.`, error: false, id: job.id });
    } catch (error) {
      setErrors((error as { errors?: FieldError[] }).errors ?? []);
      setMessage({ text: describeError(error), error: true });
    }
  };

  return (
    <section aria-labelledby="enqueue-heading">
      <h2 id="enqueue-heading">Enqueue a job</h2>
      {tasks.error && (
        <p class="error" role="alert">
          {tasks.error}
        </p>
      )}
      {tasks.data && tasks.data.tasks.length === 0 && (
        <p>No tasks are registered yet: start a worker with a task module.</p>
      )}
      {task && (
        <>
          <div class="field">
            <label for="task-select">Task</label>
            <select
              id="task-select"
              value={task.name}
              onChange={(e) => (
                setName((e.target as HTMLSelectElement).value),
                setErrors([]),
                setMessage(undefined)
              )}
            >
              {tasks.data!.tasks.map((t) => (
                <option value={t.name}>
                  {t.name} ({t.queue}, {t.mode})
                </option>
              ))}
            </select>
          </div>
          <PayloadForm
            key={task.name}
            schema={task.payloadSchema}
            example={task.example}
            errors={errors}
            onSubmit={submit}
          />
        </>
      )}
      {message && (
        <p class={message.error ? 'error' : 'ok'} role={message.error ? 'alert' : 'status'}>
          {message.text} {message.id && <a href={`#/jobs/${message.id}`}>Open job {message.id}</a>}
        </p>
      )}
    </section>
  );
}
