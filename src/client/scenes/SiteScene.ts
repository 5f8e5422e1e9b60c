/**
 * Draws the accepted view of the current site: tiles, portals, items, players and chat bubbles.
 * It owns no game state: it subscribes to the store and reconciles its sprites with each new
 * view, tweening players from tile to tile. Keyboard input lives in the DOM (`input.ts`).
 * It tells the pacer (`renderPacer.ts`) what changed and how long each animation runs, so the
 * game draws at full rate only while something moves.
 */
import * as Phaser from 'phaser';
import type { GameState, GameStore, ChatBubble } from '../store.js';
import type { Item, UserState } from '../../game/types.js';
import type { SiteView } from '../../game/view.js';
import { getSite, isSiteId, MAP_HEIGHT, MAP_WIDTH } from '../../game/world.js';
import { TILE, hashString, paletteOf } from '../art.js';
import { playerTint } from '../artPlayers.js';
import { tweenSpan, type RenderPacer } from '../renderPacer.js';
import {
  groundTexture,
  itemTexture,
  playerTexture,
  portalTextures,
  ringTexture,
  shadowTexture,
} from './textures.js';

export const MAP_W_PX = MAP_WIDTH * TILE;
export const MAP_H_PX = MAP_HEIGHT * TILE;
/** Duration of a one-tile step. */
export const STEP_MS = 120;
const SWIRL_FRAME_MS = 80;
/** A chat bubble fades out over its last this many ms. */
const BUBBLE_FADE_MS = 400;

const DEPTH_TILES = 0;
const DEPTH_PORTALS = 5;
const DEPTH_ITEMS = 10;
const DEPTH_PLAYERS = 100; // + pixel y
const DEPTH_BUBBLES = 10000;

const FONT = '"Trebuchet MS", "DejaVu Sans", Verdana, sans-serif';

interface PlayerSprite {
  root: Phaser.GameObjects.Container;
  body: Phaser.GameObjects.Image;
  label: Phaser.GameObjects.Text;
  tx: number;
  ty: number;
}

interface BubbleSprite {
  id: number;
  root: Phaser.GameObjects.Container;
  height: number;
  width: number;
  expiresAt: number;
}

const centre = (t: number): number => t * TILE + TILE / 2;

/** A tween's settings this scene uses; `repeat: -1` marks a looping decoration. */
type TweenConfig = Phaser.Types.Tweens.TweenBuilderConfig & { duration: number; yoyo?: boolean; repeat?: number };

export class SiteScene extends Phaser.Scene {
  private unsubscribe: (() => void) | null = null;
  private renderedSite: string | null = null;
  private mapObjects: Phaser.GameObjects.GameObject[] = [];
  private readonly items = new Map<string, Phaser.GameObjects.Container>();
  private readonly players = new Map<string, PlayerSprite>();
  private readonly bubbles = new Map<string, BubbleSprite>();
  private me: string | null = null;
  private lastView: SiteView | null = null;
  private lastBubbles: ChatBubble[] | null = null;
  private waiting: Phaser.GameObjects.Text | null = null;
  private swirls: Array<{ img: Phaser.GameObjects.Image; frames: string[] }> = [];
  /** Set by game.ts before the scene is created. */
  pacer: RenderPacer | null = null;

  constructor(private readonly store: GameStore) {
    super({ key: 'site' });
  }

  create(): void {
    this.cameras.main.setBounds(0, 0, MAP_W_PX, MAP_H_PX);
    this.waiting = this.add
      .text(MAP_W_PX / 2, MAP_H_PX / 2, 'Connecting…', {
        fontFamily: FONT,
        fontSize: '18px',
        color: '#c9d1e0',
        resolution: 2,
      })
      .setOrigin(0.5)
      .setDepth(DEPTH_BUBBLES);
    this.unsubscribe = this.store.subscribe((s) => this.sync(s));
    this.events.once(Phaser.Scenes.Events.SHUTDOWN, () => this.unsubscribe?.());
    this.sync(this.store.getState());
  }

