import { useState } from 'preact/hooks';
import { api, describeError } from '../api.ts';
import { describeBulk, runBulk, type DeadLetter } from '../bulk.ts';
import { formatTime, useLiveData } from '../hooks.ts';

/** Jobs that failed for good, grouped by task and error, each group with a redrive (a bulk retry). */
export function DeadLettersView() {
  const groups = useLiveData(() => api<{ groups: DeadLetter[] }>('GET', '/v1/dead-letters'), []);
  const [message, setMessage] = useState<{ text: string; error: boolean } | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  const redrive = async (group: DeadLetter) => {
    if (!confirm(`Retry all ${group.count} failed jobs of ${group.task} (${label(group)})?`))
      return;
    setBusy(true);
    try {
      const end = await runBulk({ action: 'retry', filter: group.filter }, (bulk) =>
        setMessage({ text: describeBulk(bulk), error: false }),
      );
      setMessage({ text: describeBulk(end), error: end.state !== 'done' });
    } catch (error) {
      setMessage({ text: describeError(error), error: true });
    } finally {
      setBusy(false);
      groups.reload();
    }
  };

  return (
    <>
      <h1>Dead letters</h1>
      <p>
        Jobs that failed for good, grouped by task and error. Redrive a group to run its jobs again,
        each with a fresh attempt budget.
      </p>
      {message && (
        <p class={message.error ? 'error' : 'ok'} role={message.error ? 'alert' : 'status'}>
          {message.text}
        </p>
      )}
      {groups.error && (
        <p class="error" role="alert">
          {groups.error}
        </p>
      )}
      {groups.data && groups.data.groups.length === 0 && <p>No job has failed for good.</p>}
      {groups.data && groups.data.groups.length > 0 && (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Task</th>
                <th scope="col">Error</th>
                <th scope="col" class="num">
                  Jobs
                </th>
                <th scope="col">First</th>
                <th scope="col">Last</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {groups.data.groups.map((group) => (
                <tr
                  data-testid="dead-letter"
                  data-task={group.task}
                  data-code={group.errorCode ?? ''}
                >
                  <td>{group.task}</td>
                  <td>
                    {group.errorCode && <code>{group.errorCode}</code>} {group.errorMessage}
                  </td>
                  <td class="num">{group.count}</td>
                  <td>{formatTime(group.firstSeen)}</td>
                  <td>
                    <a href={`#/jobs/${group.lastJobId}`}>{formatTime(group.lastSeen)}</a>
                  </td>
                  <td>
                    <button type="button" disabled={busy} onClick={() => redrive(group)}>
                      Redrive
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function label(group: DeadLetter): string {
  return group.errorCode ?? group.errorMessage;
}
