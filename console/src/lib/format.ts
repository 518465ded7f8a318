/** Small display helpers. */
export function timeAgo(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "never";
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return iso;
  const s = Math.round((now - t) / 1000);
  if (s < 5) return "just now";
  if (s < 60) return `${s} s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} h ago`;
  return new Date(t).toISOString().slice(0, 10);
}

export function clock(iso: string | null | undefined): string {
  if (!iso) return "";
  const t = new Date(iso);
  return Number.isFinite(t.getTime()) ? t.toISOString().slice(11, 23) : iso;
}

export function tokens(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return "0";
  return n >= 10_000 ? `${(n / 1000).toFixed(1)}k` : String(n);
}

export function cost(total: number | undefined): string {
  return `$${(total ?? 0).toFixed(total && total < 0.01 ? 4 : 2)}`;
}

export function shortId(id: string): string {
  return id.slice(0, 8);
}

/** One line of a JSON value, cut to `max` characters. */
export function oneLine(value: unknown, max = 160): string {
  let s: string;
  try {
    s = typeof value === "string" ? value : JSON.stringify(value);
  } catch {
    s = String(value);
  }
  s = (s ?? "").replace(/\s+/g, " ");
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

export function roomName(room: { metadata: Record<string, unknown>; purpose: string | null; id: string }): string {
  const name = room.metadata["name"];
  if (typeof name === "string" && name.trim()) return name;
  if (room.purpose && room.purpose.trim()) return room.purpose;
  return `room ${shortId(room.id)}`;
}
