import { describe, expect, it } from 'vitest';
import type { ServerView, SiteUser } from './api.js';
import { ADMIN_ID, type Member, type MembershipMessage } from './messages.js';
import { signMembership, updateHash } from './signed.js';
import { enteringUser, playMoves, setupSite, type SiteSetup } from './testing.js';

function states(u: SiteUser): Record<string, ServerView> {
  return Object.fromEntries(u.serverStates().map((x) => [x.id, x.state]));
}

/** A site whose users accepted a few updates. */
function playing(o: Parameters<typeof setupSite>[0] = {}): { s: SiteSetup; alice: SiteUser; bob: SiteUser } {
  const s = setupSite(o);
  playMoves(s, 6);
  s.net.run(500);
  const alice = s.users.get('alice')!;
  const bob = s.users.get('bob')!;
  expect(alice.lastAccepted().seq).toBeGreaterThan(2);
  return { s, alice, bob };
}

/** The record `base` (default: the coordinator's) changed by `edit`, one epoch later, signed by the admin. */
function nextRecord(
  s: SiteSetup,
  change: MembershipMessage['change'],
  edit: (members: Member[]) => Member[],
  base: Omit<MembershipMessage, 'type'> | null = s.coordinator.membership(),
): MembershipMessage {
  if (!base) throw new Error('no record');
  const { sig: _s, type: _t, ...body } = base as Omit<MembershipMessage, 'type'> & { type?: 'membership' };
  const signed = signMembership({ ...body, epoch: base.epoch + 1, change, members: edit(base.members) }, s.adminSecret, s.crypto);
  return { type: 'membership', ...signed };
}

const ALL_IN_STEP = { s0: 'in-step', s1: 'in-step', s2: 'in-step', s3: 'in-step', s4: 'in-step' };

