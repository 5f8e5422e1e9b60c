/** Manual time and timers for tests of delayLink.ts and its users. */
import type { DelayEnv } from './delayLink.js';

/** Manual time: `advance` runs due timers in order, each at its own time (or `late` ms after). */
export function fakeDelayEnv(randoms: number[] = [], late = 0): DelayEnv & { advance(ms: number): void; t: number } {
  const timers: Array<{ at: number; cb: () => void; id: number }> = [];
  let id = 0;
  const env = {
    t: 0,
    now: () => env.t,
    random: () => randoms.shift() ?? 0.5,
    setTimer(ms: number, cb: () => void) {
      timers.push({ at: env.t + ms + late, cb, id: ++id });
      return id;
    },
    clearTimer(h: unknown) {
      const k = timers.findIndex((x) => x.id === h);
      if (k >= 0) timers.splice(k, 1);
    },
    advance(ms: number) {
      const end = env.t + ms;
      for (;;) {
        timers.sort((a, b) => a.at - b.at);
        const next = timers[0];
        if (!next || next.at > end) break;
        timers.shift();
        env.t = next.at;
        next.cb();
      }
      env.t = end;
    },
  };
  return env;
}
