/**
 * The fan-out baseline: a bare node:http SSE broadcaster, started as its own
 * process by bench/run.ts. GET /events keeps a response open; each
 * POST /publish builds one frame shaped exactly like the real server's
 * `message:created` frame for a note (same fields, same lengths, created_at
 * set when the POST is handled), encodes it once and writes it to every open
 * stream. No durability, no auth, no framework: the floor for the same work.
 */
import { randomUUID } from "node:crypto";
import http from "node:http";

const clients = new Set<http.ServerResponse>();
const roomId = randomUUID();
let seq = 0;

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/health") {
    res.writeHead(200, { "content-type": "application/json" }).end('{"success":true,"data":{"status":"ok"}}');
    return;
  }
  if (req.method === "GET" && req.url?.startsWith("/events")) {
    res.writeHead(200, { "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache, no-transform", Connection: "keep-alive", "X-Accel-Buffering": "no" });
    res.write("retry: 2000\n\n");
    clients.add(res);
    res.on("close", () => clients.delete(res));
    return;
  }
  if (req.method === "POST" && req.url === "/publish") {
    req.resume();
    req.on("end", () => {
      seq++;
      const record = {
        id: `${roomId}:${seq}`,
        seq,
        room_id: roomId,
        event_type: "message:created",
        agent_key: null,
        turn_id: null,
        payload: { message_id: randomUUID(), seq, kind: "note", author_kind: "user" },
        created_at: new Date().toISOString(),
      };
      const frame = Buffer.from(`id: ${seq}\nevent: message:created\ndata: ${JSON.stringify(record)}\n\n`);
      for (const c of clients) c.write(frame);
      res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify({ success: true, data: { seq } }));
    });
    return;
  }
  res.writeHead(404).end();
});
server.listen(Number(process.env["PORT"] ?? 0), process.env["HOST"] ?? "127.0.0.1");
const stop = () => {
  for (const c of clients) c.destroy();
  server.close(() => process.exit(0));
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
