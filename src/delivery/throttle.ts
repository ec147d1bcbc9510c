/**
 * How hard this process may push one issuer's endpoint: a concurrency limit and, once the endpoint has
 * pushed back, a request rate. Both follow AIMD, as TCP does: halve on trouble (429, 502, 503, 504), add
 * one on each success, never below one. The rate limit is lifted once it has grown back to the rate the
 * endpoint was getting before the trouble began.
 */
export class EndpointThrottle {
  limit: number;
  /** Requests per second, or undefined while the endpoint has not complained. */
  rate: number | undefined;
  inFlight = 0;
  private rateCeiling = 0;
  private nextStartAt = 0;
  private readonly recentStarts: number[] = [];

  constructor(
    readonly maxConcurrency: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.limit = maxConcurrency;
  }

  /** Sends that may start now. */
  available(): number {
    const free = Math.max(0, this.limit - this.inFlight);
    if (this.rate === undefined || free === 0) return free;
    return this.now() >= this.nextStartAt ? 1 : 0;
  }

  /** Milliseconds until the rate allows the next send (0 when it already does). */
  waitMs(): number {
    return this.rate === undefined ? 0 : Math.max(0, Math.ceil(this.nextStartAt - this.now()));
  }

  started(): void {
    this.inFlight++;
    const t = this.now();
    this.recentStarts.push(t);
    while (this.recentStarts.length > 0 && this.recentStarts[0] < t - 1000) this.recentStarts.shift();
    if (this.rate !== undefined) this.nextStartAt = Math.max(this.nextStartAt, t) + 1000 / this.rate;
  }

  finished(outcome: 'success' | 'trouble' | 'other'): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (outcome === 'trouble') {
      this.limit = Math.max(1, Math.floor(this.limit / 2));
      if (this.rate === undefined) {
        this.rateCeiling = Math.max(2, this.recentStarts.length);
        this.rate = Math.max(1, this.rateCeiling / 2);
      } else {
        this.rate = Math.max(1, this.rate / 2);
      }
    } else if (outcome === 'success') {
      this.limit = Math.min(this.maxConcurrency, this.limit + 1);
      if (this.rate !== undefined) {
        this.rate += 1;
        if (this.rate >= this.rateCeiling) this.rate = undefined;
      }
    }
  }
}

/** Statuses that mean "slow down" rather than "this notification is wrong". */
export function isSlowDown(status: number | undefined): boolean {
  return status === 429 || status === 502 || status === 503 || status === 504;
}
