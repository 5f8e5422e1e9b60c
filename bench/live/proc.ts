/**
 * Child processes of `npm run bench:live`: the real Administration Server (`server/main.ts`) on a
 * free port with a fresh database, and bot groups (`src/bots/cli.ts --json`). Each is its own
 * process so the admin's CPU is not mixed with the bots', and each is stopped by its pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { freePort } from './freePort.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ADMIN_TOKEN = 'bench-live-operator-token-of-32-chars';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A /proc/PID/stat line: parent pid and CPU time (user, system, ms); null if it does not parse. */
export function parseProcStat(stat: string): { ppid: number; user: number; system: number } | null {
  // Fields after the command name (which may contain spaces), in clock ticks (100 per second here).
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ppid = Number(rest[1]);
  const user = Number(rest[11]);
  const system = Number(rest[12]);
  if (!Number.isInteger(ppid) || !Number.isFinite(user) || !Number.isFinite(system)) return null;
  return { ppid, user: user * 10, system: system * 10 };
}

/** CPU time (user, system, ms) of a live process from /proc (Linux); null elsewhere or once it is gone. */
export function procCpuMs(pid: number): { user: number; system: number } | null {
  try {
    const p = parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    return p ? { user: p.user, system: p.system } : null;
  } catch {
    return null;
  }
}

type ProcCpu = { ppid: number; user: number; system: number };

/** CPU ms (user + system) of the processes `roots` and every descendant of theirs in `procs`. */
export function treeCpuMs(roots: readonly number[], procs: ReadonlyMap<number, ProcCpu>): number {
  const children = new Map<number, number[]>();
  for (const [pid, p] of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), pid]);
  const seen = new Set<number>();
  const todo = [...roots];
  let ms = 0;
  for (let pid = todo.pop(); pid !== undefined; pid = todo.pop()) {
    if (seen.has(pid)) continue;
    seen.add(pid);
    const p = procs.get(pid);
    if (p) ms += p.user + p.system;
    todo.push(...(children.get(pid) ?? []));
  }
  return ms;
}

/**
 * CPU ms of the live processes `roots` and all their descendants (a bot group forks a child per
 * 40 bots), read from /proc; NaN without /proc. A process that exits meanwhile drops out.
 */
export function procTreeCpuMs(roots: readonly number[]): number {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return NaN;
  }
  const procs = new Map<number, ProcCpu>();
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const p = parseProcStat(readFileSync(`/proc/${name}/stat`, 'utf8'));
      if (p) procs.set(Number(name), p);
    } catch {
      // gone meanwhile
    }
  }
  return treeCpuMs(roots, procs);
}

/** The last `max` characters a child wrote, for error messages. */
function tail(child: ChildProcess, max = 4000): () => string {
  let text = '';
  const keep = (d: Buffer): void => {
    text = (text + d.toString()).slice(-max);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => text;
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

export interface AdminSettings {
  nServer: number;
  /** Users at which a site goes P2P; 0 keeps every site client-server. */
  threshold: number;
  T_timeslot: number;
}

export interface RunningAdmin {
  url: string;
  pid: number;
  settings: AdminSettings;
  /** GET /api/admin as parsed JSON, and the size of its body (it adds to the admin's bytes out). */
  view(): Promise<{ json: unknown; bodyBytes: number }>;
  output(): string;
  stop(): Promise<void>;
}

/** Starts `server/main.ts` and resolves once `/api/sites` answers. */
export async function startAdmin(settings: AdminSettings): Promise<RunningAdmin> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'mmo-bench-live-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      MMO_DB: join(dir, 'bench.db'),
      MMO_ADMIN_TOKEN: ADMIN_TOKEN,
      MMO_N_SERVER: String(settings.nServer),
      MMO_TRANSFER_THRESHOLD: String(settings.threshold),
      MMO_T_TIMESLOT_MS: String(settings.T_timeslot),
      // Every bot is a guest from 127.0.0.1, and each sends up to a few actions a second.
      MMO_GUEST_BURST: '1000',
      MMO_GUEST_RATE: '1000',
      MMO_MAX_CONNECTIONS_PER_IP: '1000',
      // A loaded 2-core machine answers slowly; a slow peer is still the peer we measure.
      MMO_MAX_SERVER_RTT_MS: '5000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = tail(child);
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited(child);
    rmSync(dir, { recursive: true, force: true });
  };
  const until = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`admin exited (${child.exitCode}):\n${output()}`);
    try {
      if ((await fetch(`${url}/api/sites`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > until) {
      await stop();
      throw new Error(`admin did not come up:\n${output()}`);
    }
    await sleep(200);
  }
  return {
    url,
    pid: child.pid ?? -1,
    settings,
    async view() {
      const r = await fetch(`${url}/api/admin`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      if (!r.ok) throw new Error(`/api/admin answered ${r.status}`);
      const body = Buffer.from(await r.arrayBuffer());
      return { json: JSON.parse(body.toString('utf8')) as unknown, bodyBytes: body.length };
    },
    output,
    stop,
  };
}

export interface BotRun {
  pid: number;
  /** Resolves with the parsed `--json` file once the process has exited. */
  done: Promise<unknown>;
  /** SIGTERM: the bots write their JSON and exit. */
  stop(): void;
  running(): boolean;
  output(): string;
}

/**
 * Starts one `src/bots/cli.ts` process with `args` (without --json, added here); `nodeArgs` go to
 * Node before the script (e.g. `--cpu-prof`, which NODE_OPTIONS refuses; the groups it forks inherit them).
 */
export function startBots(args: readonly string[], label: string, nodeArgs: readonly string[] = []): BotRun {
  const dir = mkdtempSync(join(tmpdir(), 'mmo-bench-bots-'));
  const file = join(dir, `${label}.json`);
  const child = spawn(
    process.execPath,
    [...nodeArgs, '--import', 'tsx', 'src/bots/cli.ts', ...args, '--json', file],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const output = tail(child);
  const done = exited(child).then((code) => {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as unknown;
    } catch (e) {
      throw new Error(`bots ${label} (exit ${code}) wrote no JSON (${(e as Error).message}):\n${output()}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  return {
    pid: child.pid ?? -1,
    done,
    stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    },
    running: () => child.exitCode === null && child.signalCode === null,
    output,
  };
}
