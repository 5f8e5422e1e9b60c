/**
 * Procedural pixel art, drawn on 2D canvases at runtime (no asset downloads). Pure drawing
 * functions on a CanvasRenderingContext2D; `scenes/textures.ts` turns them into Phaser textures.
 */
import { randomStream } from '../game/rng.js';
import type { TileChar } from '../game/world.js';

export const TILE = 32;

export type Ctx = CanvasRenderingContext2D;

/** Small seeded generator for texture noise (the game's mulberry32). */
export const rng = randomStream;

/** FNV-1a hash of a string, as uint32. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function px(ctx: Ctx, x: number, y: number, w: number, h: number, color: string): void {
  ctx.fillStyle = color;
  ctx.fillRect(x, y, w, h);
}

function speckle(ctx: Ctx, r: () => number, n: number, colors: string[], size = 2): void {
  for (let i = 0; i < n; i++) {
    const c = colors[Math.floor(r() * colors.length)] ?? colors[0]!;
    px(ctx, Math.floor(r() * (TILE - size + 1)), Math.floor(r() * (TILE - size + 1)), size, size, c);
  }
}

// ---------------------------------------------------------------------------------------------
// Site palettes
// ---------------------------------------------------------------------------------------------

export interface Palette {
  /** Walkable ground: ',' grass, '.' floor. */
  grass: [string, string, string];
  floor: [string, string, string];
  floorStyle: 'cobble' | 'rock' | 'sand' | 'dirt';
  wall: [string, string, string];
  wallStyle: 'hedge' | 'brick' | 'rock' | 'block';
  tree: [string, string, string];
  water: [string, string, string];
  /** Page background around the map. */
  bg: string;
}

const DEFAULT_PALETTE: Palette = {
  grass: ['#5fae4b', '#4f9a3e', '#77c25c'],
  floor: ['#b9a98a', '#a39476', '#cbbd9f'],
  floorStyle: 'cobble',
  wall: ['#7d7f88', '#5d5f68', '#9a9ca6'],
  wallStyle: 'block',
  tree: ['#2f7d32', '#1f5e24', '#48a14a'],
  water: ['#3c7fd0', '#2f68b3', '#8cc4f2'],
  bg: '#1c2330',
};

export const PALETTES: Record<string, Palette> = {
  meadow: { ...DEFAULT_PALETTE, wall: ['#3f7d3a', '#2d5e2a', '#5a9b4f'], wallStyle: 'hedge', bg: '#16261a' },
  town: {
    ...DEFAULT_PALETTE,
    floor: ['#b8ab94', '#a0937c', '#cdc2ad'],
    floorStyle: 'cobble',
    wall: ['#a0523d', '#7b3b2b', '#c06b52'],
    wallStyle: 'brick',
    bg: '#2a1d19',
  },
  forest: {
    ...DEFAULT_PALETTE,
    grass: ['#3f7a36', '#33672c', '#4f8c43'],
    tree: ['#1d5a2a', '#123f1c', '#2e7a3a'],
    wall: ['#2b4d2a', '#1c361c', '#3c643a'],
    wallStyle: 'hedge',
    bg: '#0f1a10',
  },
  lake: {
    ...DEFAULT_PALETTE,
    grass: ['#6db957', '#5aa548', '#8ad06f'],
    floor: ['#d8c99a', '#c4b585', '#e8dcb2'],
    floorStyle: 'sand',
    wall: ['#8d8a80', '#6c6a62', '#aaa79c'],
    wallStyle: 'rock',
    bg: '#13233a',
  },
  cave: {
    ...DEFAULT_PALETTE,
    floor: ['#4b4458', '#3d3749', '#5c546b'],
    floorStyle: 'rock',
    wall: ['#2a2433', '#1b1722', '#3c3448'],
    wallStyle: 'rock',
    bg: '#0c0a10',
  },
  ruins: {
    ...DEFAULT_PALETTE,
    floor: ['#c9b47e', '#b39f6b', '#dccb98'],
    floorStyle: 'sand',
    wall: ['#7b8a6e', '#5e6b53', '#98a889'],
    wallStyle: 'block',
    bg: '#1e1f16',
  },
};

