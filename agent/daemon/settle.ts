// When the next automatic snapshot is due, from the hints so far. Pure: times in, time out.

export interface SettleConfig {
  /** Quiet time after the last change (ms). */
  settle: number;
  /** Latest time after the first change (ms), however busy the machine stays. */
  maxDelay: number;
  /** Never two automatic snapshots closer than this (ms). */
  minInterval: number;
}

export interface SettleState {
  firstHint?: number;
  lastHint?: number;
  lastSnapshot?: number;
}

/** The time the snapshot is due, or undefined when nothing is waiting. */
export function dueAt(s: SettleState, c: SettleConfig): number | undefined {
  if (s.firstHint === undefined || s.lastHint === undefined) return undefined;
  const settled = Math.min(s.lastHint + c.settle, s.firstHint + c.maxDelay);
  return Math.max(settled, (s.lastSnapshot ?? -Infinity) + c.minInterval);
}
