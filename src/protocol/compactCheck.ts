/**
 * The schema's bounds on the hot peer messages, checked by hand on what `decodeCompact` returns
 * (zod was most of a Timeslot's decoding time). The compact reader already guarantees each
 * value's type (strings, safe non-negative integers, numbers, 32-character hex hashes, lists,
 * the enumerations), so what is left is what messages.ts's schema adds: lengths, minimums,
 * finite times, integral coordinates, list sizes. Every bound here is the schema's, by name or
 * by the same constant; `compactCheck.test.ts` holds the two to the same verdicts on generated
 * messages at and past every bound. Rare and large messages keep zod (they never come here).
 */
import { MAX_SAY_LENGTH } from '../game/text.js';
import type { ParseResult, PeerMessage } from './messages.js';

/**
 * The schema's bounds (messages.ts: MAX_ID, MAX_TIMESLOTS_PER_REPLY, list maxima, hexSig), as
 * numbers: messages.ts imports this file (no cycle); the test holds them to the schema's.
 */
const MAX_ID = 64;
const MAX_TIMESLOTS_PER_REPLY = 64;
const MAX_SIG_HEX = 256;
const MAX_ENTRIES = 4096;
const MAX_HEADS = 256;
const MAX_IGNORING = 64;
const MAX_APPLIED = 100_000;
const MAX_EVENTS = 100_000;
const MAX_INVENTORY = 1000;
const MAX_TEXT = MAX_SAY_LENGTH * 4;

class Off {
  constructor(readonly message: string) {}
}
const fail = (path: string, what: string): never => {
  throw new Off(`${path}: ${what}`);
};

type Obj = Record<string, unknown>;

/** A value of the compact form (decodeCompact's result), checked against the schema's bounds. */
export function checkCompact(value: unknown): ParseResult<PeerMessage> {
  try {
    message(value as Obj);
    return { ok: true, value: value as PeerMessage };
  } catch (e) {
    if (e instanceof Off) return { ok: false, code: 'ERR_MALFORMED', message: e.message };
    return { ok: false, code: 'ERR_MALFORMED', message: 'unreadable structure' };
  }
}

function message(m: Obj): void {
  switch (m.type) {
    case 'action':
      site(m.site, 'site');
      id(m.user, 'user');
      actionNo(m.actionNo, 'actionNo');
      playerAction(m.action as Obj, 'action');
      return;
    case 'sysAction':
      site(m.site, 'site');
      actionNo(m.sysNo, 'sysNo');
      id(m.actor, 'actor');
      systemAction(m.action as Obj, 'action');
      sig(m.sig, 'sig');
      return;
    case 'timeslot':
      timeslot(m, '');
      return;
    case 'timeslotReply':
      site(m.site, 'site');
      list(m.timeslots, MAX_TIMESLOTS_PER_REPLY, 'timeslots', (t, p) => timeslot(t as Obj, `${p}.`));
      return;
    case 'update':
      site(m.site, 'site');
      positive(m.seq, 'seq');
      time(m.window, 'window');
      list(m.applied, MAX_APPLIED, 'applied', (a, p) => {
        const [user, no] = a as [unknown, unknown];
        id(user, `${p}.0`);
        actionNo(no, `${p}.1`);
      });
      list(m.events, MAX_EVENTS, 'events', (e, p) => event(e as Obj, p));
      return;
    case 'updateHash':
      site(m.site, 'site');
      positive(m.seq, 'seq');
      return;
    case 'echo':
      site(m.site, 'site');
      heads(m.heads, 'heads');
      ignoring(m.ignoring, 'ignoring');
      return;
    default:
      fail('type', 'not a compact message');
  }
}

