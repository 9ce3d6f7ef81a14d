// The web view's page: one card per room, redrawn from the newest state the node sends over
// the WebSocket; reconnects with backoff when the connection closes.
"use strict";

// COCO-17 skeleton edges and the body part each belongs to (its colour).
const EDGES = [
  [15, 13, "leftLeg"], [13, 11, "leftLeg"], [16, 14, "rightLeg"], [14, 12, "rightLeg"],
  [11, 12, "torso"], [5, 11, "torso"], [6, 12, "torso"], [5, 6, "torso"],
  [5, 7, "leftArm"], [7, 9, "leftArm"], [6, 8, "rightArm"], [8, 10, "rightArm"],
  [1, 2, "head"], [0, 1, "head"], [0, 2, "head"], [1, 3, "head"], [2, 4, "head"],
  [3, 5, "head"], [4, 6, "head"],
];
const PART_COLORS = {
  head: "#f5d76e", torso: "#e8e8f0", leftArm: "#4fc3f7", rightArm: "#ff8a65",
  leftLeg: "#81c784", rightLeg: "#ba68c8",
};
const PERSON_COLORS = ["#ffffff", "#ffdc00", "#00ffff", "#ff50ff", "#78ff50"];
// A keypoint is drawn when its score (or COCO visibility) is above this.
const MIN_SCORE = 0.1;
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 5000;

const wdp = {
  socket: null,
  connects: 0,
  updates: 0,
  state: null,
  backoffMs: BACKOFF_MIN_MS,
  // Camera frames loaded and drawn under the skeletons, all rooms together.
  cameraFrames: 0,
};
window.wdp = wdp;

const $ = (id) => document.getElementById(id);
const cards = new Map();
let drawPending = false;

function personColor(person, i) {
  const slot = person.track_id === null ? i : ((person.track_id % 5) + 5) % 5;
  return PERSON_COLORS[slot % PERSON_COLORS.length];
}

function setStatus(text, kind) {
  const el = $("status");
  el.textContent = text;
  el.className = "status " + kind;
}

function requestDraw() {
  if (!drawPending) {
    drawPending = true;
    requestAnimationFrame(draw);
  }
}

// The room's newest camera frame, fetched when the state says there is a newer one and the
// previous fetch is done: a slow browser skips frames instead of queueing them.
function fetchFrame(c, name, frames) {
  const cam = c.camera;
  cam.wanted = frames;
  if (cam.loading || cam.shown === frames) return;
  cam.loading = true;
  const img = new Image();
  img.onload = () => {
    cam.loading = false;
    cam.img = img;
    cam.shown = frames;
    wdp.cameraFrames += 1;
    requestDraw();
    if (cam.wanted !== frames) fetchFrame(c, name, cam.wanted);
  };
  img.onerror = () => {
    cam.loading = false;
  };
  img.src = `/frame/${encodeURIComponent(name)}?n=${frames}`;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws`);
  wdp.socket = socket;
  setStatus("connecting", "connecting");
  socket.onopen = () => {
    wdp.connects += 1;
    wdp.backoffMs = BACKOFF_MIN_MS;
    $("connects").textContent = wdp.connects;
    setStatus("live", "connected");
  };
  socket.onmessage = (event) => {
    wdp.state = JSON.parse(event.data);
    wdp.updates += 1;
    requestDraw();
  };
  socket.onerror = () => socket.close();
  socket.onclose = () => {
    if (wdp.socket !== socket) return;
    const wait = wdp.backoffMs;
    wdp.backoffMs = Math.min(wdp.backoffMs * 2, BACKOFF_MAX_MS);
    setStatus(`reconnecting in ${(wait / 1000).toFixed(1)} s`, "reconnecting");
    setTimeout(connect, wait);
  };
}

function card(name) {
  let c = cards.get(name);
  if (c) return c;
  const node = $("room-template").content.firstElementChild.cloneNode(true);
  node.dataset.room = name;
  node.querySelector(".name").textContent = name;
  const q = (sel) => node.querySelector(sel);
  c = {
    node,
    people: q(".people"), truth: q(".truth"), truthBox: q(".truth-box"),
    presence: q(".presence"), fps: q(".fps"), frames: q(".frames"), seq: q(".seq"),
    model: q(".model"), untrained: q(".untrained"),
    skeleton: q("canvas.skeleton"), floor: q("canvas.floor"), latency: q(".latency tbody"),
    camera: { img: null, loading: false, shown: 0, wanted: 0 },
  };
  cards.set(name, c);
  const rooms = $("rooms");
  const after = [...cards.keys()].sort().find((k) => k > name);
  rooms.insertBefore(node, after ? cards.get(after).node : null);
  return c;
}

function draw() {
  drawPending = false;
  const state = wdp.state;
  if (!state) return;
  $("frames").textContent = state.frames;
  $("updates").textContent = wdp.updates;
  const names = Object.keys(state.rooms);
  $("empty").hidden = names.length > 0;
  for (const name of names) drawRoom(card(name), state.rooms[name]);
}

function presenceText(room) {
  const rs = room.room_state;
  if (rs && typeof rs.presence === "boolean") {
    const conf = typeof rs.presence_confidence === "number"
      ? ` (${Math.round(rs.presence_confidence * 100)}%)` : "";
    return (rs.presence ? "yes" : "no") + conf;
  }
  return room.people.length > 0 ? "yes" : "no";
}

function drawRoom(c, room) {
  c.people.textContent = room.people.length;
  c.truthBox.hidden = room.truth_people === null;
  if (room.truth_people !== null) c.truth.textContent = room.truth_people;
  c.presence.textContent = presenceText(room);
  c.fps.textContent = room.fps.toFixed(1);
  c.frames.textContent = room.frames;
  c.seq.textContent = room.seq;
  c.model.textContent = room.model ? `model ${room.model}` : "";
  c.untrained.hidden = !room.untrained;
  if (room.camera) fetchFrame(c, room.room, room.camera.frames);
  drawSkeletons(c.skeleton, room, c.camera.img);
  drawFloor(c.floor, room);
  drawLatency(c.latency, room.latency);
}

function drawSkeletons(canvas, room, frame) {
  const ctx = canvas.getContext("2d");
  const [iw, ih] = room.image_wh[0] > 0 ? room.image_wh : [canvas.width, canvas.height];
  // Keep the image's aspect ratio at the canvas' width.
  const height = Math.round(canvas.width * ih / iw);
  if (canvas.height !== height) canvas.height = height;
  const s = canvas.width / iw;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  // The camera frame covers the same view as the image the keypoints are in.
  if (frame) ctx.drawImage(frame, 0, 0, canvas.width, canvas.height);
  ctx.lineCap = "round";
  room.people.forEach((p, i) => {
    const kp = p.keypoints;
    const color = personColor(p, i);
    const [x1, y1, x2, y2] = p.bbox;
    ctx.strokeStyle = color;
    ctx.globalAlpha = 0.6;
    ctx.lineWidth = 1;
    ctx.strokeRect(x1 * s, y1 * s, (x2 - x1) * s, (y2 - y1) * s);
    ctx.globalAlpha = 1;
    ctx.lineWidth = 3;
    for (const [a, b, part] of EDGES) {
      if (kp[a][2] > MIN_SCORE && kp[b][2] > MIN_SCORE) {
        ctx.strokeStyle = PART_COLORS[part];
        ctx.beginPath();
        ctx.moveTo(kp[a][0] * s, kp[a][1] * s);
        ctx.lineTo(kp[b][0] * s, kp[b][1] * s);
        ctx.stroke();
      }
    }
    ctx.fillStyle = color;
    for (const [x, y, score] of kp) {
      if (score > MIN_SCORE) {
        ctx.beginPath();
        ctx.arc(x * s, y * s, 3, 0, 2 * Math.PI);
        ctx.fill();
      }
    }
    if (p.track_id !== null) {
      ctx.font = "12px sans-serif";
      ctx.fillText(`#${p.track_id}`, x1 * s + 2, Math.max(12, y1 * s - 3));
    }
  });
}

