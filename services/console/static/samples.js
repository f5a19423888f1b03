// Scale samples the console takes itself: while a page shows a function, its instances and lag
// are read every few seconds from GET /v1/functions/{name} and kept here for this tab, so that
// charts can draw them when the metrics API has no such series.

import {sum} from './dom.js';

const maxSamples = 2000;
const byFunction = new Map();

// record keeps one sample of a function's scale view.
export function record(name, scale, t = Date.now()) {
  if (!scale) return;
  let list = byFunction.get(name);
  if (!list) byFunction.set(name, (list = []));
  list.push({t, running: sum(scale.running), busy: sum(scale.busy), desired: scale.desired || 0, lag: scale.lag || 0});
  if (list.length > maxSamples) list.splice(0, list.length - maxSamples);
}

// samples are a function's samples, oldest first.
export function samples(name) {
  return byFunction.get(name) || [];
}
