import { defined } from './defined.js';

/**
 * A Map that keeps at most `max` keys, forgetting the least recently read or written first (Map keeps insertion
 * order, so a key read or written is moved to the end).
 */
export class RecentMap<K, V> {
  private readonly map = new Map<K, V>();

  constructor(private readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new Error(`a RecentMap keeps at least one key, not ${max}`);
  }

  get size(): number {
    return this.map.size;
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  /** The value, marked as recently used. */
  get(key: K): V | undefined {
    if (!this.map.has(key)) return undefined;
    const value = this.map.get(key) as V;
    this.map.delete(key);
    this.map.set(key, value);
    return value;
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.max) this.map.delete(defined(this.map.keys().next().value));
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }
}
