/** Players: a 16x16 sprite drawn at 2x, colours from the name's hash (art.ts draws the rest). */
import { hashString, px, type Ctx } from './art.js';

const PLAYER_ROWS = [
  '................',
  '.....oooooo.....',
  '....ohhhhhho....',
  '...ohhhhhhhho...',
  '...ohhsssshho...',
  '...ohsessesho...',
  '....osssssso....',
  '.....oossoo.....',
  '...occcccccco...',
  '..oacdccccdcao..',
  '..oacdccccdcao..',
  '..osoccccccoso..',
  '....oppppppo....',
  '....oppooppo....',
  '....obboobbo....',
  '....oooooooo....',
];

export interface PlayerColors {
  shirt: string;
  shirtDark: string;
  hair: string;
  skin: string;
  pants: string;
}

const SKINS = ['#f1c27d', '#e0ac69', '#c68642', '#8d5524', '#ffdbac', '#f5cfa0'];
const HAIRS = ['#2b1b0e', '#5a3825', '#a0522d', '#d4a017', '#1a1a1a', '#b0b0b0', '#7b2d8e', '#c0392b'];
const PANTS = ['#34495e', '#2c3e50', '#4a3b2a', '#3b4a6b', '#223344'];

export function playerColors(name: string): PlayerColors {
  const h = hashString(name);
  const hue = h % 360;
  return {
    shirt: `hsl(${hue} 65% 52%)`,
    shirtDark: `hsl(${hue} 60% 38%)`,
    hair: HAIRS[(h >>> 9) % HAIRS.length]!,
    skin: SKINS[(h >>> 13) % SKINS.length]!,
    pants: PANTS[(h >>> 17) % PANTS.length]!,
  };
}

/** Hue of a player's shirt as a 0xRRGGBB number, for labels and highlights. */
export function playerTint(name: string): number {
  const hue = hashString(name) % 360;
  return hslToRgb(hue / 360, 0.65, 0.6);
}

function hslToRgb(h: number, s: number, l: number): number {
  const f = (n: number): number => {
    const k = (n + h * 12) % 12;
    const a = s * Math.min(l, 1 - l);
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return (f(0) << 16) | (f(8) << 8) | f(4);
}

export function drawPlayer(ctx: Ctx, name: string): void {
  const c = playerColors(name);
  const colors: Record<string, string> = {
    o: '#1b1b24',
    h: c.hair,
    s: c.skin,
    a: c.skin,
    x: c.skin,
    e: '#1b1b24',
    c: c.shirt,
    d: c.shirtDark,
    p: c.pants,
    b: '#3e2723',
  };
  PLAYER_ROWS.forEach((row, y) => {
    for (let x = 0; x < 16; x++) {
      const color = colors[row[x] ?? '.'];
      if (color) px(ctx, x * 2, y * 2, 2, 2, color);
    }
  });
}

export { PLAYER_ROWS };