export function paletteOf(site: string): Palette {
  return PALETTES[site] ?? DEFAULT_PALETTE;
}

// ---------------------------------------------------------------------------------------------
// Tiles
// ---------------------------------------------------------------------------------------------

function drawGrass(ctx: Ctx, p: Palette, r: () => number): void {
  px(ctx, 0, 0, TILE, TILE, p.grass[0]);
  speckle(ctx, r, 18, [p.grass[1], p.grass[2]]);
  // Blades.
  for (let i = 0; i < 5; i++) {
    const x = Math.floor(r() * 28) + 2;
    const y = Math.floor(r() * 26) + 4;
    px(ctx, x, y, 1, 3, p.grass[1]);
    px(ctx, x + 1, y - 1, 1, 3, p.grass[2]);
  }
}

function drawFloor(ctx: Ctx, p: Palette, r: () => number): void {
  const [base, dark, light] = p.floor;
  px(ctx, 0, 0, TILE, TILE, base);
  switch (p.floorStyle) {
    case 'cobble': {
      // Irregular stones with dark grout.
      px(ctx, 0, 0, TILE, TILE, dark);
      const rows = [0, 11, 22];
      rows.forEach((y0, ri) => {
        let x = ri % 2 === 0 ? -4 : 0;
        while (x < TILE) {
          const w = 9 + Math.floor(r() * 6);
          px(ctx, x + 1, y0 + 1, w - 2, 9, r() < 0.7 ? base : light);
          px(ctx, x + 1, y0 + 9, w - 2, 1, dark);
          px(ctx, x + 2, y0 + 2, w - 5, 1, light);
          x += w;
        }
      });
      break;
    }
    case 'rock':
      speckle(ctx, r, 22, [dark, light]);
      for (let i = 0; i < 2; i++) {
        const x = Math.floor(r() * 24) + 2;
        const y = Math.floor(r() * 24) + 2;
        px(ctx, x, y, 6, 1, dark);
        px(ctx, x + 5, y + 1, 1, 3, dark);
      }
      break;
    case 'sand':
      speckle(ctx, r, 26, [dark, light], 1);
      for (let i = 0; i < 2; i++) {
        const y = Math.floor(r() * 28) + 2;
        const x = Math.floor(r() * 16);
        px(ctx, x, y, 10, 1, light);
      }
      break;
    case 'dirt':
      speckle(ctx, r, 20, [dark, light]);
      break;
  }
}

function drawWall(ctx: Ctx, p: Palette, r: () => number): void {
  const [base, dark, light] = p.wall;
  switch (p.wallStyle) {
    case 'brick': {
      px(ctx, 0, 0, TILE, TILE, '#5b2d22');
      for (let row = 0; row < 4; row++) {
        const off = row % 2 === 0 ? 0 : -8;
        for (let x = off; x < TILE; x += 16) {
          const c = r() < 0.25 ? dark : r() < 0.3 ? light : base;
          px(ctx, x + 1, row * 8 + 1, 14, 6, c);
          px(ctx, x + 1, row * 8 + 1, 14, 1, light);
        }
      }
      px(ctx, 0, 29, TILE, 3, 'rgba(0,0,0,0.35)');
      break;
    }
    case 'hedge': {
      px(ctx, 0, 0, TILE, TILE, dark);
      for (let i = 0; i < 14; i++) {
        const x = Math.floor(r() * 26);
        const y = Math.floor(r() * 24);
        ctx.fillStyle = r() < 0.5 ? base : light;
        ctx.beginPath();
        ctx.arc(x + 3, y + 3, 4 + r() * 3, 0, Math.PI * 2);
        ctx.fill();
      }
      speckle(ctx, r, 10, [light, '#00000033'], 2);
      px(ctx, 0, 28, TILE, 4, 'rgba(0,0,0,0.3)');
      break;
    }
    case 'rock': {
      px(ctx, 0, 0, TILE, TILE, base);
      ctx.fillStyle = light;
      ctx.beginPath();
      ctx.moveTo(3, 20);
      ctx.lineTo(10, 5);
      ctx.lineTo(20, 3);
      ctx.lineTo(28, 12);
      ctx.lineTo(22, 14);
      ctx.lineTo(12, 12);
      ctx.closePath();
      ctx.fill();
      speckle(ctx, r, 14, [dark, light]);
      px(ctx, 0, 26, TILE, 6, dark);
      break;
    }
    case 'block': {
      px(ctx, 0, 0, TILE, TILE, dark);
      for (let row = 0; row < 2; row++) {
        const off = row === 0 ? 0 : -8;
        for (let x = off; x < TILE; x += 16) {
          px(ctx, x + 1, row * 16 + 1, 14, 14, base);
          px(ctx, x + 1, row * 16 + 1, 14, 2, light);
          if (r() < 0.4) px(ctx, x + 4 + Math.floor(r() * 6), row * 16 + 6, 3, 2, '#4f7a3c'); // moss
        }
      }
      break;
    }
  }
}