  override update(): void {
    const now = performance.now();
    for (const s of this.swirls) {
      const key = s.frames[Math.floor(now / SWIRL_FRAME_MS) % s.frames.length]!;
      if (s.img.texture.key !== key) s.img.setTexture(key);
    }
    for (const [speaker, b] of this.bubbles) {
      const p = this.players.get(speaker);
      if (!p || b.expiresAt <= now) {
        this.dropBubble(speaker);
        continue;
      }
      const x = Phaser.Math.Clamp(p.root.x, b.width / 2 + 2, MAP_W_PX - b.width / 2 - 2);
      const y = Math.max(p.root.y - 30, b.height + 2);
      b.root.setPosition(x, y);
      b.root.setAlpha(Math.min(1, (b.expiresAt - now) / BUBBLE_FADE_MS));
    }
    for (const p of this.players.values()) p.root.setDepth(DEPTH_PLAYERS + p.root.y);
  }

  // -------------------------------------------------------------------------------------------
  // Reconciliation with the store
  // -------------------------------------------------------------------------------------------

  private sync(s: GameState): void {
    this.me = s.session?.user ?? null;
    const view = s.site !== null ? s.view : null;
    if (!view || !isSiteId(view.site)) {
      const text = s.session ? 'Entering…' : 'Connecting…';
      if (this.renderedSite !== null || this.waiting?.visible !== true || this.waiting.text !== text) {
        if (this.renderedSite !== null) this.clearAll();
        this.waiting?.setVisible(true).setText(text);
        this.pacer?.changed();
      }
      this.lastView = null;
      return;
    }
    let changed = false;
    if (this.waiting?.visible === true) {
      this.waiting.setVisible(false);
      changed = true;
    }
    if (view.site !== this.renderedSite) {
      this.clearAll();
      this.buildMap(view.site);
      this.lastView = null;
      changed = true;
    }
    if (view !== this.lastView) {
      const arriving = this.lastView === null;
      this.syncItems(view.items, arriving);
      this.syncPlayers(view.users, arriving);
      this.lastView = view;
      changed = true;
    }
    if (s.bubbles !== this.lastBubbles) {
      this.syncBubbles(s.bubbles);
      this.lastBubbles = s.bubbles;
      changed = true;
    }
    // Only what the map shows: the store also changes for the HUD (round trips, server states).
    if (changed) this.pacer?.changed();
  }

  /** Adds a tween and tells the pacer how long it needs the full frame rate (loops: the idle rate). */
  private tween(config: TweenConfig): void {
    this.tweens.add(config);
    if (config.repeat !== -1) this.pacer?.animate(performance.now() + tweenSpan(config));
  }

  private clearAll(): void {
    for (const o of this.mapObjects) o.destroy();
    this.mapObjects = [];
    this.swirls = [];
    for (const c of this.items.values()) c.destroy();
    this.items.clear();
    for (const p of this.players.values()) {
      this.tweens.killTweensOf(p.root);
      p.root.destroy();
    }
    this.players.clear();
    for (const k of [...this.bubbles.keys()]) this.dropBubble(k);
    this.renderedSite = null;
    this.lastBubbles = null;
    this.pacer?.setAmbient(false);
  }

