import { describe, expect, it } from 'vitest';
import { rolloutsInFlight } from '../../../../shared/domain/restart/pace.js';

describe('rollouts in flight per restart request', () => {
  it.each([
    [1, undefined, 4],
    [4, undefined, 4],
    [16, undefined, 4],
    [17, undefined, 5],
    [100, undefined, 25],
    [1000, undefined, 250],
    [1000, 10, 10],
    [3, 0, 1],
  ])('%i consumers, budget %s: %i at once', (consumers, budget, want) => {
    // Act + Assess
    expect(rolloutsInFlight(consumers, budget)).toBe(want);
  });
});
