import { describe, expect, it } from 'vitest';
import type { Dir } from '../game/types.js';
import { KeyboardControls, MIN_GAP_MS, REPEAT_MS, TAP_TTL_MS, isTypingTarget } from './input.js';

function setup(active = true) {
  let clock = 0;
  const moves: Array<{ t: number; dir: Dir }> = [];
  const other: string[] = [];
  let accept = true;
  const c = new KeyboardControls(
    {
      move: (dir) => {
        if (!accept) return false;
        moves.push({ t: clock, dir });
        return true;
      },
      pickup: () => other.push('pickup'),
      portal: () => other.push('portal'),
      openChat: () => other.push('chat'),
    },
    { isActive: () => active, now: () => clock, timers: false },
  );
  const key = (k: string, repeat = false) => ({ key: k, repeat, preventDefault: () => undefined });
  const run = (ms: number) => {
    for (let i = 0; i < ms; i += 5) {
      clock += 5;
      c.tick();
    }
  };
  return { c, moves, other, key, run, setAccept: (v: boolean) => (accept = v), now: () => clock };
}

describe('KeyboardControls', () => {
  it('moves once per tap, immediately', () => {
    const t = setup();
    t.c.keyDown(t.key('ArrowRight'));
    t.c.keyUp(t.key('ArrowRight'));
    t.run(500);
    expect(t.moves).toEqual([{ t: 0, dir: 'right' }]);
  });

  it('repeats about 8 times a second while held, ignoring OS key repeat', () => {
    const t = setup();
    t.c.keyDown(t.key('d'));
    for (let i = 0; i < 20; i++) t.c.keyDown(t.key('d', true));
    t.run(1000);
    t.c.keyUp(t.key('d'));
    t.run(500);
    expect(t.moves.length).toBe(1 + Math.floor(1000 / REPEAT_MS));
    for (let i = 1; i < t.moves.length; i++)
      expect(t.moves[i]!.t - t.moves[i - 1]!.t).toBeGreaterThanOrEqual(REPEAT_MS);
  });

  it('spaces fast taps at least MIN_GAP_MS apart without losing them', () => {
    const t = setup();
    for (const k of ['ArrowUp', 'ArrowLeft', 'ArrowDown']) {
      t.c.keyDown(t.key(k));
      t.c.keyUp(t.key(k));
    }
    t.run(400);
    expect(t.moves.map((m) => m.dir)).toEqual(['up', 'left', 'down']);
    for (let i = 1; i < t.moves.length; i++)
      expect(t.moves[i]!.t - t.moves[i - 1]!.t).toBeGreaterThanOrEqual(MIN_GAP_MS);
  });

  it('drops taps that cannot be sent for a while', () => {
    const t = setup();
    t.setAccept(false);
    t.c.keyDown(t.key('w'));
    t.c.keyUp(t.key('w'));
    t.run(TAP_TTL_MS + 50);
    t.setAccept(true);
    t.run(200);
    expect(t.moves).toEqual([]);
  });

  it('maps space, E and Enter', () => {
    const t = setup();
    t.c.keyDown(t.key(' '));
    t.c.keyDown(t.key('e'));
    t.c.keyDown(t.key('Enter'));
    expect(t.other).toEqual(['pickup', 'portal', 'chat']);
  });

  it('ignores keys while inactive or typing', () => {
    const t = setup(false);
    t.c.keyDown(t.key('ArrowUp'));
    t.run(200);
    expect(t.moves).toEqual([]);
    const typing = setup();
    typing.c.keyDown({ ...typing.key('ArrowUp'), target: { tagName: 'INPUT' } as unknown as EventTarget });
    expect(typing.moves).toEqual([]);
    expect(isTypingTarget({ tagName: 'DIV' } as unknown as EventTarget)).toBe(false);
  });
});
