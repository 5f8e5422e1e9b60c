/**
 * `npx tsx bench/live/threads.ts [--bots 60] [--mode p2p|cs] [--seconds 15] [--warmup 8] [--per-process 40] [--prof DIR]`:
 * where the players' CPU goes, by thread, in the offload section's layout (`spread`: the bots
 * over the six sites, all volunteering, threshold 3, N_server 3, T_timeslot 100 ms; the bots' own
 * CLI, 40 a process, or `--per-process K`). Once every bot is in and (P2P) all six sites are P2P, plus the warm-up, it
 * reads every thread of every bot process from /proc over the window: CPU (user + system) and
 * context switches (voluntary: the thread slept and was woken; involuntary: preempted), per
 * process and thread kind (Node's main thread, V8's workers, libuv's pool, libdatachannel's
 * workers, its SCTP timer, libjuice's ICE poller...), per second and per player-second. Why: the
 * offload section gives one figure for every thread of the bots; this says which part of it is
 * JavaScript (the main thread) and which the transport's threads, and how many wake-ups each costs.
 * `--prof DIR`: the bot processes also run with `--cpu-prof` (profiles written to DIR when they
 * exit; `profileWindow.ts` reads the window's share of them, printed here as seconds since each
 * process's start). `--env K=V` (repeatable): passed to the bots (A/B switches such as MMO_SCTP_SACK_MS).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { p2pSites, parseAdminView, playersOnline } from './admin.js';
import { sleep, startAdmin, startBots } from './proc.js';
import { intArg } from './args.js';

interface ThreadSample {
  pid: number;
  tid: number;
  name: string;
  cpuMs: number;
  /** Of which in the kernel (system time): syscalls, and on loopback the receiver's network stack too. */
  sysMs: number;
  voluntary: number;
  involuntary: number;
}

/** The thread's kind: digits at the end folded, so a pool's threads add up under one name. */
const kind = (comm: string): string => comm.replace(/[0-9]+$/, '#').trim();

/** Open sockets of `pid` (each data channel's ICE agent has a UDP socket; each bot a WebSocket). */
function sockets(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).filter((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:');
      } catch {
        return false;
      }
    }).length;
  } catch {
    return 0;
  }
}

