import { describe, expect, it } from 'vitest';
import { InvalidSelectorError, matches, parseSelector } from '../../../../shared/adapters/kube/selector.js';

describe('label selector', () => {
  it.each([
    ['app.kubernetes.io/part-of=portal', { 'app.kubernetes.io/part-of': 'portal' }, true],
    ['app.kubernetes.io/part-of=portal', { 'app.kubernetes.io/part-of': 'mgmt' }, false],
    ['app==web', { app: 'web' }, true],
    ['app!=web', {}, true],
    ['app!=web', { app: 'web' }, false],
    ['tier in (front, back)', { tier: 'back' }, true],
    ['tier in (front,back)', { tier: 'db' }, false],
    ['tier notin (db)', {}, true],
    ['tier notin (db)', { tier: 'db' }, false],
    ['canary', { canary: '' }, true],
    ['!canary', { canary: 'x' }, false],
    ['app=web,tier in (a,b),!legacy', { app: 'web', tier: 'b' }, true],
    ['app=web,tier in (a,b),!legacy', { app: 'web', tier: 'b', legacy: 'y' }, false],
    ['app=', { app: '' }, true],
  ] as const)('%s against %j -> %s', (selector, labels, expected) => {
    // Prepare
    const requirements = parseSelector(selector);
    // Act
    const result = matches(requirements, labels);
    // Assess
    expect(result).toBe(expected);
  });

  it.each(['', '   ', 'a=b,', 'a=b c', 'bad key=x', 'a in (x y)'])('refuses %j', (selector) => {
    // Act + Assess
    expect(() => parseSelector(selector)).toThrow(InvalidSelectorError);
  });

  it('treats missing labels as an empty set', () => {
    // Prepare
    const r = parseSelector('app=web');
    // Act + Assess
    expect(matches(r, undefined)).toBe(false);
    expect(matches(parseSelector('!app'), undefined)).toBe(true);
  });
});
