#!/usr/bin/env node
// Anchor for issue 15: a socket.io-client load of the same shape as
// `socklab bench chat ADDR1,ADDR2,... --json`, against server.js nodes.
//
// Usage: node load.js ADDR[,ADDR...] [-c N] [--senders S] [-P K] [-s BYTES]
//                     [-d SECS] [--warmup SECS] [--timeout SECS] [--ramp N]
//                     [--pids PID,...] [--redis-pid PID]
//
// N clients (websocket transport, one connection each) are spread
// round-robin over the addresses (client i -> address i mod n). Each node
// says which node it is (its port) on connecting; the report counts clients
// per node. Then client 0 repeats a sync line until every client has seen
// one: all of them are in the room on every node. Then the first S clients
// each keep K lines in flight:
//
//   socklab-bench S Q T ....     (sender S, line Q, T = µs since the start,
//                                 padded with dots to BYTES)
//
// A line is done when all N clients (the sender included: the room echoes
// it) have it; that frees its slot for the sender's next line. Deliveries
// received in the window [warm-up end, end) are counted and their latency
// (send -> receive, one clock: one process) goes into an HDR histogram.
// After the window the senders stop and the lines in flight are drained.
//
// Verified per client: every line exactly once (duplicates and gaps
// counted) and each sender's lines in order; and across clients: one total
// order, from a running hash of the (sender, line) sequence each client saw
// (memory per client: O(S)). With --pids (the server nodes) and --redis-pid,
// their CPU time (utime + stime, /proc/PID/stat) over the window is reported
// per delivery.
//
// Prints one JSON line; exits 1 if a line was missing, repeated or out of
// order, or clients disagreed on the order, 2 on a usage error, 1 if the
// run could not be set up (the JSON then has "error").
"use strict";

const fs = require("node:fs");
const { execFileSync } = require("node:child_process");
const { parseArgs } = require("node:util");
const { performance } = require("node:perf_hooks");
const { io } = require("socket.io-client");
const hdr = require("hdr-histogram-js");

const MARKER = "socklab-bench ";
const SYNC = "socklab-bench sync";

function usage(why) {
  console.error(`error: ${why}`);
  console.error(
    "usage: node load.js ADDR[,ADDR...] [-c N] [--senders S] [-P K] [-s BYTES] [-d SECS] [--warmup SECS] [--timeout SECS] [--ramp N] [--pids PID,...] [--redis-pid PID]",
  );
  process.exit(2);
}

function options() {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        conns: { type: "string", short: "c", default: "50" },
        senders: { type: "string", default: "5" },
        pipeline: { type: "string", short: "P", default: "1" },
        size: { type: "string", short: "s", default: "64" },
        duration: { type: "string", short: "d", default: "5" },
        warmup: { type: "string", default: "1" },
        timeout: { type: "string", default: "5" },
        ramp: { type: "string", default: "64" },
        pids: { type: "string", default: "" },
        "redis-pid": { type: "string", default: "" },
      },
    });
  } catch (err) {
    usage(err.message);
  }
  const v = parsed.values;
  const int = (name, min) => {
    const n = Number(v[name]);
    if (!Number.isInteger(n) || n < min) usage(`--${name} must be an integer >= ${min}`);
    return n;
  };
  const secs = (name) => {
    const n = Number(v[name]);
    if (!Number.isFinite(n) || n < 0) usage(`--${name} must be a number of seconds`);
    return n;
  };
  const pids = (text) =>
    text
      .split(",")
      .filter((p) => p !== "")
      .map((p) => (/^\d+$/.test(p) ? Number(p) : usage(`bad pid ${p}`)));
  if (parsed.positionals.length !== 1) usage("give one ADDR[,ADDR...]");
  const addrs = parsed.positionals[0].split(",");
  for (const addr of addrs) {
    // Loopback only: this is a benchmark of servers on this machine.
    if (!/^127(\.\d{1,3}){3}:\d{1,5}$/.test(addr)) usage(`ADDR must be 127.x.x.x:PORT, got ${addr}`);
  }
  const o = {
    addrs,
    conns: int("conns", 2),
    senders: int("senders", 1),
    pipeline: int("pipeline", 1),
    size: int("size", 0),
    duration: secs("duration"),
    warmup: secs("warmup"),
    timeout: secs("timeout"),
    ramp: int("ramp", 1),
    pids: pids(v.pids),
    redisPid: pids(v["redis-pid"]),
  };
  if (o.senders > o.conns) usage("--senders must not exceed --conns");
  return o;
}