function drawFloor(canvas, room) {
  const ctx = canvas.getContext("2d");
  const [ex, ey] = room.floor_extent_m;
  const scale = (canvas.width - 20) / Math.max(ex, ey);
  const height = Math.round(ey * scale + 20);
  if (canvas.height !== height) canvas.height = height;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  // Room frame y grows away from the x axis: drawn upwards, as on a floor plan.
  const at = ([x, y]) => [10 + x * scale, canvas.height - 10 - y * scale];
  ctx.fillStyle = "#1a1c26";
  ctx.fillRect(10, canvas.height - 10 - ey * scale, ex * scale, ey * scale);
  ctx.strokeStyle = "#2e3140";
  ctx.lineWidth = 1;
  for (let x = 0; x <= ex; x++) {
    ctx.beginPath(); ctx.moveTo(...at([x, 0])); ctx.lineTo(...at([x, ey])); ctx.stroke();
  }
  for (let y = 0; y <= ey; y++) {
    ctx.beginPath(); ctx.moveTo(...at([0, y])); ctx.lineTo(...at([ex, y])); ctx.stroke();
  }
  ctx.strokeStyle = "#ffffff";
  ctx.lineWidth = 2;
  for (const p of room.truth_floor_m) {
    const [x, y] = at(p);
    ctx.beginPath(); ctx.arc(x, y, 8, 0, 2 * Math.PI); ctx.stroke();
  }
  const tracks = room.room_state && Array.isArray(room.room_state.tracks)
    ? room.room_state.tracks : [];
  ctx.strokeStyle = "#5fd38d";
  for (const t of tracks) {
    const [x, y] = at([t.x_m, t.y_m]);
    ctx.strokeRect(x - 6, y - 6, 12, 12);
  }
  room.people.forEach((p, i) => {
    if (!p.floor_m) return;
    const [x, y] = at(p.floor_m);
    ctx.fillStyle = personColor(p, i);
    ctx.beginPath(); ctx.arc(x, y, 5, 0, 2 * Math.PI); ctx.fill();
  });
}

function drawLatency(tbody, latency) {
  const rows = latency.stages.map((s) => [s.stage, s.last_ms, s.p50_ms, ""]);
  if (latency.end_to_end) {
    rows.push(["end to end", latency.end_to_end.last_ms, latency.end_to_end.p50_ms, "total"]);
  }
  while (tbody.rows.length > rows.length) tbody.deleteRow(-1);
  rows.forEach(([stage, last, p50, cls], i) => {
    const row = tbody.rows[i] || tbody.insertRow();
    while (row.cells.length < 3) row.insertCell();
    row.className = cls;
    row.cells[0].textContent = stage;
    row.cells[1].textContent = last.toFixed(1);
    row.cells[2].textContent = p50.toFixed(1);
  });
}

connect();
