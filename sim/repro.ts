/** ScenarioOptions → the `npm run sim -- ...` command line that reproduces the run. */
import { DEFAULTS, type ScenarioOptions } from './options.js';

const sec = (ms: number): string => String(Math.round(ms) === ms ? ms / 1000 : Math.round(ms * 1000) / 1e6);

export function toArgs(o: ScenarioOptions): string[] {
  const a: string[] = [];
  const put = (flag: string, v: number | undefined, d?: number): void => {
    if (v !== undefined && v !== d) a.push(flag, String(v));
  };
  put('--servers', o.servers);
  put('--users', o.users);
  a.push('--seconds', sec(o.duration));
  if (o.settle !== undefined) a.push('--settle', sec(o.settle));
  put('--seed', o.seed);
  put('--latency-su', o.latencySU);
  put('--latency-ss', o.latencySS);
  put('--link-spread', o.linkSpread, DEFAULTS.linkSpread);
  put('--jitter', o.jitter, DEFAULTS.jitter);
  put('--loss', o.loss, DEFAULTS.loss);
  put('--rate', o.rate, DEFAULTS.rate);
  put('--clock-offset', o.clockOffset, DEFAULTS.clockOffset);
  put('--timeslot', o.tTimeslot, DEFAULTS.tTimeslot);
  put('--timeout', o.tTimeout);
  put('--req-timeout', o.tReqTimeout);
  put('--ignore', o.tIgnore);
  put('--resend', o.tResend);
  put('--content', o.tContent);
  put('--spares', o.spares, DEFAULTS.spares);
  if (o.cheats.length > 0) {
    a.push(
      '--cheat',
      o.cheats.map((c) => [c.kind, c.count, ...(c.delta !== undefined ? [c.delta] : [])].join(':')).join(','),
    );
  }
  if (o.crashes.length > 0) {
    a.push(
      '--crash',
      o.crashes
        .map(
          (c) => `${c.server ?? c.count ?? 1}@${sec(c.at)}${c.until !== undefined ? `-${sec(c.until)}` : ''}`,
        )
        .join(','),
    );
  }
  if (o.partitions.length > 0) {
    a.push(
      '--partition',
      o.partitions.map((p) => `${p.side.join('+')}@${sec(p.start)}-${sec(p.end)}`).join(','),
    );
  }
  return a;
}

export function reproCommand(o: ScenarioOptions): string {
  return `npm run sim -- ${toArgs(o).join(' ')}`;
}
