import { describe, expect, it } from 'vitest';
import type { OperatorSite, OperatorView } from './operator.js';
import { LOGIN_PAGE, OPERATOR_PAGE } from './operatorPage.js';

const script = (page: string): string => /<script>([\s\S]*)<\/script>/.exec(page)?.[1] ?? '';

/**
 * Runs the page's script once against a stand-in DOM and `fetch` answering `view`; resolves to
 * what it wrote into each element, once it wrote the last one (the peers) or an error.
 */
function render(view: OperatorView): Promise<Record<string, string>> {
  return new Promise((resolve) => {
    const out: Record<string, string> = {};
    const element = (id: string): object => ({
      set textContent(t: string) {
        out[id] = t;
        if (id === 'sites') resolve(out);
      },
      set innerHTML(h: string) {
        out[id] = h;
        if (id === 'peers') resolve(out);
      },
    });
    const elements = new Map<string, object>();
    const document = {
      getElementById: (id: string) => elements.get(id) ?? elements.set(id, element(id)).get(id),
    };
    const fetch = (): Promise<unknown> =>
      Promise.resolve({ status: 200, ok: true, json: () => Promise.resolve(view) });
    const run = new Function('document', 'fetch', 'location', 'setInterval', script(OPERATOR_PAGE)) as (
      ...a: unknown[]
    ) => void;
    run(document, fetch, { reload: () => undefined }, () => 0);
  });
}

const NOW = Date.UTC(2026, 11, 6, 12, 30, 0);

function site(id: string, over: Partial<OperatorSite>): OperatorSite {
  return {
    id,
    name: id,
    mode: 'cs',
    state: 'client-server',
    since: null,
    transitions: [],
    users: [],
    blocked: null,
    closing: false,
    waitingFor: null,
    epoch: null,
    actionsAtAdmin: 0,
    actionDelay: null,
    servers: [],
    ...over,
  };
}

describe('operator page client code', () => {
  it('has scripts that parse, never reads a token from the URL, and lists suspects with their evidence', () => {
    for (const page of [OPERATOR_PAGE, LOGIN_PAGE]) {
      const code = script(page);
      expect(code.length).toBeGreaterThan(100);
      expect(() => new Function(code)).not.toThrow();
      expect(code).not.toMatch(/location\.search|token=/);
    }
    expect(OPERATOR_PAGE).toContain('data-testid="operator-suspects"');
    for (const column of [
      'majority (hash: servers)',
      'other side (server: hash)',
      'actions in the majority copy',
      'copies first part at update',
    ])
      expect(OPERATOR_PAGE).toContain(column);
  });

  it("shows each site's lifecycle state, since when, and its last transitions", async () => {
    const clock = (t: number): string => new Date(t).toLocaleTimeString();
    const transferAt = NOW - 200_000;
    const runningAt = NOW - 125_000;
    const lostAt = NOW - 7_000;
    const out = await render({
      now: NOW,
      settings: { nServer: 3, transferThreshold: 3, T_timeslot: 100 },
      sites: [
        site('meadow', {
          mode: 'p2p',
          state: 'p2p',
          since: runningAt,
          transitions: [
            { from: 'client-server', event: 'transfer', to: 'transferring', at: transferAt },
            { from: 'transferring', event: 'running', to: 'p2p', at: runningAt },
          ],
        }),
        site('town', {}),
        site('cave', {
          state: 'lost',
          since: lostAt,
          transitions: [{ from: 'p2p', event: 'lose', to: 'lost', at: lostAt }],
        }),
      ],
      peers: [],
      suspects: [],
      admin: null,
    });
    const html = out.sites ?? '';
    const blocks = new Map(
      [...html.matchAll(/<div data-testid="lifecycle" data-state="([^"]+)">([^]*?)<\/div>/g)].map((m) => [
        m[1],
        m[2],
      ]),
    );
    const block = (state: string): string => blocks.get(state) ?? '';
    expect(block('p2p')).toContain(
      `<b class="">p2p</b> since ${clock(runningAt)} <small>(2 min 5 s)</small>`,
    );
    expect(block('p2p')).toContain(`client-server —transfer→ transferring at ${clock(transferAt)}`);
    expect(block('p2p')).toContain(`transferring —running→ p2p at ${clock(runningAt)}`);
    expect(block('client-server')).toContain(
      '<b class="">client-server</b> <small>since the admin started</small>',
    );
    expect(block('lost')).toContain(`<b class="bad">lost</b> since ${clock(lostAt)} <small>(7 s)</small>`);
    expect(html).toContain('data-site="cave" data-mode="cs" data-state="lost"');
  });
});
