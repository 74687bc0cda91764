import { createHash } from 'node:crypto';

/** What a report is built from. `rounds` sets the CPU cost: 600 000 is about a second on one core. */
export interface ReportInput {
  customer: string;
  rounds: number;
}

export interface Report {
  customer: string;
  rounds: number;
  digest: string;
  /** How often each first hex digit came up along the chain: something to show for the work. */
  histogram: number[];
}

/** Seconds of pure CPU: a chain of SHA-256 hashes. It never awaits, so it blocks whatever loop runs it. */
export function buildReport(input: ReportInput): Report {
  const histogram = new Array<number>(16).fill(0);
  let digest = createHash('sha256').update(input.customer).digest();
  for (let round = 0; round < input.rounds; round++) {
    digest = createHash('sha256').update(digest).digest();
    histogram[digest[0]! >> 4]!++;
  }
  return {
    customer: input.customer,
    rounds: input.rounds,
    digest: digest.toString('hex'),
    histogram,
  };
}
