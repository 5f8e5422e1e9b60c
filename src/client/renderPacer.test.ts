import { describe, expect, it } from 'vitest';
import { RenderPacer, tweenSpan, type FrameLoop } from './renderPacer.js';

const ACTIVE = 30;
const IDLE = 8;
const VSYNC_MS = 1000 / 60;

/**
 * Phaser's TimeStep as the pacer sees it: while running, each vsync draws a frame once
 * 1000 / fps ms have gone by since the last one; asleep, nothing.
 */
class FakeLoop implements FrameLoop {
  running = false;
  fps = 0;
  now = 0;
  private lastDrawAt = -Infinity;
  private nextVsync = 0;
  pacer: RenderPacer | null = null;
  readonly drawnAt: number[] = [];

  sleep(): void {
    this.running = false;
  }
  wake(): void {
    this.running = true;
  }
  setFPSLimit(fps: number): void {
    this.fps = fps;
  }
  /** Runs the vsyncs up to `ms` from now. */
  advance(ms: number): void {
    const end = this.now + ms;
    while (this.nextVsync <= end) {
      this.now = this.nextVsync;
      this.nextVsync += VSYNC_MS;
      if (this.running && this.fps > 0 && this.now - this.lastDrawAt >= 1000 / this.fps - 0.5) {
        this.lastDrawAt = this.now;
        this.drawnAt.push(this.now);
        this.pacer?.drawn();
      }
    }
    this.now = end;
  }
  framesIn(from: number, to: number): number {
    return this.drawnAt.filter((t) => t >= from && t < to).length;
  }
}

function setup(): { loop: FakeLoop; pacer: RenderPacer } {
  const loop = new FakeLoop();
  const pacer = new RenderPacer(loop, { activeFps: ACTIVE, idleFps: IDLE, now: () => loop.now });
  loop.pacer = pacer;
  return { loop, pacer };
}

describe('RenderPacer', () => {
  it('draws a change once, then sleeps and draws nothing while nothing changes', () => {
    const { loop, pacer } = setup();
    pacer.changed();
    loop.advance(100);
    expect(loop.drawnAt.length).toBeGreaterThanOrEqual(1);
    expect(loop.running).toBe(false);
    const drawn = loop.drawnAt.length;
    loop.advance(10_000);
    expect(loop.drawnAt.length).toBe(drawn);
    expect(pacer.rate).toBe(0);
  });

  it('draws looping decorations at the idle rate, not the active one', () => {
    const { loop, pacer } = setup();
    pacer.setAmbient(true);
    loop.advance(2000);
    expect(loop.framesIn(1000, 2000)).toBeGreaterThanOrEqual(IDLE - 1);
    expect(loop.framesIn(1000, 2000)).toBeLessThanOrEqual(IDLE + 1);
    expect(pacer.rate).toBe(IDLE);
  });

  it('wakes a sleeping loop for a change and draws it within a frame or two', () => {
    const { loop, pacer } = setup();
    pacer.changed();
    loop.advance(1000);
    expect(loop.running).toBe(false);
    const before = loop.drawnAt.length;
    const at = loop.now;
    pacer.changed();
    loop.advance(2 * VSYNC_MS + 1);
    expect(loop.drawnAt.length).toBe(before + 1);
    expect(loop.drawnAt.at(-1)! - at).toBeLessThanOrEqual(2 * VSYNC_MS + 1);
  });

  it('switches from the idle rate to the active one for a change, and back after it is drawn', () => {
    const { loop, pacer } = setup();
    pacer.setAmbient(true);
    loop.advance(1000);
    expect(loop.fps).toBe(IDLE);
    pacer.changed();
    expect(loop.fps).toBe(ACTIVE);
    loop.advance(1000 / ACTIVE + VSYNC_MS);
    expect(loop.fps).toBe(IDLE);
  });

  it('keeps the active rate for the whole of an animation, then idles', () => {
    const { loop, pacer } = setup();
    pacer.setAmbient(true);
    loop.advance(1000);
    pacer.animate(loop.now + 500);
    const start = loop.now;
    loop.advance(500);
    // 30 fps over 500 ms: 15 frames (give or take the vsync grid), against 4 at the idle rate.
    expect(loop.framesIn(start, start + 500)).toBeGreaterThanOrEqual(13);
    loop.advance(1000);
    expect(loop.framesIn(start + 600, start + 1500)).toBeLessThanOrEqual(IDLE);
    expect(pacer.rate).toBe(IDLE);
  });

  it('runs an animation that starts later at the active rate when it starts, not before', () => {
    const { loop, pacer } = setup();
    pacer.changed();
    loop.advance(100);
    const t0 = loop.now;
    pacer.animate(t0 + 1400, t0 + 1000);
    // Not asleep: an idle frame notices the start.
    expect(pacer.rate).toBe(IDLE);
    loop.advance(1000);
    expect(loop.framesIn(t0, t0 + 1000)).toBeLessThanOrEqual(IDLE + 1);
    loop.advance(400);
    expect(loop.framesIn(t0 + 1125, t0 + 1400)).toBeGreaterThanOrEqual(7);
    loop.advance(200);
    expect(loop.running).toBe(false);
  });

  it('stops drawing once the decorations are gone', () => {
    const { loop, pacer } = setup();
    pacer.setAmbient(true);
    loop.advance(1000);
    pacer.setAmbient(false);
    pacer.changed();
    loop.advance(200);
    const n = loop.drawnAt.length;
    loop.advance(5000);
    expect(loop.drawnAt.length).toBe(n);
    expect(pacer.frames).toBe(n);
  });
});

describe('tweenSpan', () => {
  it('counts the way back of a yoyo and each repeat', () => {
    expect(tweenSpan({ duration: 120 })).toBe(120);
    expect(tweenSpan({ duration: 60, yoyo: true })).toBe(120);
    expect(tweenSpan({ duration: 100, yoyo: true, repeat: 2 })).toBe(600);
  });
});