describe('SiteUser.serverStates', () => {
  it('shows every server in step while all vote for what is accepted, also those whose votes come after the majority\'s', () => {
    const { alice } = playing({ latency: (f) => (f === 's4' ? 40 : 5) });
    expect(alice.serverStates().map((x) => x.id)).toEqual(['s0', 's1', 's2', 's3', 's4']);
    expect(states(alice)).toEqual(ALL_IN_STEP);
  });

  it('shows a server late once its votes trail the accepted updates by more than 2', () => {
    const { s, alice, bob } = playing();
    const from = alice.lastAccepted().seq;
    s.net.drop = (f, to, m) => f === 's4' && to === 'alice' && (m.type === 'update' || m.type === 'updateHash');
    const seen: Array<[number, ServerView | undefined]> = [];
    for (let r = 0; r < 8; r++) {
      playMoves(s, 1, 300);
      const behind = alice.lastAccepted().seq - from;
      seen.push([behind, states(alice).s4]);
      expect(states(alice).s4, `${behind} behind`).toBe(behind > 2 ? 'late' : 'in-step');
      expect(states(bob)).toEqual(ALL_IN_STEP);
    }
    // Both sides of the bound were seen.
    expect(seen.some(([b]) => b === 2)).toBe(true);
    expect(seen.some(([b]) => b > 2)).toBe(true);
  });

  it('shows a server ignored once a membership record cuts it, whatever else it does', () => {
    const { s, alice } = playing();
    s.net.drop = (f, to) => f === 's4' && to === 'alice';
    playMoves(s, 5, 300);
    expect(states(alice).s4).toBe('late');
    const last = alice.lastAccepted();
    const rec = nextRecord(s, { kind: 'ignore', target: 's4' }, (ms) =>
      ms.map((m) => (m.id === 's4' ? { ...m, stints: m.stints.map((st) => ({ ...st, cut: { seq: last.seq, hash: last.hash } })) } : m)),
    );
    s.net.poke('alice', () => alice.receive(ADMIN_ID, rec));
    expect(states(alice)).toEqual({ ...ALL_IN_STEP, s4: 'ignored' });
    // Readmitted (a new stint, not cut): no longer ignored.
    const readmit = nextRecord(s, { kind: 'admit', target: 's4' }, (ms) =>
      ms.map((m) => (m.id === 's4' ? { ...m, stints: [...m.stints, { admit: rec.epoch + 1, cut: null }] } : m)), rec);
    s.net.poke('alice', () => alice.receive(ADMIN_ID, readmit));
    expect(states(alice).s4).toBe('late');
  });

  it('lists a server that lost its slot as replaced, after the current servers, and stops sending to it', () => {
    const { s, alice } = playing();
    const key = s.crypto.publicKeyOf(s.secrets.get('c0')!);
    const rec = nextRecord(s, { kind: 'admit', target: 'c0' }, (ms) => [
      ...ms.map((m) => (m.id === 's4' ? { ...m, slot: null } : m)),
      { id: 'c0', key, slot: 4, stints: [{ admit: 2, cut: null }] },
    ]);
    s.net.poke('alice', () => alice.receive(ADMIN_ID, rec));
    expect(alice.serverStates()).toEqual([
      { id: 's0', state: 'in-step' },
      { id: 's1', state: 'in-step' },
      { id: 's2', state: 'in-step' },
      { id: 's3', state: 'in-step' },
      // New to the set: it owes votes only for the updates after it joined.
      { id: 'c0', state: 'in-step' },
      { id: 's4', state: 'replaced' },
    ]);
    const to: string[] = [];
    s.net.rewrite = (f, t, m) => {
      if (f === 'alice' && m.type === 'action') to.push(t);
      return m;
    };
    s.net.poke('alice', () => alice.act({ kind: 'pickup' }));
    expect(to.sort()).toEqual(['c0', 's0', 's1', 's2', 's3']);
    // c0 never got the record (only alice did), so it votes for none of the next updates: late.
    s.net.rewrite = (_f, _t, m) => m;
    const seq = alice.lastAccepted().seq;
    playMoves(s, 6, 300);
    expect(alice.lastAccepted().seq).toBeGreaterThan(seq + 2);
    expect(alice.serverStates().find((x) => x.id === 'c0')?.state).toBe('late');
  });

  it('shows a server disagreeing after its update differed from the majority, for 50 updates, even when its votes come after the majority\'s', () => {
    // s2's votes reach alice after the majority's: alice accepted each update already.
    const { s, alice, bob } = playing({ latency: (f, t) => (f === 's2' && t === 'alice' ? 40 : 5) });
    // s2 tells alice other updates than the others do (hashed consistently: only the majority shows them wrong).
    s.net.rewrite = (f, to, m) => {
      if (f !== 's2' || to !== 'alice') return m;
      if (m.type === 'updateHash') return { ...m, hash: 'f'.repeat(32) };
      if (m.type === 'update') {
        const { type: _t, hash: _h, ...body } = m;
        const other = { ...body, events: [] };
        return { type: 'update', ...other, hash: updateHash(other) };
      }
      return m;
    };
    playMoves(s, 2, 300);
    expect(alice.flaggedServers().map((f) => f.server)).toContain('s2');
    expect(states(alice)).toEqual({ ...ALL_IN_STEP, s2: 'disagreeing' });
    expect(states(bob)).toEqual(ALL_IN_STEP);
    s.net.rewrite = (_f, _t, m) => m;
    const lastFlag = Math.max(...alice.flaggedServers().map((f) => f.seq));
    const seen = new Set<ServerView | undefined>();
    for (let r = 0; r < 100 && alice.lastAccepted().seq < lastFlag + 52; r++) {
      playMoves(s, 1, 150);
      const since = alice.lastAccepted().seq - lastFlag;
      expect(states(alice).s2, `${since} updates after the flag`).toBe(since < 50 ? 'disagreeing' : 'in-step');
      seen.add(states(alice).s2);
    }
    expect([...seen].sort()).toEqual(['disagreeing', 'in-step']);
  });
});

