/**
 * `npx tsx bench/live/wake.ts [--wakeup timeout|immediate] [--seconds 15] [--busy 0.5]`: how late
 * the Driver ticks a core that wants a wake-up at every 100 ms grid point (a Site Server's
 * Timeslots), and the process CPU meanwhile. `timeout` is the bots' wake-up source
 * (`timeoutWakeup`): a Node timer fires up to 1 ms early (libuv's loop time is stale while
 * JavaScript runs) and the rest, re-armed, is rounded up to 1 ms. `immediate` spins on
 * setImmediate for a rest under 1 ms (not used anywhere: it trades CPU for that millisecond).
 * `--busy MS`: a job of that many ms every 7 ms on the same loop, like a serving bot's frames.
 */
import { parseArgs } from 'node:util';
import { Driver, timeoutWakeup, type Wakeup } from '../../src/net/p2p/driver.js';

function immediateWakeup(): Wakeup {
  let t: ReturnType<typeof setTimeout> | null = null;
  let i: ReturnType<typeof setImmediate> | null = null;
  const clear = (): void => {
    if (t) clearTimeout(t);
    if (i) clearImmediate(i);
    t = i = null;
  };
  return {
    set(ms, cb) {
      clear();
      if (ms < 1) i = setImmediate(() => ((i = null), cb()));
      else t = setTimeout(() => ((t = null), cb()), ms);
    },
    clear,
  };
}

const { values } = parseArgs({
  options: {
    wakeup: { type: 'string', default: 'timeout' },
    seconds: { type: 'string', default: '15' },
    busy: { type: 'string', default: '0.5' },
  },
});
const seconds = Number(values.seconds);
const busyMs = Number(values.busy);
if (!(seconds > 0 && seconds <= 600) || !(busyMs >= 0 && busyMs < 7) || !['timeout', 'immediate'].includes(values.wakeup ?? ''))
  throw new Error('usage: --wakeup timeout|immediate --seconds 1..600 --busy 0..7');

const T = 100;
const late: number[] = [];
let next = Math.ceil(performance.now() / T + 1) * T;
const grid = {
  nextWakeAt: () => next,
  tick() {
    const now = performance.now();
    late.push(now - next);
    next = (Math.floor(now / T) + 1) * T;
  },
};
const driver = new Driver(values.wakeup === 'immediate' ? immediateWakeup() : timeoutWakeup());
const busy = setInterval(() => {
  const end = performance.now() + busyMs;
  while (performance.now() < end);
}, 7);
const cpu0 = process.cpuUsage();
driver.add(grid, () => performance.now());
setTimeout(() => {
  clearInterval(busy);
  const cpu = process.cpuUsage(cpu0);
  const s = [...late].sort((a, b) => a - b);
  const q = (p: number): string => (s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? NaN).toFixed(2);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  console.log(
    `${values.wakeup}: ${s.length} grid points, tick after the grid point mean ${mean.toFixed(2)} ms, p50 ${q(0.5)}, p90 ${q(0.9)}; process CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms in ${seconds} s; Driver runs ${driver.ticks}`,
  );
  process.exit(0);
}, seconds * 1000);
