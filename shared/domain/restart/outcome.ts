/** How one workload's restart ended, as the restart worker reports it. */
export const WorkloadResult = {
  Restarted: 'restarted',
  Unchanged: 'unchanged',
  Missing: 'missing',
  Failed: 'failed',
  TimedOut: 'timed-out',
} as const;
export type WorkloadResult = (typeof WorkloadResult)[keyof typeof WorkloadResult];

export interface WorkloadOutcome {
  readonly id: string;
  readonly result: WorkloadResult;
  readonly message: string;
}

export const isBadOutcome = (o: WorkloadOutcome): boolean => o.result === WorkloadResult.Failed || o.result === WorkloadResult.TimedOut;
