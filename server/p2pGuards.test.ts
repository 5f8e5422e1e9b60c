/**
 * The admin's P2P inputs from the outside: key registration needs proof of possession, signaling
 * is relayed only between peers assigned to each other, a tab gets nothing for a role it was not
 * given, and bad P2P settings stop the server with a message naming the variable.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Bot } from '../src/bots/bot.js';
import { splitChunks } from '../src/protocol/chunks.js';
import { ed25519Scheme } from '../src/protocol/crypto.js';
import { keyProofBytes } from '../src/protocol/keys.js';
import { encodePeerMessage, PROTOCOL_VERSION, type ServerMessage } from '../src/protocol/messages.js';
import { optionsFromEnv } from './config.js';
import { guest, startServer, WsClient, type TestServer } from './testkit.js';

type Msg<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;

const bots: Bot[] = [];
afterEach(() => {
  for (const b of bots.splice(0)) b.close();
});

async function hello(s: TestServer, site = 'meadow'): Promise<{ c: WsClient; w: Msg<'welcome'>; user: string }> {
  const g = await guest(s.base, site);
  const c = await WsClient.open(s.wsUrl);
  c.send({ type: 'hello', v: PROTOCOL_VERSION, token: g.token });
  const w = await c.waitType('welcome');
  await c.waitType('enter');
  return { c, w, user: g.user };
}

const SECRET = '11'.repeat(32);

function keyMessage(w: Msg<'welcome'>, user: string, secret = SECRET): { type: 'key'; key: string; sig: string } {
  const key = ed25519Scheme.publicKeyOf(secret);
  return { type: 'key', key, sig: ed25519Scheme.sign(secret, keyProofBytes(w.challenge, user, key)) };
}

describe('key registration', () => {
  it('registers a key signed over this connection\'s challenge, and only once', async () => {
    const s = await startServer({ p2p: { transferThreshold: 2 } });
    const { c, w, user } = await hello(s);
    expect(w.adminKey).toMatch(/^[0-9a-f]{64}$/);
    expect(w.p2p.config.N_server).toBe(3);
    c.send(keyMessage(w, user));
    const ok = await c.waitType('keyOk');
    expect(ok.serverId.startsWith(`${user}~`)).toBe(true);
    c.send(keyMessage(w, user));
    await c.waitError('ERR_ALREADY_AUTHENTICATED');
  });

  it('refuses a proof for another challenge, another user or another key', async () => {
    const s = await startServer({ p2p: { transferThreshold: 2 } });
    const a = await hello(s);
    const b = await hello(s);
    // b's proof replayed on a's connection: wrong challenge and user.
    a.c.send(keyMessage(b.w, b.user));
    await a.c.waitError('ERR_BAD_PROOF');
    // The challenge is spent: even a correct proof now fails.
    a.c.send(keyMessage(a.w, a.user));
    await a.c.waitError('ERR_BAD_PROOF');
    // A signature by a key other than the one registered.
    const key = ed25519Scheme.publicKeyOf('22'.repeat(32));
    b.c.send({ type: 'key', key, sig: ed25519Scheme.sign(SECRET, keyProofBytes(b.w.challenge, b.user, key)) });
    await b.c.waitError('ERR_BAD_PROOF');
    expect(a.c.all.some((m) => m.type === 'keyOk') || b.c.all.some((m) => m.type === 'keyOk')).toBe(false);
  });
});

describe('signaling and roles', () => {
  it('relays signaling only between assigned peers, and only as the sender itself', async () => {
    const s = await startServer({ p2p: { transferThreshold: 0 } });
    const a = await hello(s);
    const b = await hello(s, 'town');
    const offer = { type: 'offer', sdp: 'v=0' };
    a.c.send({ type: 'signal', from: a.user, to: b.user, data: offer });
    await a.c.waitError('ERR_NOT_ASSIGNED');
    a.c.send({ type: 'signal', from: b.user, to: a.user, data: offer });
    await a.c.waitError('ERR_UNKNOWN_PEER');
    expect(b.c.all.some((m) => m.type === 'signal')).toBe(false);
  });

  it('gives a tab nothing for a role it was not given', async () => {
    const s = await startServer({ p2p: { transferThreshold: 0 } });
    const a = await hello(s);
    const [data] = splitChunks(
      encodePeerMessage({ type: 'flagReport', site: 'meadow', server: 'x~abcd', seq: 1, reason: 'lies' }),
    );
    a.c.send({ type: 'peer', as: 'user', site: 'meadow', id: 1, index: 0, count: 1, data });
    await a.c.waitError('ERR_NOT_ASSIGNED');
    a.c.send({ type: 'peer', as: 'server', site: 'meadow', id: 2, index: 0, count: 1, data });
    await a.c.waitError('ERR_NOT_ASSIGNED');
    a.c.send({
      type: 'serverStats', site: 'meadow', status: 'running', offset: 0, lag: 0, timeslotSeq: 1,
      trmSent: 0, trmReceived: 0, bytesInPerSec: 0, bytesOutPerSec: 0, links: 0,
    });
    await a.c.waitError('ERR_NOT_ASSIGNED');
    a.c.send({ type: 'linkFailed', site: 'meadow', as: 'user', peer: 'someone~abcd' });
    await a.c.waitError('ERR_NOT_ASSIGNED');
  });

  it('a user of a P2P site may signal its servers, a peer of another site may not, and a server may not speak as a user', async () => {
    const s = await startServer({ p2p: { nServer: 3, transferThreshold: 2 } });
    const servers = [0, 1, 2].map(() => new Bot({ url: s.url, site: 'town', rate: 0 }));
    bots.push(...servers);
    for (const b of servers) await b.start();
    const deadline = Date.now() + 10_000;
    while (!servers.every((b) => b.conn?.node?.serverId) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const u1 = await hello(s, 'meadow');
    const u2 = await hello(s, 'meadow');
    const h = await u1.c.waitType('handOver');
    expect(h.servers).toHaveLength(3);
    const target = h.servers[0]!;
    // A raw client of the site may offer to its server (the bot answers or not; the relay is what counts).
    u1.c.send({ type: 'signal', from: u1.user, to: target, data: { type: 'offer', sdp: 'v=0' } });
    // An outsider (on town, not a server of meadow) may not.
    const outsider = await hello(s, 'lake');
    outsider.c.send({ type: 'signal', from: outsider.user, to: target, data: { type: 'offer', sdp: 'v=0' } });
    await outsider.c.waitError('ERR_NOT_ASSIGNED');
    // Two users of one site are not assigned to each other (only to its servers).
    u1.c.send({ type: 'signal', from: u1.user, to: u2.user, data: { type: 'offer', sdp: 'v=0' } });
    await u1.c.waitError('ERR_NOT_ASSIGNED');
    expect(u1.c.all.filter((m) => m.type === 'error' && m.code === 'ERR_NOT_ASSIGNED')).toHaveLength(1);
  }, 30_000);
});

describe('P2P settings', () => {
  const env = (e: Record<string, string>) => () => optionsFromEnv(e, []);

  it('stop the server with a message naming the variable', () => {
    expect(env({ MMO_N_SERVER: '4' })).toThrow(/MMO_N_SERVER/);
    expect(env({ MMO_N_SERVER: 'three' })).toThrow(/MMO_N_SERVER/);
    expect(env({ MMO_TRANSFER_THRESHOLD: '-1' })).toThrow(/MMO_TRANSFER_THRESHOLD/);
    expect(env({ MMO_T_TIMESLOT_MS: '100', MMO_T_TIMEOUT_MS: '50' })).toThrow(/MMO_T_TIMEOUT_MS/);
    expect(env({ MMO_T_REQ_TIMEOUT_MS: '0' })).toThrow(/MMO_T_REQ_TIMEOUT_MS/);
    expect(env({ MMO_T_IGNORE_MS: 'x' })).toThrow(/MMO_T_IGNORE_MS/);
    expect(env({ MMO_ICE_SERVERS: 'stun:x' })).toThrow(/MMO_ICE_SERVERS/);
    expect(env({ MMO_ICE_SERVERS: '[{"urls":"http://x"}]' })).toThrow(/MMO_ICE_SERVERS/);
    expect(env({ MMO_ADMIN_TOKEN: 'short' })).toThrow(/MMO_ADMIN_TOKEN/);
    expect(env({ MMO_ADMIN_TOKEN: 'x'.repeat(31) })).toThrow(/MMO_ADMIN_TOKEN must be at least 32/);
    expect(env({ MMO_MAX_CONNECTIONS_PER_IP: '0' })).toThrow(/MMO_MAX_CONNECTIONS_PER_IP/);
  });

  it('are read when valid', () => {
    const o = optionsFromEnv(
      {
        MMO_N_SERVER: '5',
        MMO_TRANSFER_THRESHOLD: '4',
        MMO_T_TIMESLOT_MS: '50',
        MMO_T_TIMEOUT_MS: '200',
        MMO_T_REQ_TIMEOUT_MS: '250',
        MMO_T_IGNORE_MS: '2000',
        MMO_ICE_SERVERS: '[{"urls":["stun:stun.example.org:3478"]},{"urls":"turn:t.example.org","username":"u","credential":"c"}]',
        MMO_ADMIN_TOKEN: 'a-long-token-of-32-characters-ok',
        MMO_GUEST_BURST: '250',
      },
      [],
    );
    expect(o.p2p).toMatchObject({ nServer: 5, transferThreshold: 4, T_timeslot: 50, T_timeout: 200, T_req_timeout: 250, T_ignore: 2000 });
    expect(o.p2p?.iceServers).toHaveLength(2);
    expect(o.adminToken).toBe('a-long-token-of-32-characters-ok');
    expect(o.guestRate?.burst).toBe(250);
  });
});

describe('operator page', () => {
  it('needs its token; with it, shows every site with its mode and why it is not P2P', async () => {
    const s = await startServer({ p2p: { transferThreshold: 2 }, adminToken: 'operator-secret' });
    const auth = { headers: { authorization: 'Bearer operator-secret' } };
    // Not even the right token is taken from the URL (it would leak to history, logs and Referer).
    for (const path of ['/api/admin', '/admin?token=operator-secret', '/api/admin?token=operator-secret']) {
      const r = await fetch(s.base + path);
      expect(r.status).toBe(403);
      expect(((await r.json()) as { error: string }).error).toBe('ERR_FORBIDDEN');
    }
    expect(s.logs.some((l) => l.includes('ERR_FORBIDDEN'))).toBe(true);
    const page = await fetch(`${s.base}/admin`, auth);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain("fetch('/api/admin')");
    // Two raw clients on the meadow without keys: busy, but no eligible peer to take it.
    await hello(s, 'meadow');
    await hello(s, 'meadow');
    const deadline = Date.now() + 5000;
    let meadow: { mode: string; users: string[]; blocked: string | null } | undefined;
    while (Date.now() < deadline) {
      const v = (await (await fetch(`${s.base}/api/admin`, auth)).json()) as {
        sites: Array<{ id: string; mode: string; users: string[]; blocked: string | null }>;
      };
      meadow = v.sites.find((x) => x.id === 'meadow');
      if (meadow?.blocked) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(meadow).toMatchObject({ mode: 'cs', blocked: 'needs 3 eligible peers, 0 free' });
    expect(meadow?.users).toHaveLength(2);
    expect((await fetch(`${s.base}/api/admin`, { ...auth, method: 'POST' })).status).toBe(405);
  });
});
