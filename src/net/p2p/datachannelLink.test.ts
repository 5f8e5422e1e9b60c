import { describe, expect, it } from 'vitest';
import type { SignalData } from '../../protocol/messages.js';
import { dataChannelFactory, iceUrls } from './datachannelLink.js';
import type { PeerLink } from './link.js';

describe('node-datachannel links', () => {
  it('connect with simple-peer-style signaling, carry binary frames both ways, and report the close', async () => {
    const make = dataChannelFactory({ iceServers: [] });
    const signals: Array<SignalData['type']> = [];
    let b: PeerLink | null = null;
    const a = make({ initiator: true, local: 'a', remote: 'b', onSignal: (d) => (signals.push(d.type), b?.signal(d)) });
    b = make({ initiator: false, local: 'b', remote: 'a', onSignal: (d) => (signals.push(d.type), a.signal(d)) });
    const opened = Promise.all([a, b].map((l) => new Promise<void>((r) => l.onOpen(r))));
    await opened;
    expect([a.open, b.open]).toEqual([true, true]);
    expect(signals).toContain('offer');
    expect(signals).toContain('answer');
    expect(signals).toContain('candidate');
    const got = new Promise<Uint8Array>((r) => b!.onMessage(r));
    expect(a.send(new Uint8Array([1, 2, 3, 250]))).toBe(true);
    expect([...(await got)]).toEqual([1, 2, 3, 250]);
    const back = new Promise<Uint8Array>((r) => a.onMessage(r));
    b.send(new Uint8Array([9]));
    expect([...(await back)]).toEqual([9]);
    const closed = new Promise<string>((r) => b!.onClose(r));
    a.close();
    expect(a.open).toBe(false);
    expect(a.send(new Uint8Array([1]))).toBe(false);
    expect(typeof (await closed)).toBe('string');
  });

  it('buffers candidates that arrive before the offer, and survives malformed signaling', async () => {
    const make = dataChannelFactory({ iceServers: [] });
    const held: SignalData[] = [];
    let b: PeerLink | null = null;
    const a = make({ initiator: true, local: 'a', remote: 'b', onSignal: (d) => held.push(d) });
    b = make({ initiator: false, local: 'b', remote: 'a', onSignal: (d) => a.signal(d) });
    const opened = new Promise<void>((r) => b!.onOpen(r));
    // Wait for the offer and candidates, then deliver the candidates first.
    while (!held.some((d) => d.type === 'candidate')) await new Promise((r) => setTimeout(r, 5));
    for (const d of held.filter((x) => x.type === 'candidate')) b.signal(d);
    for (const d of held.filter((x) => x.type !== 'candidate')) b.signal(d);
    await opened;
    // Garbage from a peer closes that link only; the process lives on.
    const c = make({ initiator: false, local: 'c', remote: 'a', onSignal: () => undefined });
    const cClosed = new Promise<string>((r) => c.onClose(r));
    c.signal({ type: 'offer', sdp: 'not an sdp' });
    expect(typeof (await cClosed)).toBe('string');
    a.close();
  });

  it('a candidate libdatachannel refuses is dropped, not the link', async () => {
    const make = dataChannelFactory({ iceServers: [] });
    let b: PeerLink | null = null;
    const a = make({ initiator: true, local: 'a', remote: 'b', onSignal: (d) => b?.signal(d) });
    b = make({ initiator: false, local: 'b', remote: 'a', onSignal: (d) => a.signal(d) });
    await Promise.all([a, b].map((l) => new Promise<void>((r) => l.onOpen(r))));
    let closed = false;
    a.onClose(() => (closed = true));
    a.signal({ type: 'candidate', candidate: { candidate: 'candidate:not a candidate', sdpMid: '0', sdpMLineIndex: 0 } });
    const got = new Promise<Uint8Array>((r) => b!.onMessage(r));
    expect(a.send(new Uint8Array([7]))).toBe(true);
    expect([...(await got)]).toEqual([7]);
    expect(closed).toBe(false);
    expect(a.open).toBe(true);
    a.close();
  });

  it('turns configured ICE servers into libdatachannel URLs', () => {
    expect(
      iceUrls([
        { urls: 'stun:stun.example.org:3478' },
        { urls: ['turn:t.example.org:3478?transport=udp', 'http://ignored'], username: 'u s', credential: 'p@ss' },
      ]),
    ).toEqual(['stun:stun.example.org:3478', 'turn:u%20s:p%40ss@t.example.org:3478?transport=udp']);
  });
});