function timeslot(t: Obj, at: string): void {
  site(t.site, `${at}site`);
  id(t.server, `${at}server`);
  positive(t.seq, `${at}seq`);
  time(t.stamp, `${at}stamp`);
  list(t.entries, MAX_ENTRIES, `${at}entries`, (e, p) => {
    const [user, no, arrival] = e as [unknown, unknown, unknown];
    id(user, `${p}.0`);
    actionNo(no, `${p}.1`);
    time(arrival, `${p}.2`);
  });
  heads(t.heads, `${at}heads`);
  ignoring(t.ignoring, `${at}ignoring`);
  sig(t.sig, `${at}sig`);
}

function heads(h: unknown, path: string): void {
  list(h, MAX_HEADS, path, (x, p) => {
    const [server, seq] = x as [unknown, unknown];
    id(server, `${p}.0`);
    positive(seq, `${p}.1`);
  });
}

function ignoring(v: unknown, path: string): void {
  if (v !== undefined) list(v, MAX_IGNORING, path, (s, p) => id(s, p));
}

function playerAction(a: Obj, path: string): void {
  if (a.kind === 'say') text(a.text, `${path}.text`, 1);
}

function systemAction(a: Obj, path: string): void {
  if (a.kind === 'join') userState(a.user as Obj, `${path}.user`);
}

function event(e: Obj, path: string): void {
  switch (e.kind) {
    case 'moved':
      id(e.user, `${path}.user`);
      int(e.x, `${path}.x`);
      int(e.y, `${path}.y`);
      return;
    case 'rejected':
      id(e.user, `${path}.user`);
      return;
    case 'picked':
      id(e.user, `${path}.user`);
      item(e.item as Obj, `${path}.item`);
      return;
    case 'spawned':
      item(e.item as Obj, `${path}.item`);
      return;
    case 'said':
      id(e.user, `${path}.user`);
      text(e.text, `${path}.text`, 0);
      return;
    default:
      // joined, left (the reader knows no other kind)
      userState(e.user as Obj, `${path}.user`);
  }
}

function userState(u: Obj, path: string): void {
  id(u.name, `${path}.name`);
  site(u.site, `${path}.site`);
  int(u.x, `${path}.x`);
  int(u.y, `${path}.y`);
  list(u.inventory, MAX_INVENTORY, `${path}.inventory`, (c, p) => {
    short((c as Obj).id, `${p}.id`);
    short((c as Obj).kind, `${p}.kind`);
  });
}

function item(it: Obj, path: string): void {
  short(it.id, `${path}.id`);
  short(it.kind, `${path}.kind`);
  int(it.x, `${path}.x`);
  int(it.y, `${path}.y`);
}

// Leaves. Types are the reader's; these are the schema's bounds on them.

function list(v: unknown, max: number, path: string, each: (x: unknown, path: string) => void): void {
  const a = v as unknown[];
  if (a.length > max) fail(path, `more than ${max} items`);
  for (let i = 0; i < a.length; i++) each(a[i], `${path}.${i}`);
}
function id(s: unknown, path: string): void {
  const n = (s as string).length;
  if (n < 1 || n > MAX_ID) fail(path, `length ${n}, not 1 to ${MAX_ID}`);
}
const site = id;
function short(s: unknown, path: string): void {
  if ((s as string).length > MAX_ID) fail(path, `longer than ${MAX_ID}`);
}
function text(s: unknown, path: string, min: number): void {
  const n = (s as string).length;
  if (n < min || n > MAX_TEXT) fail(path, `length ${n}, not ${min} to ${MAX_TEXT}`);
}
function sig(s: unknown, path: string): void {
  const n = (s as string).length;
  if (n < 2 || n > MAX_SIG_HEX) fail(path, `${n} hex digits, not 2 to ${MAX_SIG_HEX}`);
}
/** seqNo.min(1) and actionNo: the reader's integers are safe and non-negative already. */
function positive(v: unknown, path: string): void {
  if ((v as number) < 1) fail(path, 'below 1');
}
const actionNo = positive;
function time(v: unknown, path: string): void {
  if (!Number.isFinite(v)) fail(path, 'not a finite number');
}
function int(v: unknown, path: string): void {
  if (!Number.isSafeInteger(v)) fail(path, 'not a safe integer');
}
