import { describe, expect, it } from 'vitest';
import { applyAction, cleanSayText, createSite, MAX_SAY_LENGTH, newUser } from './index.js';

describe('say text cleaning', () => {
  it('drops control characters and collapses whitespace', () => {
    expect(cleanSayText('  hello\u0000\u0007  world\t\n!  ')).toBe('hello world !');
    expect(cleanSayText('a\u009fb\u007fc')).toBe('a b c');
    expect(cleanSayText('line1\r\nline2')).toBe('line1 line2');
  });

  it(`caps the text at ${MAX_SAY_LENGTH} code points without splitting a surrogate pair`, () => {
    const long = '😀'.repeat(MAX_SAY_LENGTH + 10);
    const cleaned = cleanSayText(long);
    expect(Array.from(cleaned)).toHaveLength(MAX_SAY_LENGTH);
    expect(cleaned).toBe('😀'.repeat(MAX_SAY_LENGTH));
  });

  it('keeps ordinary text as it is', () => {
    expect(cleanSayText('Hi, Bob! Où est la gare? 駅')).toBe('Hi, Bob! Où est la gare? 駅');
  });

  it('a say that cleans to nothing is rejected; otherwise the cleaned text is said', () => {
    let snap = createSite('meadow');
    snap = applyAction(snap, 'ann', { kind: 'join', user: newUser('ann', 'meadow') }).snapshot;
    expect(applyAction(snap, 'ann', { kind: 'say', text: ' \u0000\t ' }).events).toContainEqual({
      kind: 'rejected',
      user: 'ann',
      action: 'say',
      reason: 'empty-text',
    });
    expect(applyAction(snap, 'ann', { kind: 'say', text: ' hi\u0000 there ' }).events).toContainEqual({
      kind: 'said',
      user: 'ann',
      text: 'hi there',
    });
  });
});
