import { defineTask } from 'offload';
import { buildReport, type ReportInput } from './report.ts';

/** The same work as the inline endpoint, run by offload in a worker thread. */
export const report = defineTask({
  name: 'report',
  mode: 'thread',
  timeout: 60_000,
  example: { customer: 'acme', rounds: 600_000 },
  run: (input: ReportInput) => buildReport(input),
});
