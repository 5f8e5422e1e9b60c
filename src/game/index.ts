export * from './types.js';
export * from './world.js';
export * from './rules.js';
export * from './path.js';
export * from './view.js';
export * from './canonical.js';
export * from './rng.js';
export * from './text.js';
