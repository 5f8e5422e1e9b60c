/**
 * The report of a run: what happened, in numbers a person can read, plus the property violations.
 * Everything in it except `wallMs` is a pure function of the options (seed included).
 */
import type { KindStats } from './network.js';
import type { Violation } from './properties.js';
import { round } from './stats.js';

export interface RunReport {
  seed: number;
  servers: number;
  users: number;
  /** Virtual ms simulated (actions + settle). */
  simulatedMs: number;
  actions: {
    sent: number;
    /** Distinct actions in the honest servers' common sequence. */
    applied: number;
    /** Sent but never applied. */
    lost: number;
    /** Of those the conditions obliged the protocol to apply (should be 0). */
    lostMustApply: number;
    doubled: number;
  };
  /** Action delay: send → the sender accepts the update holding it (ms). */
  delay: { count: number; mean: number; p50: number; p99: number; max: number };
  /** Paper eq. (14) for this run's parameters; present when the run had no faults. */
  eq14?: number;
  ignored: string[];
  /** Servers admitted as replacements. */
  replaced: string[];
  evicted: string[];
  crashed: string[];
  /** Seqs at which honest servers applied different updates. */
  divergences: number;
  /** Updates users accepted, total. */
  accepted: number;
  rejections: Record<string, number>;
  bytes: Record<string, KindStats>;
  events: Record<string, number>;
  violations: Violation[];
  /** Simulator events processed. */
  simEvents: number;
  /** Wall-clock ms the run took (not deterministic; excluded from determinism checks). */
  wallMs: number;
}

/** The report without its wall-clock field, for determinism comparisons. */
export function deterministicPart(r: RunReport): Omit<RunReport, 'wallMs'> {
  const { wallMs: _wallMs, ...rest } = r;
  return rest;
}

export function formatReport(r: RunReport): string {
  const lines: string[] = [];
  const a = r.actions;
  lines.push(
    `seed ${r.seed}: ${r.servers} servers, ${r.users} users, ${round(r.simulatedMs / 1000, 3)} s simulated (${r.simEvents} events, ${round(r.wallMs)} ms wall)`,
  );
  lines.push(
    `  actions   sent ${a.sent}, applied ${a.applied}, lost ${a.lost} (${a.lostMustApply} that had to be applied), doubled ${a.doubled}`,
  );
  lines.push(
    `  delay     mean ${round(r.delay.mean)} ms, p50 ${round(r.delay.p50)} ms, p99 ${round(r.delay.p99)} ms, max ${round(r.delay.max)} ms over ${r.delay.count} actions`,
  );
  if (r.eq14 !== undefined) {
    lines.push(
      `  eq. (14)  2 l_su + l_ss + T_timeslot / 2 = ${round(r.eq14)} ms; measured mean ${round(r.delay.mean)} ms (${signed(round(r.delay.mean - r.eq14))} ms)`,
    );
  }
  lines.push(
    `  servers   ignored [${r.ignored.join(', ')}], replaced by [${r.replaced.join(', ')}], evicted [${r.evicted.join(', ')}], crashed [${r.crashed.join(', ')}]`,
  );
  lines.push(
    `  updates   accepted by users ${r.accepted}; divergences among honest servers ${r.divergences}`,
  );
  const rej = Object.entries(r.rejections);
  lines.push(`  rejected  ${rej.length === 0 ? 'none' : rej.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  const ev = Object.entries(r.events);
  if (ev.length > 0) lines.push(`  events    ${ev.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  lines.push('  traffic   kind: messages / bytes (dropped)');
  let totalM = 0;
  let totalB = 0;
  for (const [k, s] of Object.entries(r.bytes)) {
    totalM += s.messages;
    totalB += s.bytes;
    lines.push(
      `    ${k.padEnd(16)} ${String(s.messages).padStart(8)} / ${String(s.bytes).padStart(10)}  (${s.dropped})`,
    );
  }
  lines.push(`    ${'total'.padEnd(16)} ${String(totalM).padStart(8)} / ${String(totalB).padStart(10)}`);
  if (r.violations.length === 0) lines.push('  properties hold');
  else {
    lines.push(`  VIOLATIONS ${r.violations.length}:`);
    for (const v of r.violations.slice(0, 20)) lines.push(`    [${v.property}] ${v.message}`);
    if (r.violations.length > 20) lines.push(`    ... ${r.violations.length - 20} more`);
  }
  return lines.join('\n');
}

function signed(x: number): string {
  return x >= 0 ? `+${x}` : String(x);
}
