import { api, type Job, type WorkerInfo } from '../api.ts';
import { formatTime, useLiveData } from '../hooks.ts';

export function WorkersView() {
  const workers = useLiveData(() => api<{ workers: WorkerInfo[] }>('GET', '/v1/workers'), []);
  const running = useLiveData(
    () => api<{ jobs: Job[] }>('GET', '/v1/jobs?state=running&limit=1000'),
    [],
  );
  return (
    <>
      <h1>Workers</h1>
      {workers.error && (
        <p class="error" role="alert">
          {workers.error}
        </p>
      )}
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Worker</th>
              <th scope="col">Host</th>
              <th scope="col" class="num">
                PID
              </th>
              <th scope="col">Modes</th>
              <th scope="col">Queues</th>
              <th scope="col" class="num">
                Running
              </th>
              <th scope="col">Started</th>
              <th scope="col">Last heartbeat</th>
            </tr>
          </thead>
          <tbody>
            {workers.data?.workers.map((worker) => {
              const jobs = running.data?.jobs.filter((job) => job.worker === worker.id) ?? [];
              return (
                <tr data-worker={worker.id}>
                  <th scope="row">
                    {worker.id}
                    {worker.alive ? '' : ' (silent)'}
                  </th>
                  <td>{worker.host}</td>
                  <td class="num">{worker.pid}</td>
                  <td>{worker.modes.join(', ')}</td>
                  <td>{worker.queues.join(', ')}</td>
                  <td class="num">
                    {worker.running}
                    {jobs.length > 0 && ' '}
                    {jobs.slice(0, 5).map((job) => (
                      <a href={`#/jobs/${job.id}`} class="chip">
                        {job.id}
                      </a>
                    ))}
                  </td>
                  <td>{formatTime(worker.startedAt)}</td>
                  <td>{formatTime(worker.lastHeartbeat)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {workers.data && workers.data.workers.length === 0 && (
        <p>No worker has checked in during the last minutes.</p>
      )}
    </>
  );
}
