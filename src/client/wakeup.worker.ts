/// <reference lib="webworker" />
/**
 * The Site Server's metronome: a dedicated Worker's timer keeps firing every T_timeslot in a
 * hidden tab, where a main-thread timer fires only once a second (measured in this machine's
 * Chromium). It only says "now"; the core runs on the main thread, next to the data channels.
 */
let timer: ReturnType<typeof setTimeout> | null = null;

self.onmessage = (e: MessageEvent<{ gen: number; delay: number }>) => {
  if (timer !== null) clearTimeout(timer);
  timer = null;
  const { gen, delay } = e.data;
  if (delay >= 0) timer = setTimeout(() => self.postMessage(gen), delay);
};
