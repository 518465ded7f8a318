/**
 * Storage: bytes on disk per character of model output. Each measured tenant
 * gets its own SQLite file: N rooms × M turns of a ~1,000-character echo
 * reply streamed at the shipped default pace (token_delay_ms 1) and
 * coalescing (EVENT_COALESCE_MS 50). A base tenant rents the same rooms and
 * runs no turn. After the server stops (its files closed, so WAL checkpointed),
 * bytes = size of tenant files − size of the base tenant's files; chars =
 * the agent:output text the followers received.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { inflateRawSync } from "node:zlib";
import Database from "better-sqlite3";
import { figure, type Figure } from "../lib/figure.js";
import { Follower } from "../lib/http.js";
import { rentEcho, startTurn, wordsReply } from "../lib/roomservice.js";
import { decodeSegment } from "../../src/events/event.segment.js";
import { median } from "../lib/stats.js";

export interface StorageCtx {
  base: string;
  tokens: Record<string, string>;
  baseTenant: string;
  tenants: string[];
  rooms: number;
  turnsPerRoom: number;
  replyWords: number;
  /** Supplementary: one tenant with the same rooms and one turn each of a long reply. */
  longTenant?: string;
  longReplyWords?: number;
}

export interface StorageWork {
  chars: Record<string, number>;
  turns: Record<string, number>;
  problems: string[];
}

async function fill(base: string, tok: string, rooms: number, turns: number, reply: string, problems: string[]): Promise<{ chars: number; turns: number }> {
  const ids = await Promise.all(Array.from({ length: rooms }, () => rentEcho(base, tok, { token_delay_ms: 1, reply })));
  if (turns === 0) return { chars: 0, turns: 0 };
  const followers = await Promise.all(ids.map((id) => Follower.open(base, id, tok)));
  let done = 0;
  try {
    await Promise.all(
      ids.map(async (id, k) => {
        for (let t = 0; t < turns; t++) {
          const turnId = await startTurn(base, tok, id, `tell me something ${t}`);
          const r = await followers[k]!.turnEnded(turnId, 30_000);
          if (r.status !== "completed") problems.push(`storage turn ended ${r.status}`);
          done++;
        }
      }),
    );
    return { chars: followers.reduce((a, f) => a + f.outputChars, 0), turns: done };
  } finally {
    for (const f of followers) f.close();
  }
}

/** Runs the workload while the server is up. */
export async function storageWork(c: StorageCtx): Promise<StorageWork> {
  const reply = wordsReply(c.replyWords);
  const problems: string[] = [];
  const chars: Record<string, number> = {};
  const turns: Record<string, number> = {};
  await fill(c.base, c.tokens[c.baseTenant]!, c.rooms, 0, reply, problems);
  for (const t of c.tenants) {
    const r = await fill(c.base, c.tokens[t]!, c.rooms, c.turnsPerRoom, reply, problems);
    chars[t] = r.chars;
    turns[t] = r.turns;
  }
  if (c.longTenant && c.longReplyWords) {
    const r = await fill(c.base, c.tokens[c.longTenant]!, c.rooms, 1, wordsReply(c.longReplyWords), problems);
    chars[c.longTenant] = r.chars;
    turns[c.longTenant] = r.turns;
  }
  return { chars, turns, problems };
}

function tenantBytes(dataDir: string, tenant: string): { bytes: number; files: Record<string, number> } {
  const dir = path.join(dataDir, "tenants");
  const files: Record<string, number> = {};
  for (const f of readdirSync(dir)) if (f === `${tenant}.db` || f.startsWith(`${tenant}.db-`)) files[f] = statSync(path.join(dir, f)).size;
  return { bytes: Object.values(files).reduce((a, b) => a + b, 0), files };
}