/** Every thread of `pid` and its descendants (the bots' CLI forks its groups). */
function sampleTree(root: number): ThreadSample[] {
  const parents = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      parents.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const pids = new Set([root]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, ppid] of parents) {
      if (pids.has(ppid) && !pids.has(pid)) {
        pids.add(pid);
        grew = true;
      }
    }
  }
  const out: ThreadSample[] = [];
  for (const pid of pids) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const t of tids) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
        const status = readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const num = (re: RegExp): number => Number(re.exec(status)?.[1] ?? NaN);
        out.push({
          pid,
          tid: Number(t),
          name: Number(t) === pid ? 'main' : kind(stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))),
          cpuMs: (Number(f[11]) + Number(f[12])) * 10,
          sysMs: Number(f[12]) * 10,
          voluntary: num(/voluntary_ctxt_switches:\s+(\d+)/),
          involuntary: num(/nonvoluntary_ctxt_switches:\s+(\d+)/),
        });
      } catch {
        // the thread ended meanwhile
      }
    }
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      bots: { type: 'string', default: '60' },
      mode: { type: 'string', default: 'p2p' },
      seconds: { type: 'string', default: '15' },
      warmup: { type: 'string', default: '8' },
      prof: { type: 'string' },
      'per-process': { type: 'string', default: '40' },
      env: { type: 'string', multiple: true },
    },
  });
  const bots = intArg(values.bots, 4, 200);
  const seconds = intArg(values.seconds, 1, 600);
  const warmup = intArg(values.warmup, 0, 600);
  const perProcess = intArg(values['per-process'], 1, 200);
  if (values.mode !== 'p2p' && values.mode !== 'cs') throw new Error('--mode p2p|cs');
  const p2p = values.mode === 'p2p';
  for (const kv of values.env ?? []) {
    const m = /^(MMO_[A-Z0-9_]+)=(.*)$/.exec(kv);
    if (!m) throw new Error(`--env MMO_NAME=value, got ${kv}`);
    process.env[m[1]!] = m[2]!;
  }
  const admin = await startAdmin({ nServer: 3, threshold: p2p ? 3 : 0, T_timeslot: 100 });
  const started = performance.now();
  const run = startBots(
    [
      '--count',
      String(bots),
      '--url',
      `${admin.url}/`,
      '--rate',
      '2',
      '--site',
      'all',
      '--warmup',
      '0',
      '--per-process',
      String(perProcess),
    ],
    `threads-${values.mode}`,
    values.prof ? ['--cpu-prof', `--cpu-prof-dir=${values.prof}`] : [],
  );
  try {
    const until = performance.now() + 120_000;
    for (;;) {
      const v = parseAdminView((await admin.view()).json);
      if (playersOnline(v) >= bots && (!p2p || p2pSites(v).length >= 6)) break;
      if (performance.now() > until || !run.running())
        throw new Error(
          `not ready: ${playersOnline(v)} players, ${p2pSites(v).length} P2P sites\n${run.output()}`,
        );
      await sleep(250);
    }
    await sleep(warmup * 1000);
    const a = sampleTree(run.pid);
    const t0 = performance.now();
    await sleep(seconds * 1000);
    const b = sampleTree(run.pid);
    const s = (performance.now() - t0) / 1000;
    const v = parseAdminView((await admin.view()).json);
    // Active members of the sites' records; the others (replaced, ignored, gone) say the sites changed servers.
    const members = v.sites.flatMap((site) => site.servers ?? []);
    const serving = members.filter((m) => m.state === 'active').length;
    const before = new Map(a.map((x) => [x.tid, x]));
    const rows = new Map<string, { cpu: number; sys: number; vol: number; invol: number; threads: number }>();
    for (const x of b) {
      const y = before.get(x.tid);
      if (!y) continue; // a thread born in the window: left out (its start is not known)
      const k = `${x.pid === run.pid ? 'parent' : `child ${x.pid}`} | ${x.name}`;
      const r = rows.get(k) ?? { cpu: 0, sys: 0, vol: 0, invol: 0, threads: 0 };
      r.cpu += x.cpuMs - y.cpuMs;
      r.sys += x.sysMs - y.sysMs;
      r.vol += x.voluntary - y.voluntary;
      r.invol += x.involuntary - y.involuntary;
      r.threads++;
      rows.set(k, r);
    }
    const total = [...rows.values()].reduce((n, r) => n + r.cpu, 0);
    const kinds = new Map<string, { cpu: number; sys: number; vol: number }>();
    for (const [k, r] of rows) {
      const name = k.split(' | ')[1] ?? k;
      const q = kinds.get(name) ?? { cpu: 0, sys: 0, vol: 0 };
      q.cpu += r.cpu;
      q.sys += r.sys;
      q.vol += r.vol;
      kinds.set(name, q);
    }
    console.log(
      `${bots} bots, ${values.mode}, ${playersOnline(v)} online, ${p2pSites(v).length} P2P sites, ${serving} serving (${members.length - serving} more members replaced, ignored or gone); ` +
        `window ${s.toFixed(1)} s from ${((t0 - started) / 1000).toFixed(1)} s after the bots' start; load average ${loadavg()
          .map((x) => x.toFixed(2))
          .join(' ')}`,
    );
    console.log(
      `bots' CPU ${(total / s).toFixed(1)} ms/s, ${(total / s / bots).toFixed(2)} ms per player-second`,
    );
    const pids = [...new Set(b.map((x) => x.pid))];
    console.log(
      `sockets open at the end: ${pids.map((p) => `${p === run.pid ? 'parent' : `child ${p}`} ${sockets(p)}`).join(', ')}`,
    );
    console.log(
      'process | thread kind: threads, CPU ms/s (of which system), voluntary / involuntary switches per s',
    );
    for (const [k, r] of [...rows].sort((x, y) => y[1].cpu - x[1].cpu)) {
      if (r.cpu === 0 && r.vol === 0) continue;
      console.log(
        `  ${k}: ${r.threads}, ${(r.cpu / s).toFixed(1)} (${(r.sys / s).toFixed(1)}), ${(r.vol / s).toFixed(0)} / ${(r.invol / s).toFixed(0)}`,
      );
    }
    console.log('all processes, by thread kind: CPU ms/s (share; of which system), voluntary switches per s');
    for (const [k, r] of [...kinds].sort((x, y) => y[1].cpu - x[1].cpu)) {
      if (r.cpu === 0 && r.vol === 0) continue;
      console.log(
        `  ${k}: ${(r.cpu / s).toFixed(1)} (${((100 * r.cpu) / total).toFixed(1)} %; ${(r.sys / s).toFixed(1)}), ${(r.vol / s).toFixed(0)}`,
      );
    }
    if (values.prof)
      console.log(
        `profiles: ${values.prof}; window ${((t0 - started) / 1000).toFixed(1)}-${((t0 - started) / 1000 + s).toFixed(1)} s after the bots' start`,
      );
  } finally {
    run.stop();
    await run.done.catch(() => undefined);
    await admin.stop();
  }
}

main().then(
  () => setTimeout(() => process.exit(0), 100),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
