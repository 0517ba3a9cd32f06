import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../../../shared/app/api/rate-limit.js';

describe('RateLimiter', () => {
  it('refuses a client past its burst, refills it over time, and forgets the least recently seen client first', () => {
    // Prepare
    const limiter = new RateLimiter({ perSecond: 1, burst: 2, maxClients: 2 });
    // Act
    const a = [limiter.take('a', 0), limiter.take('a', 0), limiter.take('a', 0)];
    const aLater = limiter.take('a', 1000);
    limiter.take('b', 1000);
    limiter.take('c', 1000); // a is now the least recently seen of three: forgotten
    const aForgotten = [limiter.take('a', 1000), limiter.take('a', 1000)];
    // Assess
    expect(a).toEqual([0, 0, 1]);
    expect(aLater).toBe(0);
    expect(aForgotten).toEqual([0, 0]);
  });
});
