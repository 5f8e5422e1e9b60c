import { beforeEach, describe, expect, it, vi } from 'vitest';

// libdatachannel's SCTP settings are process-wide and cannot be read back: what the factory asks
// of node-datachannel, and in what order, is what is checked here (the CPU it saves is measured
// by bench/live/dcspread.ts).
const calls: string[] = [];
vi.mock('node-datachannel', () => ({
  default: {
    setSctpSettings: (s: { delayedSackTime?: number }) => calls.push(`sctp ${s.delayedSackTime}`),
    PeerConnection: class {
      constructor() {
        calls.push('pc');
      }
      onLocalDescription(): void {}
      onLocalCandidate(): void {}
      onStateChange(): void {}
      onDataChannel(): void {}
      close(): void {}
    },
  },
}));

const { dataChannelFactory, sackDelayChoice, SCTP_SACK_DELAY_MS } = await import('./datachannelLink.js');

describe('SCTP acks held by bots', () => {
  beforeEach(() => {
    calls.length = 0;
  });

  it('are set to SCTP_SACK_DELAY_MS before the first link, once per value', () => {
    expect(SCTP_SACK_DELAY_MS).toBe(100);
    const make = dataChannelFactory({ iceServers: [] });
    make({ initiator: false, local: 'a', remote: 'b', onSignal: () => undefined });
    dataChannelFactory({ iceServers: [] })({ initiator: false, local: 'a', remote: 'c', onSignal: () => undefined });
    expect(calls).toEqual(['sctp 100', 'pc', 'pc']);
    dataChannelFactory({ iceServers: [], sackDelayMs: 20 });
    expect(calls.slice(3)).toEqual(['sctp 20']);
  });

  it('take MMO_SCTP_SACK_MS as 1..500 ms, unset as the default, and refuse anything else', () => {
    expect(sackDelayChoice(undefined)).toBe(SCTP_SACK_DELAY_MS);
    expect(sackDelayChoice(' ')).toBe(SCTP_SACK_DELAY_MS);
    expect(sackDelayChoice('20')).toBe(20);
    expect(sackDelayChoice('500')).toBe(500);
    for (const bad of ['0', '501', '-5', '1.5', '1e2', 'abc']) expect(() => sackDelayChoice(bad)).toThrow(/MMO_SCTP_SACK_MS/);
  });
});
