/**
 * `npx tsx bench/live/dcspreadTab.ts [pairs] [rate]`: dcspread.ts in Chromium. `pairs` linked pairs
 * of RTCPeerConnections in one page (signaling inside the page, loopback), each sending `rate`
 * 200 B frames a second at its own phase (0: idle links), 10 s after a 2 s settle, as a serving
 * tab's Site Server sends them one at a time. Prints the CPU of every Chromium process (browser,
 * renderer, network, GPU: all descendants of this one, from /proc) per second and per frame, beside
 * what dcspread.ts gives for node-datachannel (bots). Chromium: $CHROMIUM_PATH or /usr/bin/chromium.
 */
import { chromium } from '@playwright/test';
import { procCpuMs, procTreeCpuMs } from './proc.js';

const arg = (i: number, d: number, max: number): number => {
  const v = process.argv[i];
  const n = v === undefined ? d : Number(v);
  if (!Number.isInteger(n) || n < 0 || n > max) throw new Error(`argument ${i - 1}: an integer in 0..${max}`);
  return n;
};

/** CPU ms of Chromium's processes: this process's tree without this process. */
function chromiumCpuMs(): number {
  const self = procCpuMs(process.pid);
  return procTreeCpuMs([process.pid]) - (self ? self.user + self.system : NaN);
}

/** Runs in the page: links the pairs, then sends on a timer each; resolves once all are open. */
function pageLink(o: { pairs: number }): Promise<void> {
  const g = globalThis as unknown as { senders: RTCDataChannel[]; keep: unknown[] };
  g.senders = [];
  g.keep = [];
  const one = async (): Promise<void> => {
    const a = new RTCPeerConnection();
    const b = new RTCPeerConnection();
    a.onicecandidate = (e) => void (e.candidate && b.addIceCandidate(e.candidate));
    b.onicecandidate = (e) => void (e.candidate && a.addIceCandidate(e.candidate));
    const dc = a.createDataChannel('mmo');
    const got = new Promise<void>((r) => {
      b.ondatachannel = (e) => {
        e.channel.binaryType = 'arraybuffer';
        e.channel.onmessage = () => undefined;
        r();
      };
    });
    await a.setLocalDescription(await a.createOffer());
    await b.setRemoteDescription(a.localDescription!);
    await b.setLocalDescription(await b.createAnswer());
    await a.setRemoteDescription(b.localDescription!);
    await new Promise<void>((r) => (dc.readyState === 'open' ? r() : (dc.onopen = () => r())));
    await got;
    g.senders.push(dc);
    g.keep.push(a, b);
  };
  return Promise.all(Array.from({ length: o.pairs }, one)).then(() => undefined);
}

function pageSend(o: { rate: number }): void {
  const g = globalThis as unknown as { senders: RTCDataChannel[] };
  const payload = new Uint8Array(200).fill(7);
  const n = g.senders.length;
  if (o.rate === 0) return;
  g.senders.forEach((dc, i) => {
    // Phases spread evenly: no two links in step.
    setTimeout(() => setInterval(() => dc.send(payload), 1000 / o.rate), ((i + 0.5) / n) * (1000 / o.rate));
  });
}

async function main(): Promise<void> {
  const pairs = arg(2, 10, 100);
  const rate = arg(3, 20, 1000);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-features=WebRtcHideLocalIpsWithMdns'],
  });
  try {
    const page = await browser.newPage();
    // tsx compiles the page functions below with esbuild's keepNames, which calls __name.
    await page.addInitScript({ content: 'globalThis.__name = (f) => f;' });
    await page.route('http://localhost/**', (r) => r.fulfill({ contentType: 'text/html', body: '<!doctype html><title>dcspread</title>' }));
    await page.goto('http://localhost/');
    await page.evaluate(pageLink, { pairs });
    await page.waitForTimeout(2000);
    await page.evaluate(pageSend, { rate });
    const c0 = chromiumCpuMs();
    const t0 = performance.now();
    await page.waitForTimeout(10_000);
    const c1 = chromiumCpuMs();
    const s = (performance.now() - t0) / 1000;
    const msPerS = (c1 - c0) / s;
    const frames = pairs * rate;
    console.log(
      `Chromium ${browser.version()}: ${pairs} pairs in one page, ${rate} frames/s each (${frames} frames/s in all, sent and received here): ` +
        `its processes' CPU ${msPerS.toFixed(1)} ms/s` + (frames > 0 ? `, ${((msPerS * 1000) / frames).toFixed(0)} µs per frame, idle links' cost included` : ''),
    );
  } finally {
    await browser.close();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
