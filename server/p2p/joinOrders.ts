/**
 * The joins the admin ordered on a P2P site, the latest per user. A hand-back's cut whose state
 * has not applied a user's join (its system action's number is not in the state's applied set)
 * does not have that user, who never played there: the admin takes the user back as its join
 * carried it. Without this, a join still unapplied at the cut lost its player (sim/FINDINGS.md 67).
 */
import type { UserState } from '../../src/game/types.js';
import type { SysActionMessage } from '../../src/protocol/messages.js';
import type { VerifiedSite } from './types.js';

export class JoinOrders {
  private readonly byUser = new Map<string, { no: number; state: UserState }>();

  ordered(no: number, state: UserState): void {
    this.byUser.set(state.name, { no, state });
  }

  /** After a restart: the joins the coordinator still sends again (its stored record's). */
  resumed(resend: ReadonlyArray<{ msg: SysActionMessage }>): void {
    for (const { msg } of resend) if (msg.action.kind === 'join') this.ordered(msg.sysNo, msg.action.user);
  }

  /** The states of those of `present` whose join the state `v` has not applied (`left`: departed by the cut). */
  notApplied(v: VerifiedSite, present: Iterable<string>, left: readonly string[]): UserState[] {
    const sys = v.systemApplied;
    if (!sys) return [];
    const inState = new Set(v.snapshot.users.map((u) => u.name));
    const out: UserState[] = [];
    for (const name of present) {
      const j = this.byUser.get(name);
      if (!j || inState.has(name) || left.includes(name)) continue;
      if (j.no <= sys.floor || sys.nos.includes(j.no)) continue;
      out.push(j.state);
    }
    return out;
  }
}