function drawWater(ctx: Ctx, p: Palette, r: () => number): void {
  const [base, dark, light] = p.water;
  px(ctx, 0, 0, TILE, TILE, base);
  speckle(ctx, r, 10, [dark], 3);
  for (let i = 0; i < 3; i++) {
    const x = Math.floor(r() * 22) + 2;
    const y = Math.floor(r() * 26) + 3;
    px(ctx, x, y, 3, 1, light);
    px(ctx, x + 3, y - 1, 3, 1, light);
    px(ctx, x + 6, y, 2, 1, light);
  }
}

function drawTree(ctx: Ctx, p: Palette, r: () => number): void {
  drawGrass(ctx, p, r);
  const [base, dark, light] = p.tree;
  // Shadow, trunk, canopy.
  ctx.fillStyle = 'rgba(0,0,0,0.28)';
  ctx.beginPath();
  ctx.ellipse(16, 27, 11, 4, 0, 0, Math.PI * 2);
  ctx.fill();
  px(ctx, 14, 19, 4, 9, '#6b4423');
  px(ctx, 14, 19, 1, 9, '#8a5a30');
  const blob = (x: number, y: number, rad: number, c: string): void => {
    ctx.fillStyle = c;
    ctx.beginPath();
    ctx.arc(x, y, rad, 0, Math.PI * 2);
    ctx.fill();
  };
  blob(16, 13, 11, dark);
  blob(12, 11, 7, base);
  blob(20, 12, 7, base);
  blob(16, 8, 7, base);
  blob(13, 8, 3, light);
  blob(19, 10, 2, light);
}

