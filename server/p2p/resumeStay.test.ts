/**
 * A restarted admin's coordinator judges equivocation proofs in the stay of its stored record
 * (sim/FINDINGS.md 92): the stay is in the record's membership. A record stored before version 8
 * has none, and no coordinator is made from it: none could tell a proof from two stays apart.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { canonicalJson } from '../../src/game/canonical.js';
import { insecureFastScheme, utf8 } from '../../src/protocol/crypto.js';
import type { Membership } from '../../src/protocol/messages.js';
import { membershipSigningBytes } from '../../src/protocol/signed.js';
import { checkStoredSite } from './resume.js';
import { harness } from './siteHarness.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('a stored record and its stay', () => {
  it('keeps the stay in its membership; one from before version 8 (no stay, signed as then) is refused', async () => {
    const h = harness();
    await h.start();
    h.stop();
    const r = h.records.at(-1)!;
    const secret = 'ad'.repeat(32);
    const o = { adminKey: insecureFastScheme.publicKeyOf(secret), crypto: insecureFastScheme, nServer: 3 };
    const m = r.coordinator.membership as Membership;
    expect(m.stay).toMatch(/^[0-9a-f]{32}$/);
    expect(checkStoredSite(r, o)).toEqual({ membership: m });
    // The same record as version 7 stored it: no stay, signed over ['membership/1', ...].
    const { stay: _stay, sig: _sig, ...v7 } = m;
    void _stay;
    void _sig;
    const v7sig = insecureFastScheme.sign(secret, utf8(canonicalJson(['membership/1', v7.site, v7.epoch, v7.members, v7.change])));
    const old = { ...r, coordinator: { ...r.coordinator, membership: { ...v7, sig: v7sig } } };
    // (toMatchObject with a RegExp value matches any string: the reason is checked with toMatch.)
    const why = (x: ReturnType<typeof checkStoredSite>): string => ('why' in x ? x.why : 'taken');
    expect(why(checkStoredSite(old, o))).toMatch(/^membership: /);
    // Nor does a version-7 signature pass for a record given a stay afterwards.
    expect(membershipSigningBytes(m)).not.toEqual(utf8(canonicalJson(['membership/1', v7.site, v7.epoch, v7.members, v7.change])));
    const restamped = { ...r, coordinator: { ...r.coordinator, membership: { ...v7, stay: m.stay, sig: v7sig } } };
    expect(why(checkStoredSite(restamped, o))).toMatch(/not signed/);
  });
});
