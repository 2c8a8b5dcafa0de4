#!/usr/bin/env node
// Anchor for issue 15: one socket.io 4 node of a chat room shared through
// Redis with socket.io's *sharded* Redis adapter (createShardedAdapter:
// SPUBLISH/SSUBSCRIBE, Redis 7), the setup socket.io's documentation gives
// for several nodes behind a load balancer.
//
// Usage: node server.js PORT REDIS_URL [ROOM]
//
// Every client joins ROOM (default "chat") on connecting. A client's `line`
// event (a string) is broadcast to ROOM on every node, the sender included,
// as socklab's chat does; nothing is kept. On connecting, a client is told
// which node it is on (`node` event: this node's bound port) so the load can check
// its clients really are spread over the nodes. Prints
// `listening on 127.0.0.1:PORT` once Redis is connected and the port bound.
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");
const { createShardedAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");

// socklab's chat refuses lines over 64 KiB; socket.io's own cap is its
// maxHttpBufferSize (1 MB by default): give it the same limit.
const MAX_LINE = 64 * 1024;

function usage(why) {
  console.error(`error: ${why}\nusage: node server.js PORT REDIS_URL [ROOM]`);
  process.exit(2);
}

async function main() {
  const [portArg, redisUrl, room = "chat"] = process.argv.slice(2);
  const port = Number(portArg);
  if (!Number.isInteger(port) || port < 0 || port > 65535) usage(`bad PORT ${portArg}`);
  if (!redisUrl) usage("missing REDIS_URL");

  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  for (const client of [pub, sub]) {
    client.on("error", (err) => console.error(`redis: ${err.message}`));
  }
  await Promise.all([pub.connect(), sub.connect()]);

  // TCP_NODELAY on every connection, as socklab's servers set it.
  const httpServer = http.createServer({ noDelay: true });
  let node = port;
  const io = new Server(httpServer, {
    adapter: createShardedAdapter(pub, sub),
    maxHttpBufferSize: MAX_LINE,
    serveClient: false,
  });
  io.on("connection", (socket) => {
    socket.join(room);
    socket.emit("node", node);
    socket.on("line", (text) => {
      if (typeof text === "string") io.to(room).emit("line", text);
    });
  });

  httpServer.listen({ port, host: "127.0.0.1", backlog: 4096 }, () => {
    const { address, port: bound } = httpServer.address();
    node = bound;
    console.log(`listening on ${address}:${bound}`);
  });

  const stop = () => {
    io.close();
    Promise.allSettled([pub.quit(), sub.quit()]).then(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((err) => {
  console.error(`error: ${err.message}`);
  process.exit(1);
});
