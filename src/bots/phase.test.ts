/**
 * Bots act once a period at a random point of it (bot.ts start): bots that enter together must
 * not act in step on the Timeslot grid, or a P2P run's mean delay holds one draw of the wait for
 * a window's end instead of its mean T_timeslot / 2 (docs/performance.md section 2).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Bot } from './bot.js';
import { enteredGuest, soloView } from './botKit.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

/** A bot at rate 2 (one action per 500 ms) that entered the meadow client-server at time 0. */
async function enteredBot(): Promise<{ bot: Bot; actions: () => number }> {
  const { bot, sock } = await enteredGuest({ rate: 2 }, soloView('meadow'), { transferThreshold: 0 });
  return { bot, actions: () => sock.sent.filter((m) => m.type === 'action').length };
}

describe('the bots act at a random point of each period', () => {
  it.each([
    [0.1, 550],
    [0.9, 950],
  ])('with the draw %s, the first action leaves %s ms after entering, not on the period', async (draw, at) => {
    vi.spyOn(Math, 'random').mockReturnValue(draw);
    const { bot, actions } = await enteredBot();
    await vi.advanceTimersByTimeAsync(at - 5);
    expect(actions()).toBe(0);
    await vi.advanceTimersByTimeAsync(10);
    expect(actions()).toBe(1);
    // Still one action a period.
    await vi.advanceTimersByTimeAsync(500);
    expect(actions()).toBe(2);
    bot.close();
  });

  it('stopping cancels an action drawn but not yet sent', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.9);
    const { bot, actions } = await enteredBot();
    await vi.advanceTimersByTimeAsync(600); // drawn at 500, due at 950
    bot.stop();
    await vi.advanceTimersByTimeAsync(2000);
    expect(actions()).toBe(0);
    bot.close();
  });
});
