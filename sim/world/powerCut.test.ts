import { describe, expect, it } from 'vitest';
import { newUser } from '../../src/game/index.js';
import { SqliteStorage } from '../../server/storage/sqlite.js';
import { DiskLog } from './powerCut.js';

/** A disk on a clock the test moves, with a user saved at 100, 200 and 300 (its x the time). */
function disk() {
  const clock = { now: 0 };
  const d = new DiskLog(
    () => new SqliteStorage(':memory:'),
    () => clock.now,
  );
  for (const at of [100, 200, 300]) {
    clock.now = at;
    const state = { ...newUser('ann', 'meadow'), x: at / 100 };
    d.saveBatch({ users: [{ name: 'ann', guest: false, state, lastActionNo: at }], sites: [] }, at);
  }
  return { d, clock };
}

describe('DiskLog: a power cut keeps a prefix of the commits', () => {
  it('with synchronous = FULL keeps every commit (a kill -9)', () => {
    const { d, clock } = disk();
    clock.now = 350;
    expect(d.powerCut('FULL', 1000)).toBe(0);
    expect(d.getUser('ann')?.lastActionNo).toBe(300);
    expect(d.length).toBe(3);
  });

  it('with NORMAL loses the commits of the last lostMs, and the database is the earlier one', () => {
    const { d, clock } = disk();
    clock.now = 350;
    expect(d.powerCut('NORMAL', 200)).toBe(2);
    expect(d.getUser('ann')).toMatchObject({ lastActionNo: 100, state: { x: 1 } });
    expect(d.length).toBe(1);
    // Writes go on after it, on the kept prefix.
    d.deleteUser('ann');
    expect(d.getUser('ann')).toBeUndefined();
    expect(d.powerCut('NORMAL', 0)).toBe(0);
  });

  it('replays what was committed, not what the caller changed afterwards', () => {
    const clock = { now: 10 };
    const d = new DiskLog(
      () => new SqliteStorage(':memory:'),
      () => clock.now,
    );
    const state = { ...newUser('bob', 'town'), x: 1 };
    d.saveBatch({ users: [{ name: 'bob', guest: false, state, lastActionNo: 1 }], sites: [] }, 10);
    state.x = 9;
    clock.now = 20;
    d.setMeta('k', 'v');
    expect(d.powerCut('NORMAL', 5)).toBe(1);
    expect(d.getUser('bob')?.state.x).toBe(1);
    expect(d.getMeta('k')).toBeUndefined();
  });
});