const opts = options();
const N = opts.conns;
const S = opts.senders;
const P = opts.pipeline;
const t0 = performance.now();
const micros = () => Math.round((performance.now() - t0) * 1000);

// Clock ticks per second, for /proc/PID/stat.
const TICKS = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;

/** utime + stime of PID, in µs, from /proc/PID/stat. */
function cpuMicros(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may hold spaces: count fields after its ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / TICKS;
}
const sumCpu = (pids) => pids.reduce((sum, pid) => sum + cpuMicros(pid), 0);

// FNV-1a over 32-bit words, two lanes with different offsets: a running
// hash of the sequence of (sender, line) a client saw, in O(1) memory.
function mix(h, word) {
  let x = h;
  for (let i = 0; i < 4; i++) {
    x = Math.imul(x ^ ((word >>> (8 * i)) & 0xff), 16777619);
  }
  return x >>> 0;
}

const state = {
  phase: "connect",
  ready: 0, // clients that have seen a sync line
  measureAt: Infinity, // µs: counting starts
  endAt: Infinity, // µs: senders stop; counting ends
  completed: 0, // deliveries in the window
  delivered: 0, // deliveries ever (for the CPU window)
  sent: new Array(S).fill(0),
  inflight: 0,
  timedOut: 0, // lines that did not reach everyone within --timeout
  mangled: 0,
  disconnects: 0,
  firstError: null,
};
const latency = hdr.build({
  lowestDiscernibleValue: 1,
  highestTrackableValue: 3600e6,
  numberOfSignificantValueDigits: 3,
});
// Per sender, per window slot: the line in it, when it went out, how many
// clients have it.
const slots = Array.from({ length: S }, () =>
  Array.from({ length: P }, () => ({ seq: -1, at: 0, have: 0 })),
);
const padding = ".".repeat(opts.size);

function fail(why) {
  if (state.firstError === null) state.firstError = why;
}

function makeClient(index) {
  return {
    index,
    addr: opts.addrs[index % opts.addrs.length],
    socket: null,
    node: null,
    synced: false,
    next: new Array(S).fill(0), // per sender: the next line expected
    duplicates: 0,
    gaps: 0, // lines skipped over (a later line arrived first)
    lines: 0,
    h1: 0x811c9dc5,
    h2: 0x01000193,
  };
}
const clients = Array.from({ length: N }, (_, i) => makeClient(i));

function sendLine(sender) {
  const now = micros();
  const seq = state.sent[sender]++;
  const slot = slots[sender][seq % P];
  slot.seq = seq;
  slot.at = now;
  slot.have = 0;
  state.inflight++;
  let line = `${MARKER}${sender} ${seq} ${now} `;
  if (line.length < opts.size) line += padding.slice(line.length);
  clients[sender].socket.emit("line", line);
}

function lineDone(sender, slot) {
  slot.seq = -1;
  state.inflight--;
  if (state.phase === "load" && micros() < state.endAt) sendLine(sender);
}

function onLine(c, text) {
  if (typeof text !== "string" || !text.startsWith(MARKER)) return;
  if (text === SYNC) {
    if (!c.synced) {
      c.synced = true;
      state.ready++;
    }
    return;
  }
  const at = micros();
  const fields = text.slice(MARKER.length).split(" ", 3);
  const sender = Number(fields[0]);
  const seq = Number(fields[1]);
  const sentAt = Number(fields[2]);
  const valid = (n) => Number.isInteger(n) && n >= 0;
  if (!valid(sender) || sender >= S || !valid(seq) || !valid(sentAt)) {
    state.mangled++;
    fail(`client ${c.index} got a mangled line: ${JSON.stringify(text.slice(0, 80))}`);
    return;
  }
  const expected = c.next[sender];
  if (seq < expected) {
    c.duplicates++;
    fail(`client ${c.index} got line ${seq} of sender ${sender} again (or out of its order)`);
    return;
  }
  if (seq > expected) {
    c.gaps += seq - expected;
    fail(`client ${c.index} expected line ${expected} of sender ${sender} but got line ${seq}`);
  }
  c.next[sender] = seq + 1;
  c.lines++;
  c.h1 = mix(mix(c.h1, sender), seq);
  c.h2 = mix(mix(c.h2, seq), sender);
  state.delivered++;
  if (at >= state.measureAt && at < state.endAt) {
    state.completed++;
    latency.recordValue(Math.max(1, at - sentAt));
  }
  const slot = slots[sender][seq % P];
  if (slot.seq === seq && ++slot.have === N) lineDone(sender, slot);
}

