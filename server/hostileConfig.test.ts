/** MMO_ALLOW_CHEAT_MODES: read and checked like the other variables, and announced to peers in welcome.p2p. */
import { describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../src/protocol/messages.js';
import { optionsFromEnv } from './config.js';
import { guest, startServer, WsClient } from './testkit.js';

describe('MMO_ALLOW_CHEAT_MODES', () => {
  it('is off unless 1, and anything but 0 or 1 stops the server with its name', () => {
    expect(optionsFromEnv({}, []).allowCheatModes).toBeUndefined();
    expect(optionsFromEnv({ MMO_ALLOW_CHEAT_MODES: '0' }, []).allowCheatModes).toBeUndefined();
    expect(optionsFromEnv({ MMO_ALLOW_CHEAT_MODES: '1' }, []).allowCheatModes).toBe(true);
    for (const bad of ['yes', 'true', '2', 'on'])
      expect(() => optionsFromEnv({ MMO_ALLOW_CHEAT_MODES: bad }, [])).toThrow(/MMO_ALLOW_CHEAT_MODES must be 0 or 1/);
  });

  it.each([
    [false, undefined],
    [true, true],
  ])('allowed %s: welcome.p2p.cheatModes is %s', async (allow, expected) => {
    const s = await startServer(allow ? { allowCheatModes: true } : {});
    const g = await guest(s.base);
    const c = await WsClient.open(s.wsUrl);
    c.send({ type: 'hello', v: PROTOCOL_VERSION, token: g.token });
    const w = await c.waitType('welcome');
    expect(w.p2p.cheatModes).toBe(expected);
    c.ws.close();
  });
});