describe('SiteUser entering a running site by state transfer', () => {
  it('continues its action numbers above the ones the servers applied for it, so its next action is not dropped as a duplicate', () => {
    const { s } = playing();
    const applied = (u: string): number[] =>
      (s.servers.get('s0')?.appliedLog() ?? []).flatMap((x) => x.applied.filter((a) => a.user === u).map((a) => a.actionNo));
    // Alice's tab reloads: a new user object with a stale counter (1) takes the state from the servers.
    const before = Math.max(...applied('alice'));
    expect(before).toBeGreaterThan(3);
    let entered = false;
    const alice2 = enteringUser(s, 'alice', 1, () => (entered = true));
    s.net.add('alice', alice2);
    // Updates (here: bob's move) reach alice, which then asks for the state.
    s.net.poke('bob', () => s.users.get('bob')?.act({ kind: 'move', dir: 'up' }));
    s.net.run(1000);
    expect(entered).toBe(true);
    let no = 0;
    s.net.poke('alice', () => (no = alice2.act({ kind: 'say', text: 'back' })));
    expect(no).toBe(before + 1);
    s.net.run(1000);
    expect(alice2.pendingActions()).toEqual([]);
    expect(applied('alice')).toContain(no);
  });

  it('counts the votes that came before the provider named its seq: the answers to its hash requests may never come (sim/FINDINGS.md 63, seed 13050)', () => {
    const { s } = playing();
    // Once carol has the state, every answer about its seq is lost (in 13050: lost, or from servers
    // replaced since, which never held it). Only the votes she kept while entering vouch for it.
    let chunkSeq: number | null = null;
    s.net.drop = (_f, t, m) => {
      if (t !== 'carol') return false;
      if (m.type === 'stateChunk') chunkSeq ??= m.seq;
      return chunkSeq !== null && m.type === 'updateHash' && m.seq <= chunkSeq;
    };
    let entered = false;
    const carol = enteringUser(s, 'carol', 1, () => (entered = true));
    s.net.add('carol', carol);
    s.net.poke('bob', () => s.users.get('bob')?.act({ kind: 'move', dir: 'up' }));
    s.net.run(3000);
    expect(chunkSeq).not.toBeNull();
    expect(entered).toBe(true);
    expect(carol.lastAccepted().seq).toBeGreaterThanOrEqual(chunkSeq!);
  });

  it('does not count votes a server owed before the user entered, and counts those after', () => {
    const { s } = playing();
    // s4's updates do not reach carol while she enters (its vote for the update she enters at is lost).
    let cutS4 = true;
    s.net.drop = (f, t, m) => cutS4 && f === 's4' && t === 'carol' && (m.type === 'update' || m.type === 'updateHash');
    const carol = enteringUser(s, 'carol', 1);
    s.net.add('carol', carol);
    s.net.poke('bob', () => s.users.get('bob')?.act({ kind: 'move', dir: 'up' }));
    s.net.run(1000);
    expect(carol.lastAccepted().seq).toBeGreaterThan(3);
    expect(carol.serverStates().find((x) => x.id === 's4')?.state).toBe('in-step');
    // From here on s4 owes her its votes: missing three of them makes it late.
    const seq = carol.lastAccepted().seq;
    for (let r = 0; r < 20 && carol.lastAccepted().seq < seq + 3; r++) {
      s.net.poke('bob', () => s.users.get('bob')?.act({ kind: 'move', dir: r % 2 ? 'up' : 'down' }));
      s.net.run(300);
    }
    expect(carol.lastAccepted().seq).toBeGreaterThanOrEqual(seq + 3);
    expect(carol.serverStates().find((x) => x.id === 's4')?.state).toBe('late');
    cutS4 = false;
    s.net.poke('bob', () => s.users.get('bob')?.act({ kind: 'move', dir: 'up' }));
    s.net.run(500);
    expect(carol.serverStates().find((x) => x.id === 's4')?.state).toBe('in-step');
  });

  it('continues above an action applied past a gap (a number the floor does not cover)', () => {
    const { s } = playing();
    const alice = s.users.get('alice')!;
    // Alice's next action is lost everywhere; the one after it is applied.
    let lost = 0;
    s.net.drop = (f, _t, m) => {
      if (f !== 'alice' || m.type !== 'action') return false;
      if (lost === 0) lost = m.actionNo;
      return m.actionNo === lost;
    };
    s.net.poke('alice', () => alice.act({ kind: 'move', dir: 'left' }));
    s.net.poke('alice', () => alice.act({ kind: 'move', dir: 'right' }));
    s.net.run(800);
    const nos = (s.servers.get('s0')?.appliedLog() ?? []).flatMap((u) => u.applied.filter((a) => a.user === 'alice').map((a) => a.actionNo));
    expect(nos).toContain(lost + 1);
    expect(nos).not.toContain(lost);
    const alice2 = enteringUser(s, 'alice', lost);
    s.net.add('alice', alice2);
    s.net.poke('bob', () => s.users.get('bob')?.act({ kind: 'move', dir: 'up' }));
    s.net.run(1000);
    expect(alice2.lastAccepted().seq).toBeGreaterThan(0);
    expect(alice2.act({ kind: 'pickup' })).toBe(lost + 2);
  });
});
