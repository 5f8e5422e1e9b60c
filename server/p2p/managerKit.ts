/**
 * What the P2PManager tests share (refill, replacedTab, resumeWalkIn, pickedWalkIn, enRoute): a
 * manager, a log that records, a game that only places users, a tab that connects and registers
 * its key as a real one does (challenge, proof, round trip), and a clock moved by hand.
 */
import { expect } from 'vitest';
import { insecureFastScheme } from '../../src/protocol/crypto.js';
import { keyProofBytes } from '../../src/protocol/keys.js';
import type { ServerMessage } from '../../src/protocol/messages.js';
import type { Logger } from '../log.js';
import { createSite, newUser } from '../../src/game/rules.js';
import type { Wakeup } from '../../src/net/p2p/driver.js';
import { P2PManager, type GameHooks, type ManagerDeps } from './manager.js';
import { DEFAULT_P2P } from './settings.js';
import { Transit } from './transit.js';

export const kitCrypto = insecureFastScheme;

export type LogLine = { event: string; fields: Record<string, unknown> };

export function recordingLog(): { log: Logger; logs: LogLine[] } {
  const logs: LogLine[] = [];
  const push = (event: string, fields?: Record<string, unknown>): void => void logs.push({ event, fields: fields ?? {} });
  return { logs, log: { info: push, warn: push, error: push } };
}

/**
 * `user`'s tab connects, its round trip is measured (20 ms), and it registers the key of index `i`
 * (the same index, the same key: a reconnecting tab). Returns what the admin sends it.
 */
export function registerTab(m: P2PManager, user: string, i: number): { got: ServerMessage[]; send: (msg: ServerMessage) => void } {
  const got: ServerMessage[] = [];
  const tab = { got, send: (msg: ServerMessage): void => void got.push(msg) };
  const challenge = m.connect(user, tab);
  m.setRtt(user, 20);
  const secret = (i.toString(16).padStart(2, '0') + '3d').repeat(16);
  const key = kitCrypto.publicKeyOf(secret);
  expect(m.onMessage(user, { type: 'key', key, sig: kitCrypto.sign(secret, keyProofBytes(challenge, user, key)) })).toBe(null);
  return tab;
}

/** A game that only says where users are and what a site's snapshot holds: every other hook does nothing. */
export function placingGame(o: Pick<GameHooks, 'siteOf' | 'usersOn' | 'snapshotFor'>): GameHooks {
  return {
    ...o,
    lastActionNo: () => 0,
    tell: () => undefined,
    departed: () => undefined,
    verified: () => undefined,
    closed: () => undefined,
    stored: (site) => ({ seq: 0, snapshot: { ...createSite(site), users: [] }, lastActionNo: new Map() }),
    transit: new Transit(),
  };
}

/** A game where `where` says who plays where (and stores users as new): an admin process's view in the resume tests. */
export function whereGame(where: Map<string, string>): GameHooks {
  const onSite = (site: string): string[] => [...where].filter(([, s]) => s === site).map(([u]) => u);
  return {
    ...placingGame({
      siteOf: (u) => where.get(u) ?? null,
      usersOn: onSite,
      snapshotFor: (site) => ({ ...createSite(site), users: onSite(site).map((u) => newUser(u, site)) }),
    }),
    stored: (site, users) => ({ seq: 0, snapshot: { ...createSite(site), users: users.map((u) => newUser(u, site)) }, lastActionNo: new Map() }),
  };
}

/**
 * A manager as the tests build it: transfer at one player (or `transferThreshold`), the first
 * eligible peer picked (random 0), no timer of its own unless `wakeup` is given.
 */
export function testManager(
  d: Pick<ManagerDeps, 'now' | 'log' | 'game' | 'defer'> & Partial<ManagerDeps> & { transferThreshold?: number },
): P2PManager {
  const { transferThreshold = 1, ...rest } = d;
  return new P2PManager({
    options: { ...DEFAULT_P2P, transferThreshold },
    adminSecret: 'ad'.repeat(32),
    crypto: kitCrypto,
    random: () => 0,
    wakeup: { set: () => undefined, clear: () => undefined },
    ...rest,
  });
}

/**
 * A manager's clock moved by hand: give `now` and `wakeup` to `testManager`. `advance(ms)` moves
 * time in steps of `stepMs`, firing the Driver's wake-up as the admin's timer would, then `afterStep`.
 */
export function steppedClock(startMs: number, stepMs: number, afterStep: () => void = () => undefined): {
  now: () => number;
  wakeup: Wakeup;
  advance: (ms: number) => void;
} {
  let t = startMs;
  let wake: (() => void) | null = null;
  return {
    now: () => t,
    wakeup: { set: (_ms, cb) => void (wake = cb), clear: () => void (wake = null) },
    advance(ms) {
      for (let left = ms; left > 0; left -= stepMs) {
        t += Math.min(stepMs, left);
        const cb = wake;
        wake = null;
        cb?.();
        afterStep();
      }
    },
  };
}