  private buildMap(siteId: string): void {
    const def = getSite(siteId);
    this.cameras.main.setBackgroundColor(paletteOf(siteId).bg);
    this.mapObjects.push(this.add.image(0, 0, groundTexture(this, siteId)).setOrigin(0, 0).setDepth(DEPTH_TILES));
    const tex = portalTextures(this);
    for (const p of def.portals) {
      const cx = centre(p.x);
      const cy = centre(p.y);
      const base = this.add.image(cx, cy, tex.base).setDepth(DEPTH_PORTALS);
      const swirl = this.add.image(cx, cy, tex.swirl[0]!).setDepth(DEPTH_PORTALS + 1);
      this.swirls.push({ img: swirl, frames: tex.swirl });
      this.tween({
        targets: swirl,
        scale: 0.82,
        duration: 900,
        yoyo: true,
        repeat: -1,
        ease: 'Sine.easeInOut',
      });
      const destName = isSiteId(p.to) ? getSite(p.to).name : p.to;
      const label = this.add
        .text(cx, cy - 22, `▸ ${destName}`, {
          fontFamily: FONT,
          fontSize: '10px',
          color: '#f3eaff',
          backgroundColor: 'rgba(40,20,90,0.78)',
          padding: { x: 4, y: 2 },
          resolution: 3,
        })
        .setOrigin(0.5, 1)
        .setDepth(DEPTH_ITEMS + 1);
      // Keep labels on the map near the edges.
      label.setX(Phaser.Math.Clamp(cx, label.width / 2 + 2, MAP_W_PX - label.width / 2 - 2));
      if (label.y - label.height < 0) label.setY(cy + 30).setOrigin(0.5, 0);
      this.mapObjects.push(base, swirl, label);
    }
    this.renderedSite = siteId;
    // Portals swirl (and items bob, the player's ring pulses) as long as the map is shown.
    this.pacer?.setAmbient(true);
  }

  private syncItems(items: readonly Item[], arriving: boolean): void {
    const seen = new Set<string>();
    for (const it of items) {
      seen.add(it.id);
      const existing = this.items.get(it.id);
      if (existing) {
        existing.setPosition(centre(it.x), centre(it.y));
        continue;
      }
      const shadow = this.add.image(0, 9, shadowTexture(this)).setScale(0.7);
      const icon = this.add.image(0, 0, itemTexture(this, it.kind)).setScale(0.8);
      const c = this.add.container(centre(it.x), centre(it.y), [shadow, icon]).setDepth(DEPTH_ITEMS);
      c.setData('kind', it.kind);
      this.tween({
        targets: icon,
        y: -3,
        duration: 700 + (hashString(it.id) % 400),
        yoyo: true,
        repeat: -1,
        ease: 'Sine.easeInOut',
      });
      if (!arriving) {
        c.setScale(0.1);
        this.tween({ targets: c, scale: 1, duration: 260, ease: 'Back.easeOut' });
      }
      this.items.set(it.id, c);
    }
    for (const [id, c] of this.items) {
      if (seen.has(id)) continue;
      this.items.delete(id);
      this.tweens.killTweensOf(c.list);
      this.tween({
        targets: c,
        y: c.y - 16,
        alpha: 0,
        scale: 1.3,
        duration: 220,
        onComplete: () => c.destroy(),
      });
    }
  }

  private syncPlayers(users: readonly UserState[], arriving: boolean): void {
    const seen = new Set<string>();
    for (const u of users) {
      seen.add(u.name);
      const p = this.players.get(u.name);
      if (!p) {
        this.players.set(u.name, this.makePlayer(u, !arriving));
        continue;
      }
      if (p.tx === u.x && p.ty === u.y) continue;
      const steps = Math.abs(p.tx - u.x) + Math.abs(p.ty - u.y);
      if (u.x !== p.tx) p.body.setFlipX(u.x < p.tx);
      p.tx = u.x;
      p.ty = u.y;
      this.tweens.killTweensOf(p.root);
      if (steps > 2) {
        p.root.setPosition(centre(u.x), centre(u.y));
      } else {
        this.tween({
          targets: p.root,
          x: centre(u.x),
          y: centre(u.y),
          duration: STEP_MS * steps,
          ease: 'Linear',
        });
        this.tween({
          targets: p.body,
          y: -4,
          duration: (STEP_MS * steps) / 2,
          yoyo: true,
          ease: 'Sine.easeOut',
        });
      }
    }
    for (const [name, p] of this.players) {
      if (seen.has(name)) continue;
      this.players.delete(name);
      this.tweens.killTweensOf(p.root);
      this.tween({ targets: p.root, alpha: 0, duration: 200, onComplete: () => p.root.destroy() });
      this.dropBubble(name);
    }
  }

