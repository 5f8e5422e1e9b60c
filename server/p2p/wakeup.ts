/**
 * The admin's wake-up source for the Driver (src/net/p2p/driver.ts) that runs its P2P sites and
 * the manager's checks, as the hosts' Driver runs their core objects: one Node timer, unref'd so
 * that it never keeps a stopping process alive, and capped so that a far wake-up cannot overflow
 * setTimeout's 32-bit delay (the Driver just looks again).
 */
import type { Wakeup } from '../../src/net/p2p/driver.js';

const MAX_DELAY_MS = 60_000;

export function nodeWakeup(): Wakeup {
  let t: ReturnType<typeof setTimeout> | null = null;
  return {
    set(delayMs, cb) {
      if (t) clearTimeout(t);
      t = setTimeout(
        () => {
          t = null;
          cb();
        },
        Math.min(delayMs, MAX_DELAY_MS),
      );
      t.unref();
    },
    clear() {
      if (t) clearTimeout(t);
      t = null;
    },
  };
}
