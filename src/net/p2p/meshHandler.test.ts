import { describe, expect, it } from 'vitest';
import { MemoryHub } from './memoryLink.js';
import { Mesh } from './mesh.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

describe('Mesh handler failures', () => {
  it('a handler that throws is logged as ERR_INTERNAL and the link stays open for the next frame', () => {
    const hub = new MemoryHub({ manual: true });
    const owner = new Map<string, Mesh>();
    const logs: Array<{ event: string; fields: Record<string, unknown> }> = [];
    const tab = (end: string): Mesh => {
      const mesh = new Mesh({
        factory: hub.factory(),
        sendSignal: (from, to, data) => hub.later(() => owner.get(to)?.signal(from, to, data)),
        reportFailure: () => undefined,
        now: () => 0,
        log: (event, fields) => logs.push({ event, fields }),
      });
      owner.set(end, mesh);
      return mesh;
    };
    const user = tab('alice');
    const server = tab('bob~bb22');
    user.listen('alice', () => undefined);
    const got: string[] = [];
    server.listen('bob~bb22', (_remote, bytes) => {
      const text = dec.decode(bytes);
      if (text === 'bad') throw new Error('handler bug');
      got.push(text);
    });
    for (const t of ['one', 'bad', 'two']) user.send('alice', 'bob~bb22', enc.encode(t));
    hub.flush();
    expect(got).toEqual(['one', 'two']);
    expect(server.isOpen('bob~bb22', 'alice')).toBe(true);
    expect(
      logs.filter((l) => l.event === 'mesh.handler_failed').map((l) => [l.fields.code, l.fields.err]),
    ).toEqual([['ERR_INTERNAL', 'Error: handler bug']]);
    user.close();
    server.close();
  });
});
