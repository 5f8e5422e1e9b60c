/**
 * `npx tsx bench/live/profileWindow.ts FILE.cpuprofile [--from S] [--to S] [--top 30] [--inclusive a,b] [--callers NAME --depth 4]`:
 * a V8 CPU profile's samples between S and S seconds after the profile's start (the process's
 * start, under `node --cpu-prof`), as self time per function (file:line) and share of the busy
 * samples (idle left out), plus the inclusive time of the named functions (any frame of that name
 * on the stack) and the stacks that lead to a function's own samples (`--callers`). Used on the bot processes that `threads.ts --prof DIR` profiles.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      from: { type: 'string', default: '0' },
      to: { type: 'string', default: '1e9' },
      top: { type: 'string', default: '30' },
      inclusive: { type: 'string', default: '' },
      callers: { type: 'string', default: '' },
      depth: { type: 'string', default: '4' },
    },
  });
  const file = positionals[0];
  if (!file) throw new Error('usage: profileWindow.ts FILE.cpuprofile [--from S] [--to S]');
  const from = Number(values.from) * 1e6;
  const to = Number(values.to) * 1e6;
  const top = Number(values.top);
  const wanted = values.inclusive.split(',').filter((x) => x !== '');
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (n: ProfileNode): string => {
    const f = n.callFrame;
    return f.url
      ? `${f.functionName || '(anonymous)'} ${basename(f.url)}:${f.lineNumber + 1}`
      : f.functionName;
  };
  const self = new Map<string, number>();
  const incl = new Map<string, number>(wanted.map((w) => [w, 0]));
  /** Stacks (up to --depth frames above it) of the samples whose own frame is --callers. */
  const stacks = new Map<string, number>();
  const depth = Number(values.depth);
  let t = 0;
  let busy = 0;
  let idle = 0;
  let first = Infinity;
  let last = -Infinity;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    // A sample's weight is the gap to the next one (the sampling interval, or longer when late).
    const w = p.timeDeltas[i + 1] ?? 0;
    if (t < from || t > to) continue;
    first = Math.min(first, t);
    last = Math.max(last, t);
    const n = byId.get(p.samples[i] ?? -1);
    if (!n) continue;
    if (n.callFrame.functionName === '(idle)') {
      idle += w;
      continue;
    }
    busy += w;
    const l = label(n);
    self.set(l, (self.get(l) ?? 0) + w);
    if (values.callers !== '' && n.callFrame.functionName === values.callers) {
      const chain: string[] = [];
      for (let id = parent.get(n.id); id !== undefined && chain.length < depth; id = parent.get(id)) {
        const q = byId.get(id);
        if (q) chain.push(label(q));
      }
      const k = chain.join(' < ');
      stacks.set(k, (stacks.get(k) ?? 0) + w);
    }
    if (wanted.length > 0) {
      const seen = new Set<string>();
      for (let id: number | undefined = n.id; id !== undefined; id = parent.get(id)) {
        const name = byId.get(id)?.callFrame.functionName ?? '';
        if (incl.has(name) && !seen.has(name)) {
          seen.add(name);
          incl.set(name, (incl.get(name) ?? 0) + w);
        }
      }
    }
  }
  const span = (last - first) / 1e6;
  console.log(
    `${basename(file)}: ${(first / 1e6).toFixed(1)}-${(last / 1e6).toFixed(1)} s, main thread busy ${((100 * busy) / (busy + idle)).toFixed(1)} % (${(busy / 1e3 / span).toFixed(1)} ms/s)`,
  );
  console.log('self time, share of busy samples, ms/s:');
  for (const [l, w] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(
      `  ${((100 * w) / busy).toFixed(1).padStart(5)} %  ${(w / 1e3 / span).toFixed(2).padStart(6)}  ${l}`,
    );
  if (wanted.length > 0) {
    console.log('inclusive:');
    for (const [l, w] of incl)
      console.log(
        `  ${((100 * w) / busy).toFixed(1).padStart(5)} %  ${(w / 1e3 / span).toFixed(2).padStart(6)}  ${l}`,
      );
  }
  if (stacks.size > 0) {
    console.log(`${values.callers} called from:`);
    for (const [k, w] of [...stacks].sort((a, b) => b[1] - a[1]).slice(0, top))
      console.log(
        `  ${((100 * w) / busy).toFixed(1).padStart(5)} %  ${(w / 1e3 / span).toFixed(2).padStart(6)}  ${k}`,
      );
  }
}

main();