function connect(c) {
  return new Promise((resolve, reject) => {
    const socket = io(`http://${c.addr}`, {
      // One connection per client (the default shares one per URL), the
      // websocket transport from the start (no long-polling upgrade), and
      // no reconnection: a dropped client is an error of the run.
      forceNew: true,
      transports: ["websocket"],
      reconnection: false,
      timeout: opts.timeout * 1000,
    });
    c.socket = socket;
    socket.on("line", (text) => onLine(c, text));
    socket.on("disconnect", (reason) => {
      if (state.phase !== "done") {
        state.disconnects++;
        fail(`client ${c.index} on ${c.addr} was disconnected: ${reason}`);
      }
    });
    socket.on("connect_error", (err) => reject(new Error(`client ${c.index} connecting to ${c.addr}: ${err.message}`)));
    // Connected and told which node it is on (a server other than
    // server.js never says: give up after --timeout).
    const timer = setTimeout(
      () => reject(new Error(`client ${c.index}: ${c.addr} did not say which node it is within ${opts.timeout} s`)),
      opts.timeout * 1000,
    );
    socket.once("node", (node) => {
      clearTimeout(timer);
      c.node = String(node);
      resolve();
    });
  });
}

async function connectAll() {
  let next = 0;
  const worker = async () => {
    while (next < N) await connect(clients[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(opts.ramp, N) }, worker));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function sync() {
  const deadline = micros() + opts.timeout * 1e6 + 10e6;
  while (state.ready < N) {
    if (micros() > deadline) {
      throw new Error(`only ${state.ready} of ${N} clients saw the sync line: not all joined the room`);
    }
    clients[0].socket.emit("line", SYNC);
    await sleep(100);
  }
}

/** Frees slots whose line has not reached everyone within --timeout. */
function expire() {
  const limit = micros() - opts.timeout * 1e6;
  for (let s = 0; s < S; s++) {
    for (const slot of slots[s]) {
      if (slot.seq >= 0 && slot.at < limit) {
        state.timedOut++;
        fail(`line ${slot.seq} of sender ${s} reached ${slot.have} of ${N} clients within ${opts.timeout} s`);
        lineDone(s, slot);
      }
    }
  }
}

async function load() {
  const ms = (us) => Math.max(0, (us - micros()) / 1000);
  state.measureAt = micros() + opts.warmup * 1e6;
  state.endAt = state.measureAt + opts.duration * 1e6;
  state.phase = "load";
  const cpu = {};
  const sample = () => {
    // This process too: near 1 core means the load, not the servers, set
    // the pace.
    const own = process.cpuUsage();
    return {
      at: micros(),
      delivered: state.delivered,
      servers: sumCpu(opts.pids),
      redis: sumCpu(opts.redisPid),
      self: own.user + own.system,
    };
  };
  const expiry = setInterval(expire, 100);
  setTimeout(() => (cpu.start = sample()), ms(state.measureAt));
  const ended = new Promise((resolve) =>
    setTimeout(() => {
      cpu.end = sample();
      phases.end = cpu.end.at;
      resolve();
    }, ms(state.endAt)),
  );
  for (let s = 0; s < S; s++) for (let k = 0; k < P; k++) sendLine(s);
  await ended;
  state.phase = "drain";
  const drainBy = micros() + opts.timeout * 1e6 + 1e6;
  while (state.inflight > 0 && micros() < drainBy) await sleep(5);
  clearInterval(expiry);
  return cpu;
}

function verify() {
  let missing = 0;
  let duplicates = 0;
  let incomplete = 0;
  for (const c of clients) {
    const short = c.next.reduce((sum, next, s) => sum + Math.max(0, state.sent[s] - next), 0);
    missing += short + c.gaps;
    duplicates += c.duplicates;
    if (short + c.gaps + c.duplicates > 0) incomplete++;
  }
  // One order: the clients whose (sender, line) sequence hashes agree with
  // the most common one; and how many distinct orders each node's clients saw.
  const orders = new Map();
  const perNode = new Map();
  for (const c of clients) {
    const key = `${c.h1.toString(16)}:${c.h2.toString(16)}:${c.lines}`;
    orders.set(key, (orders.get(key) || 0) + 1);
    if (!perNode.has(c.node)) perNode.set(c.node, new Set());
    perNode.get(c.node).add(key);
  }
  const majority = Math.max(...orders.values());
  return {
    every_line_exactly_once: missing === 0 && duplicates === 0 && state.mangled === 0,
    missing,
    duplicates,
    clients_incomplete: incomplete,
    same_order: orders.size === 1,
    distinct_orders: orders.size,
    clients_disagreeing: N - majority,
    distinct_orders_per_node: Object.fromEntries([...perNode].map(([node, set]) => [node, set.size])),
  };
}

function perDelivery(cpu, key) {
  if (!cpu.start || !cpu.end) return null;
  const deliveries = cpu.end.delivered - cpu.start.delivered;
  return deliveries > 0 ? (cpu.end[key] - cpu.start[key]) / deliveries : null;
}

/** This process's CPU over the window, in cores. */
function loadCores(cpu) {
  if (!cpu || !cpu.start || !cpu.end || cpu.end.at <= cpu.start.at) return null;
  return (cpu.end.self - cpu.start.self) / (cpu.end.at - cpu.start.at);
}

function clientsPerNode() {
  const counts = {};
  for (const c of clients) if (c.node !== null) counts[c.node] = (counts[c.node] || 0) + 1;
  return counts;
}

function report(cpu, verdict, error) {
  const pct = (p) => (latency.totalCount ? latency.getValueAtPercentile(p) / 1000 : null);
  return {
    system: "socket.io",
    protocol: `chat (${S} senders)`,
    target: opts.addrs.join(","),
    unit: "deliveries",
    connections: N,
    clients_per_node: clientsPerNode(),
    senders: S,
    pipeline: P,
    size: opts.size,
    duration_s: opts.duration,
    warmup_s: opts.warmup,
    lines_sent: state.sent.reduce((a, b) => a + b, 0),
    completed: state.completed,
    per_second: state.completed / Math.max(opts.duration, 1e-9),
    latency_ms: latency.totalCount
      ? { min: latency.minNonZeroValue / 1000, p50: pct(50), p99: pct(99), p99_9: pct(99.9), max: latency.maxValue / 1000 }
      : null,
    server_cpu_us_per_delivery: cpu ? perDelivery(cpu, "servers") : null,
    redis_cpu_us_per_delivery: cpu && opts.redisPid.length ? perDelivery(cpu, "redis") : null,
    load_cpu_cores: loadCores(cpu),
    verify: verdict,
    timed_out: state.timedOut,
    disconnects: state.disconnects,
    first_error: error || state.firstError,
  };
}

// µs since the start at which each phase ended (the window's end included).
const phases = { start: 0 };

async function main() {
  let cpu = null;
  let verdict = null;
  let error = null;
  try {
    await connectAll();
    phases.connected = micros();
    state.phase = "sync";
    await sync();
    phases.synced = micros();
    cpu = await load();
    phases.drained = micros();
    verdict = verify();
  } catch (err) {
    error = err.message;
  }
  state.phase = "done";
  for (const c of clients) if (c.socket) c.socket.close();
  const out = report(cpu, verdict, error);
  const s = (from, to) => (phases[to] === undefined ? null : (phases[to] - (phases[from] || 0)) / 1e6);
  // Where the time went: connecting, syncing, and the drain after the window.
  out.phases_s = { connect: s("start", "connected"), sync: s("connected", "synced"), drain: s("end", "drained") };
  console.log(JSON.stringify(out));
  const ok =
    error === null &&
    verdict.every_line_exactly_once &&
    verdict.same_order &&
    state.timedOut === 0 &&
    state.disconnects === 0;
  process.exit(ok ? 0 : 1);
}

main();