  private makePlayer(u: UserState, fadeIn: boolean): PlayerSprite {
    const mine = u.name === this.me;
    const parts: Phaser.GameObjects.GameObject[] = [];
    if (mine) {
      const ring = this.add.image(0, 13, ringTexture(this));
      this.tween({
        targets: ring,
        alpha: 0.35,
        duration: 700,
        yoyo: true,
        repeat: -1,
        ease: 'Sine.easeInOut',
      });
      parts.push(ring);
    }
    parts.push(this.add.image(0, 13, shadowTexture(this)));
    const body = this.add.image(0, 0, playerTexture(this, u.name)).setOrigin(0.5, 0.55);
    parts.push(body);
    const tint = playerTint(u.name);
    const label = this.add
      .text(0, -18, u.name, {
        fontFamily: FONT,
        fontSize: mine ? '11px' : '10px',
        fontStyle: 'bold',
        color: mine ? '#ffe066' : '#ffffff',
        stroke: mine ? '#3a2a00' : `#${(tint & 0x3f3f3f).toString(16).padStart(6, '0')}`,
        strokeThickness: 3,
        resolution: 3,
      })
      .setOrigin(0.5, 1);
    parts.push(label);
    const root = this.add.container(centre(u.x), centre(u.y), parts).setDepth(DEPTH_PLAYERS + centre(u.y));
    root.setData('name', u.name);
    if (fadeIn) {
      root.setAlpha(0);
      this.tween({ targets: root, alpha: 1, duration: 250 });
    }
    return { root, body, label, tx: u.x, ty: u.y };
  }

  private syncBubbles(list: readonly ChatBubble[]): void {
    const now = performance.now();
    const live = new Map(list.filter((b) => b.expiresAt > now).map((b) => [b.speaker, b]));
    for (const [speaker, b] of this.bubbles) {
      const want = live.get(speaker);
      if (!want || want.id !== b.id) this.dropBubble(speaker);
    }
    for (const b of live.values()) {
      if (this.bubbles.has(b.speaker)) continue;
      this.bubbles.set(b.speaker, this.makeBubble(b));
    }
  }

  private makeBubble(b: ChatBubble): BubbleSprite {
    const text = this.add
      .text(0, 0, b.text, {
        fontFamily: FONT,
        fontSize: '11px',
        color: '#1b1b24',
        wordWrap: { width: 150, useAdvancedWrap: true },
        align: 'center',
        resolution: 3,
      })
      .setOrigin(0.5, 1);
    const w = Math.ceil(text.width) + 12;
    const h = Math.ceil(text.height) + 8;
    text.setY(-8 - 4);
    const g = this.add.graphics();
    g.fillStyle(0x000000, 0.25).fillRoundedRect(-w / 2 + 1, -h - 8 + 2, w, h, 6);
    g.fillStyle(0xffffff, 0.96).fillRoundedRect(-w / 2, -h - 8, w, h, 6);
    g.fillTriangle(-5, -8.5, 5, -8.5, 0, -2);
    g.lineStyle(1, 0x1b1b24, 0.35).strokeRoundedRect(-w / 2, -h - 8, w, h, 6);
    const root = this.add.container(0, 0, [g, text]).setDepth(DEPTH_BUBBLES);
    root.setData('speaker', b.speaker);
    const p = this.players.get(b.speaker);
    if (p) root.setPosition(p.root.x, p.root.y - 30);
    root.setScale(0.6);
    this.tween({ targets: root, scale: 1, duration: 150, ease: 'Back.easeOut' });
    // Its fade, and the frame that removes it, at the full rate too.
    this.pacer?.animate(b.expiresAt + 1, b.expiresAt - BUBBLE_FADE_MS);
    return { id: b.id, root, width: w, height: h + 8, expiresAt: b.expiresAt };
  }

  private dropBubble(speaker: string): void {
    const b = this.bubbles.get(speaker);
    if (!b) return;
    this.bubbles.delete(speaker);
    this.tweens.killTweensOf(b.root);
    b.root.destroy();
  }
}
