/**
 * The wire's receive path, in one process: decoding a compact peer message with the schema's
 * bounds checked by hand (compactCheck.ts, what decodePeerMessage does) against the same bytes
 * validated by zod (what it did), and unpacking a bundle. Process CPU time (process.cpuUsage)
 * per call, the two variants interleaved in rounds so that a loaded machine slows both alike;
 * the median round. `npx tsx bench/wire.ts`.
 */
import { checkCompact } from '../src/protocol/compactCheck.js';
import { encodePeerMessage, parsePeerMessage, type PeerMessage } from '../src/protocol/messages.js';
import { decodeCompact, packFrames, unpackBundle } from '../src/protocol/peerCodec.js';

const H = 'ab'.repeat(16);
const SIG = 'cd'.repeat(64);
const bot = (i: number): string => `guest-${String(i).padStart(8, '0')}`;

/** Messages like a busy site's (bots' 14-character names): the largest of each hot kind. */
const MESSAGES: PeerMessage[] = [
  { type: 'action', site: 'meadow', user: bot(1), actionNo: 4711, action: { kind: 'move', dir: 'left' } },
  {
    type: 'timeslot',
    site: 'meadow',
    server: 'guest-00000001~a1b2c3d4',
    seq: 12345,
    stamp: 1_733_480_000_100.25,
    prevHash: H,
    epoch: 3,
    entries: Array.from({ length: 48 }, (_, i): [string, number, number, string] => [bot(i), 100 + i, 1_733_480_000_050.5 + i, H]),
    heads: Array.from({ length: 3 }, (_, i): [string, number, string] => [`guest-0000000${i}~a1b2c3d4`, 12340 + i, H]),
    update: [2222, H],
    sig: SIG,
  },
  {
    type: 'update',
    site: 'meadow',
    seq: 2222,
    prev: H,
    window: 1_733_480_000_100,
    applied: Array.from({ length: 20 }, (_, i): [string, number] => [bot(i), 100 + i]),
    events: Array.from({ length: 20 }, (_, i) => ({ kind: 'moved' as const, user: bot(i), x: 10 + i, y: 7 })),
    stateHash: H,
    hash: H,
  },
  { type: 'updateHash', site: 'meadow', seq: 2222, hash: H },
  { type: 'echo', site: 'meadow', heads: Array.from({ length: 3 }, (_, i): [string, number, string] => [`guest-0000000${i}~a1b2c3d4`, 12340 + i, H]) },
];

function cpuPerCall(fn: () => void, calls: number): number {
  const t0 = process.cpuUsage();
  for (let i = 0; i < calls; i++) fn();
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / calls;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

console.log('wire receive path: process CPU µs per call, median of 15 interleaved rounds');
for (const m of MESSAGES) {
  const bytes = encodePeerMessage(m);
  const calls = Math.max(200, Math.round(200_000 / bytes.byteLength));
  const byHand: number[] = [];
  const byZod: number[] = [];
  for (let round = 0; round < 15; round++) {
    byHand.push(cpuPerCall(() => checkCompact(decodeCompact(bytes)), calls));
    byZod.push(cpuPerCall(() => parsePeerMessage(decodeCompact(bytes)), calls));
  }
  const h = median(byHand);
  const z = median(byZod);
  console.log(`   ${m.type.padEnd(11)} ${String(bytes.byteLength).padStart(5)} B   decode + zod ${z.toFixed(1).padStart(6)} µs   decode + bounds by hand ${h.toFixed(1).padStart(6)} µs   (${(z / h).toFixed(1)}x)`);
}
const frames = MESSAGES.filter((m) => m.type !== 'timeslot').map((m) => encodePeerMessage(m));
const [bundle] = packFrames(frames);
if (bundle) {
  const unpack = median(Array.from({ length: 15 }, () => cpuPerCall(() => unpackBundle(bundle), 20_000)));
  console.log(`   a bundle of ${frames.length} frames, ${bundle.byteLength} B: pack ${median(Array.from({ length: 15 }, () => cpuPerCall(() => packFrames(frames), 20_000))).toFixed(2)} µs, unpack ${unpack.toFixed(2)} µs`);
}