/** After the server has stopped: sizes, and where the bytes are (dbstat) for the first tenant. */
export function storageFigure(c: StorageCtx, dataDir: string, w: StorageWork): Figure {
  const baseBytes = tenantBytes(dataDir, c.baseTenant);
  const runs = c.tenants.map((t, i) => {
    const b = tenantBytes(dataDir, t);
    return { run: i + 1, tenant: t, bytes: b.bytes, files: b.files, baseBytes: baseBytes.bytes, chars: w.chars[t]!, turns: w.turns[t]!, bytesPerChar: (b.bytes - baseBytes.bytes) / w.chars[t]! };
  });
  const perChar = runs.map((r) => r.bytesPerChar);
  const notes = [
    `${c.rooms} rooms × ${c.turnsPerRoom} turns per tenant, reply ${c.replyWords} words (${runs[0] ? Math.round(runs[0].chars / Math.max(1, runs[0].turns)) : "?"} chars), token_delay_ms 1, EVENT_COALESCE_MS 50; bytes = db+wal+shm after a clean stop minus the base tenant (same rooms, no turns, ${baseBytes.bytes} bytes).`,
  ];
  const first = c.tenants[0];
  const tableBytes = (tenant: string) => {
    const db = new Database(path.join(dataDir, "tenants", `${tenant}.db`), { readonly: true, fileMustExist: true });
    try {
      return new Map((db.prepare("SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name").all() as { name: string; bytes: number }[]).map((r) => [r.name, r.bytes]));
    } finally {
      db.close();
    }
  };
  let breakdown: { name: string; bytes: number; perChar: number }[] = [];
  if (first && existsSync(path.join(dataDir, "tenants", `${first}.db`))) {
    const a = tableBytes(c.baseTenant);
    const b = tableBytes(first);
    const chars = w.chars[first]!;
    breakdown = [...b].map(([name, bytes]) => ({ name, bytes: bytes - (a.get(name) ?? 0), perChar: (bytes - (a.get(name) ?? 0)) / chars })).filter((r) => r.bytes !== 0).sort((x, y) => y.bytes - x.bytes);
    notes.push(`bytes per char by table/index (${first} − ${c.baseTenant}, dbstat page bytes): ${breakdown.map((r) => `${r.name} ${r.perChar.toFixed(2)}`).join(", ")}.`);
    const db = new Database(path.join(dataDir, "tenants", `${first}.db`), { readonly: true, fileMustExist: true });
    try {
      const ev = db.prepare("SELECT event_type, count(*) AS n, SUM(length(payload)) AS payload_chars, SUM(length(kind) + length(stream_id) + length(coalesce(turn_id, '')) + length(event_type) + length(coalesce(agent_key, '')) + length(created_at)) AS other_chars FROM (SELECT * FROM stream_events UNION ALL SELECT * FROM stream_events_journal) GROUP BY event_type ORDER BY payload_chars DESC").all() as { event_type: string; n: number; payload_chars: number; other_chars: number }[];
      notes.push(`live stream_events rows in ${first} (not yet compacted) by type (count, payload chars, other column chars): ${ev.map((e) => `${e.event_type} ×${e.n} ${e.payload_chars}+${e.other_chars}`).join(", ") || "none"}.`);
      const segs = db.prepare("SELECT first_seq, events FROM stream_event_segments").all() as { first_seq: number; events: Buffer }[];
      const inflated = segs.reduce((a, g) => a + inflateRawSync(g.events).length, 0);
      const deflated = segs.reduce((a, g) => a + g.events.length, 0);
      const segEvents = segs.reduce((a, g) => a + decodeSegment(g.events, g.first_seq).length, 0);
      notes.push(`stream_event_segments in ${first}: ${segs.length} segments (one per finished turn) holding ${segEvents} events, ${deflated} bytes deflated from ${inflated} (${(deflated / Math.max(1, inflated)).toFixed(2)}); deflated bytes per char ${(deflated / w.chars[first]!).toFixed(2)}.`);
      const msg = db.prepare("SELECT kind, count(*) AS n, SUM(length(content)) AS content_chars, SUM(length(metadata) + length(id) + length(room_id) + length(coalesce(turn_id, '')) + length(created_at)) AS other_chars FROM room_messages GROUP BY kind").all() as { kind: string; n: number; content_chars: number; other_chars: number }[];
      notes.push(`room_messages in ${first} by kind (count, content chars, other column chars): ${msg.map((m) => `${m.kind} ×${m.n} ${m.content_chars}+${m.other_chars}`).join(", ")}.`);
    } finally {
      db.close();
    }
  }
  if (c.longTenant && w.chars[c.longTenant]) {
    const lb = tenantBytes(dataDir, c.longTenant).bytes;
    const lc = w.chars[c.longTenant]!;
    notes.push(`supplementary, long replies (${c.rooms} rooms × 1 turn of ${Math.round(lc / Math.max(1, w.turns[c.longTenant]!))} chars): ${((lb - baseBytes.bytes) / lc).toFixed(2)} bytes/char.`);
  }
  if (w.problems.length) notes.push(`${w.problems.length} problems, first: ${w.problems.slice(0, 3).join("; ")}`);
  const m = median(perChar);
  return figure({
    id: "storage",
    name: "storage per char of model output",
    unit: "bytes/char",
    stat: `per-tenant value, ${c.tenants.length} tenants`,
    median: m,
    p99: Math.max(...perChar),
    p99Label: "worst run",
    target: "≤ 3",
    pass: w.problems.length === 0 && m <= 3,
    runs: [...runs, { breakdown }],
    notes,
  });
}
