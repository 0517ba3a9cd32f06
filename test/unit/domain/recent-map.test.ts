import { describe, expect, it } from 'vitest';
import { RecentMap } from '../../../shared/domain/recent-map.js';

describe('RecentMap', () => {
  it('forgets the least recently read or written key once it holds more than its size', () => {
    // Prepare
    const map = new RecentMap<string, number>(3);
    map.set('a', 1);
    map.set('b', 2);
    map.set('c', 3);
    // Act: a read of a and a write of b make c the oldest
    expect(map.get('a')).toBe(1);
    map.set('b', 20);
    map.set('d', 4);
    // Assess
    expect(map.size).toBe(3);
    expect(map.has('c')).toBe(false);
    expect([map.get('a'), map.get('b'), map.get('d')]).toEqual([1, 20, 4]);
  });

  it('keeps undefined as a value (a known miss), distinct from a key it does not hold', () => {
    // Prepare
    const map = new RecentMap<string, number | undefined>(2);
    // Act
    map.set('missing', undefined);
    // Assess
    expect(map.has('missing')).toBe(true);
    expect(map.get('missing')).toBeUndefined();
    expect(map.has('other')).toBe(false);
    expect(map.delete('missing')).toBe(true);
    expect(map.has('missing')).toBe(false);
  });

  it('refuses a size below one', () => {
    expect(() => new RecentMap(0)).toThrow('at least one key, not 0');
  });
});
