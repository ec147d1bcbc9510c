/**
 * Circuit breaker for one carrier provider, per worker. After `threshold` failed calls in a row the
 * provider is left alone (open) for a cool-down; then one probe call is let through (half-open): its
 * success closes the breaker, its failure opens it again for twice as long (up to `maxCoolDownMs`).
 * A paused provider holds back only its own operations; they are re-scheduled for when it may close.
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

export class CircuitBreaker {
  state: BreakerState = 'closed';
  private failures = 0;
  private coolDownMs: number;
  private openUntil = 0;
  private probing = false;

  constructor(
    private readonly threshold = 5,
    private readonly baseCoolDownMs = 30_000,
    private readonly maxCoolDownMs = 600_000,
  ) {
    this.coolDownMs = baseCoolDownMs;
  }

  /** How many calls may go out now: all (closed), one probe (half-open) or none (open, or a probe out). */
  allowance(now: number): 'all' | 'one' | 'none' {
    if (this.state === 'open' && now >= this.openUntil) this.state = 'half-open';
    if (this.state === 'closed') return 'all';
    if (this.state === 'half-open' && !this.probing) {
      this.probing = true;
      return 'one';
    }
    return 'none';
  }

  /** When an open breaker lets a probe through. */
  retryAt(now: number): number {
    return this.state === 'open' ? this.openUntil : now + 1000;
  }

  /** The probe allowed was not sent after all (the budget or a carrier's pause held it): another may go. */
  probeNotSent(): void {
    this.probing = false;
  }

  success(): void {
    this.state = 'closed';
    this.failures = 0;
    this.probing = false;
    this.coolDownMs = this.baseCoolDownMs;
  }

  failure(now: number): void {
    this.failures++;
    if (this.state === 'half-open') {
      this.probing = false;
      this.coolDownMs = Math.min(this.maxCoolDownMs, this.coolDownMs * 2);
      this.open(now);
    } else if (this.failures >= this.threshold) {
      this.open(now);
    }
  }

  private open(now: number): void {
    this.state = 'open';
    this.openUntil = now + this.coolDownMs;
  }
}
