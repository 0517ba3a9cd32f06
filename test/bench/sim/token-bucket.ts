/**
 * A token bucket on a caller's clock: `rate` tokens per second, at most `burst` kept. Secrets Manager's write quota
 * and a cluster's API rate are both modelled with it.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly rate: number,
    readonly burst: number,
    private readonly nowMs: () => number,
  ) {
    this.tokens = burst;
    this.last = nowMs();
  }

  private refill(): void {
    const now = this.nowMs();
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
      this.last = now;
    }
  }

  /** Takes a token if one is there (the server-side check: refuse when empty). */
  tryTake(): boolean {
    this.refill();
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }

  /**
   * Reserves a token now and says how long to wait before using it (the client-side limiter: wait instead of
   * failing). Reservations queue up in order, so the bucket may go negative.
   */
  reserve(): number {
    this.refill();
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.rate) * 1000);
  }

  /** Tokens left now (may be negative while reservations wait). */
  available(): number {
    this.refill();
    return this.tokens;
  }
}
