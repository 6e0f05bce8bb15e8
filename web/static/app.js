// raftviz: wires the page together — the connection (connection.js), the
// controller that alone writes the model (controller.js), and the views that
// read it (cluster.js, logs.js, timeline.js, panel.js) — and draws them on
// each animation frame. See visualizer/PROTOCOL.md.

import { Model } from './model.js';
import { Connection } from './connection.js';
import { Controller } from './controller.js';
import { ClusterView } from './cluster.js';
import { LogsView } from './logs.js';
import { TimelineView } from './timeline.js';
import { PanelView } from './panel.js';

const $ = id => document.getElementById(id);
const model = new Model();

let controller = null;
const cluster = new ClusterView($('cluster'), $('messages'), model, p => controller.pick(p));
const logs = new LogsView($('logs'), model);
const timeline = new TimelineView($('timeline'), model, t => controller.send({ op: 'seek', t }), () => controller.send({ op: 'live' }));
const panel = new PanelView(model);
const conn = new Connection({
  onFrame: f => controller.onFrame(f),
  onOpen: () => controller.onOpen(),
  onClose: () => controller.onClose(),
});
controller = new Controller({ model, conn, cluster, panel, timeline, logs });
controller.bind();

// Virtual time moves on between frames at the session's speed; the page
// extrapolates from the last time the server told it.
let clock = { vt: 0, wall: performance.now(), t: -1 };
function virtualNow() {
  if (model.t !== clock.t) clock = { vt: model.t, wall: performance.now(), t: model.t };
  if (model.paused || !model.live) return model.t;
  const vt = clock.vt + (performance.now() - clock.wall) * 1e6 * model.speed;
  // Never run far ahead of what the server has said (it may be capping work).
  return Math.min(vt, model.t + 200e6 * Math.max(model.speed, 0.001));
}

// layout gives the ring the largest square that fits beside the panels, and
// leaves the rest of the width to the panels and the logs.
function layout() {
  const main = document.querySelector('main');
  const box = $('cluster-box');
  const rowHeight = box.clientHeight;
  const extra = [...box.children].filter(c => c.id !== 'ring').reduce((h, c) => h + c.offsetHeight + 4, 0);
  const side = Math.max(240, Math.min(rowHeight - extra, main.clientWidth * 0.5));
  main.style.setProperty('--ring-w', Math.round(side) + 'px');
}
const resized = new ResizeObserver(layout);
resized.observe(document.querySelector('main'));
resized.observe($('cluster-box')); // its height changes with the timeline's
window.addEventListener('resize', layout);

const framesAt = [];
function loop(now) {
  const stats = controller.stats;
  stats.frames++;
  framesAt.push(now);
  while (framesAt.length && framesAt[0] < now - 1000) framesAt.shift();
  stats.fps = framesAt.length;
  const vt = virtualNow();
  controller.tick(vt);
  cluster.update();
  cluster.frame(vt);
  logs.update();
  timeline.draw(vt);
  panel.update();
  if (stats.frames % 6 === 0) panel.info(vt, controller.hello);
  requestAnimationFrame(loop);
}

// For tests and the curious: the model, the page's own counters, and a way
// to send a command.
window.raftviz = { model, stats: controller.stats, send: cmd => controller.send(cmd), cluster, timeline, logs, panel };

conn.connect();
requestAnimationFrame(loop);
