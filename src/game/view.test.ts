import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyAction,
  applyEvents,
  canonicalJson,
  createSite,
  newUser,
  viewOf,
  type SiteAction,
  type SiteSnapshot,
} from './index.js';

const names = ['ann', 'bob', 'cy', 'dee'];

const stepArb: fc.Arbitrary<{ actor: string; action: SiteAction }> = fc.record({
  actor: fc.constantFrom(...names),
  action: fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('move' as const),
        dir: fc.constantFrom('up', 'down', 'left', 'right'),
      }),
    },
    { weight: 2, arbitrary: fc.constant({ kind: 'pickup' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'portal' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'leave' as const }) },
    { weight: 1, arbitrary: fc.string({ maxLength: 10 }).map((text) => ({ kind: 'say' as const, text })) },
    {
      weight: 2,
      arbitrary: fc
        .record({ x: fc.integer({ min: -1, max: 20 }), y: fc.integer({ min: -1, max: 14 }) })
        .map(({ x, y }) => ({ kind: 'join' as const, user: { ...newUser('x', 'meadow'), x, y } })),
    },
  ),
});

describe('views', () => {
  it('applyEvents(viewOf(before), events) equals viewOf(after), step by step', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('meadow', 'forest', 'ruins'),
        fc.array(stepArb, { maxLength: 120 }),
        (site, steps) => {
          let snap: SiteSnapshot = createSite(site);
          let view = viewOf(snap);
          for (const { actor, action } of steps) {
            const r = applyAction(snap, actor, action);
            view = applyEvents(view, r.events);
            snap = r.snapshot;
            expect(canonicalJson(view)).toBe(canonicalJson(viewOf(snap)));
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('viewOf shows the site, its users and its items', () => {
    const snap = applyAction(createSite('town'), 'ann', {
      kind: 'join',
      user: newUser('ann', 'town'),
    }).snapshot;
    expect(viewOf(snap)).toEqual({ site: 'town', users: snap.users, items: snap.site.items });
  });
});
