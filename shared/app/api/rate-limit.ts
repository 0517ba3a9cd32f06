import { RecentMap } from '../../domain/recent-map.js';

/** A token bucket per client: `burst` requests at once, refilled at `perSecond`. */
export interface RateLimitOptions {
  readonly perSecond: number;
  readonly burst: number;
  /** Clients remembered at most; the least recently seen is forgotten first. */
  readonly maxClients?: number;
}

export class RateLimiter {
  private readonly buckets: RecentMap<string, { tokens: number; at: number }>;

  constructor(private readonly options: RateLimitOptions) {
    this.buckets = new RecentMap(options.maxClients ?? 10_000);
  }

  /** 0 when the request may go ahead; otherwise the seconds to wait (Retry-After). */
  take(client: string, nowMs: number): number {
    const { perSecond, burst } = this.options;
    const b = this.buckets.get(client) ?? { tokens: burst, at: nowMs };
    b.tokens = Math.min(burst, b.tokens + ((nowMs - b.at) / 1000) * perSecond);
    b.at = nowMs;
    let wait = 0;
    if (b.tokens >= 1) b.tokens -= 1;
    else wait = Math.max(1, Math.ceil((1 - b.tokens) / perSecond));
    this.buckets.set(client, b);
    return wait;
  }
}