export function drawTile(ctx: Ctx, site: string, ch: TileChar, variant: number): void {
  const p = paletteOf(site);
  const r = rng(hashString(`${site}:${ch}:${variant}`));
  switch (ch) {
    case ',':
      drawGrass(ctx, p, r);
      break;
    case '.':
      drawFloor(ctx, p, r);
      break;
    case '#':
      drawWall(ctx, p, r);
      break;
    case '~':
      drawWater(ctx, p, r);
      break;
    case 'T':
      drawTree(ctx, p, r);
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// Portal
// ---------------------------------------------------------------------------------------------

/** The portal's swirl, turned by `phase` (0..1) of a full turn; frames are pre-drawn instead of rotating a sprite. */
export function drawPortal(ctx: Ctx, phase = 0): void {
  const g = ctx.createRadialGradient(16, 16, 2, 16, 16, 15);
  g.addColorStop(0, 'rgba(255,255,255,0.95)');
  g.addColorStop(0.35, 'rgba(170,120,255,0.9)');
  g.addColorStop(0.75, 'rgba(80,40,200,0.75)');
  g.addColorStop(1, 'rgba(40,10,120,0)');
  ctx.fillStyle = g;
  ctx.beginPath();
  ctx.arc(16, 16, 15, 0, Math.PI * 2);
  ctx.fill();
  // Spiral arms.
  ctx.strokeStyle = 'rgba(200,240,255,0.9)';
  ctx.lineWidth = 2;
  for (let arm = 0; arm < 3; arm++) {
    ctx.beginPath();
    for (let t = 0; t < 1; t += 0.05) {
      const a = phase * Math.PI * 2 + arm * ((Math.PI * 2) / 3) + t * Math.PI * 1.6;
      const rad = 3 + t * 10;
      const x = 16 + Math.cos(a) * rad;
      const y = 16 + Math.sin(a) * rad;
      if (t === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    }
    ctx.stroke();
  }
}

/** Stone ring the portal sits on. */
export function drawPortalBase(ctx: Ctx): void {
  ctx.fillStyle = 'rgba(0,0,0,0.3)';
  ctx.beginPath();
  ctx.ellipse(16, 17, 15, 14, 0, 0, Math.PI * 2);
  ctx.fill();
  ctx.strokeStyle = '#cdbfff';
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.arc(16, 16, 14, 0, Math.PI * 2);
  ctx.stroke();
  for (let i = 0; i < 8; i++) {
    const a = (i / 8) * Math.PI * 2;
    px(ctx, Math.round(16 + Math.cos(a) * 14) - 1, Math.round(16 + Math.sin(a) * 14) - 1, 3, 3, '#f3eaff');
  }
}

// ---------------------------------------------------------------------------------------------
// Items (drawn centred on a 32x32 canvas, about 18 px tall)
// ---------------------------------------------------------------------------------------------

function circle(ctx: Ctx, x: number, y: number, r: number, c: string): void {
  ctx.fillStyle = c;
  ctx.beginPath();
  ctx.arc(x, y, r, 0, Math.PI * 2);
  ctx.fill();
}

export const ITEM_KINDS = [
  'flower',
  'berry',
  'coin',
  'bread',
  'mushroom',
  'fish',
  'shell',
  'crystal',
  'ore',
  'relic',
];

export function drawItem(ctx: Ctx, kind: string): void {
  drawItemShape(ctx, kind);
  outline(ctx, [24, 18, 32, 220]);
}

/** A one-pixel dark rim around whatever is drawn, so icons read on any ground. */
function outline(ctx: Ctx, rgba: [number, number, number, number]): void {
  const { width: w, height: h } = ctx.canvas;
  const img = ctx.getImageData(0, 0, w, h);
  const a = (x: number, y: number): number =>
    x < 0 || y < 0 || x >= w || y >= h ? 0 : img.data[(y * w + x) * 4 + 3]!;
  const out = new Uint8ClampedArray(img.data);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (a(x, y) > 60) continue;
      if (a(x - 1, y) > 140 || a(x + 1, y) > 140 || a(x, y - 1) > 140 || a(x, y + 1) > 140) {
        out.set(rgba, (y * w + x) * 4);
      }
    }
  }
  img.data.set(out);
  ctx.putImageData(img, 0, 0);
}

function drawItemShape(ctx: Ctx, kind: string): void {
  ctx.lineJoin = 'round';
  switch (kind) {
    case 'flower':
      px(ctx, 15, 16, 2, 10, '#2e7d32');
      px(ctx, 17, 20, 4, 2, '#43a047');
      for (let i = 0; i < 5; i++) {
        const a = (i / 5) * Math.PI * 2 - Math.PI / 2;
        circle(ctx, 16 + Math.cos(a) * 5, 12 + Math.sin(a) * 5, 4, '#f06292');
      }
      circle(ctx, 16, 12, 3, '#ffeb3b');
      break;
    case 'berry':
      px(ctx, 15, 6, 2, 5, '#558b2f');
      px(ctx, 17, 6, 5, 3, '#7cb342');
      for (const [x, y] of [
        [12, 14],
        [20, 14],
        [16, 19],
        [11, 21],
        [21, 21],
        [16, 12],
      ] as const) {
        circle(ctx, x, y, 4, '#6a1b9a');
        circle(ctx, x - 1, y - 1, 1.5, '#ce93d8');
      }
      break;
    case 'coin':
      circle(ctx, 16, 16, 9, '#b8860b');
      circle(ctx, 16, 16, 7.5, '#ffd54f');
      px(ctx, 15, 11, 2, 10, '#c79100');
      px(ctx, 12, 11, 2, 3, '#fff8e1');
      break;
    case 'bread':
      ctx.fillStyle = '#a0642a';
      ctx.beginPath();
      ctx.ellipse(16, 17, 11, 7, 0, 0, Math.PI * 2);
      ctx.fill();
      ctx.fillStyle = '#d39a52';
      ctx.beginPath();
      ctx.ellipse(16, 15, 10, 5.5, 0, 0, Math.PI * 2);
      ctx.fill();
      for (const x of [10, 15, 20]) px(ctx, x, 13, 3, 1, '#f3d09a');
      break;
    case 'mushroom':
      px(ctx, 13, 16, 6, 9, '#f5ecd7');
      px(ctx, 13, 16, 1, 9, '#d7cbb0');
      ctx.fillStyle = '#d32f2f';
      ctx.beginPath();
      ctx.arc(16, 16, 10, Math.PI, 0);
      ctx.fill();
      circle(ctx, 12, 12, 1.8, '#ffffff');
      circle(ctx, 19, 10, 1.8, '#ffffff');
      circle(ctx, 21, 14, 1.3, '#ffffff');
      break;
    case 'fish':
      ctx.fillStyle = '#4fc3f7';
      ctx.beginPath();
      ctx.ellipse(14, 16, 9, 5, 0, 0, Math.PI * 2);
      ctx.fill();
      ctx.beginPath();
      ctx.moveTo(22, 16);
      ctx.lineTo(28, 11);
      ctx.lineTo(28, 21);
      ctx.closePath();
      ctx.fill();
      px(ctx, 8, 14, 2, 2, '#0d253f');
      px(ctx, 12, 19, 8, 1, '#0288d1');
      break;
    case 'shell':
      ctx.fillStyle = '#ffccbc';
      ctx.beginPath();
      ctx.moveTo(16, 24);
      ctx.lineTo(6, 13);
      ctx.arc(16, 13, 10, Math.PI, 0);
      ctx.closePath();
      ctx.fill();
      ctx.strokeStyle = '#e07a5f';
      ctx.lineWidth = 1;
      for (let i = 0; i < 5; i++) {
        ctx.beginPath();
        ctx.moveTo(16, 23);
        ctx.lineTo(8 + i * 4, 6 + Math.abs(2 - i) * 1.5);
        ctx.stroke();
      }
      break;
    case 'crystal':
      ctx.fillStyle = '#4dd0e1';
      ctx.beginPath();
      ctx.moveTo(16, 4);
      ctx.lineTo(23, 14);
      ctx.lineTo(16, 27);
      ctx.lineTo(9, 14);
      ctx.closePath();
      ctx.fill();
      ctx.fillStyle = '#b2ebf2';
      ctx.beginPath();
      ctx.moveTo(16, 4);
      ctx.lineTo(16, 27);
      ctx.lineTo(9, 14);
      ctx.closePath();
      ctx.fill();
      px(ctx, 13, 10, 2, 4, '#ffffff');
      break;
    case 'ore':
      ctx.fillStyle = '#6d6875';
      ctx.beginPath();
      ctx.moveTo(6, 22);
      ctx.lineTo(9, 11);
      ctx.lineTo(17, 7);
      ctx.lineTo(25, 12);
      ctx.lineTo(27, 22);
      ctx.closePath();
      ctx.fill();
      for (const [x, y] of [
        [12, 14],
        [19, 12],
        [16, 18],
        [22, 18],
      ] as const)
        px(ctx, x, y, 3, 3, '#ff9800');
      px(ctx, 10, 12, 4, 1, '#9e98a8');
      break;
    case 'relic':
      circle(ctx, 16, 16, 10, '#8d6e63');
      circle(ctx, 16, 16, 8, '#ffca28');
      ctx.fillStyle = '#e65100';
      ctx.beginPath();
      ctx.moveTo(16, 9);
      ctx.lineTo(21, 16);
      ctx.lineTo(16, 23);
      ctx.lineTo(11, 16);
      ctx.closePath();
      ctx.fill();
      circle(ctx, 16, 16, 2, '#fff59d');
      break;
    default:
      ctx.fillStyle = '#ab47bc';
      ctx.beginPath();
      ctx.moveTo(16, 7);
      ctx.lineTo(24, 16);
      ctx.lineTo(16, 25);
      ctx.lineTo(8, 16);
      ctx.closePath();
      ctx.fill();
      px(ctx, 13, 12, 3, 3, '#e1bee7');
  }
}
