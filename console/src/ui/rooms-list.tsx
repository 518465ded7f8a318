import { useEffect, useState } from "preact/hooks";
import type { Api } from "../lib/api.js";
import { cost, roomName, shortId, timeAgo, tokens } from "../lib/format.js";
import { can } from "../lib/session.js";
import { ROOM_STATUSES, type Identity, type Room, type RoomStatus } from "../lib/types.js";
import { Empty, ErrorBox, StatusChip } from "./common.js";
import { href } from "./route.js";

const PAGE = 20;
const DEFAULT_STATUSES = ROOM_STATUSES.filter((s) => s !== "released");

export function RoomsList({ api, identity }: { api: Api; identity: Identity }) {
  const [statuses, setStatuses] = useState<RoomStatus[]>(DEFAULT_STATUSES);
  const [name, setName] = useState("");
  const [appliedName, setAppliedName] = useState("");
  /** Cursors of the pages before this one (for "Previous"), and this page's. */
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [rooms, setRooms] = useState<Room[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [reload, setReload] = useState(0);
  const cursor = cursors[cursors.length - 1] ?? null;

  useEffect(() => {
    const ctrl = new AbortController();
    setError(null);
    const isDefault = statuses.length === DEFAULT_STATUSES.length && DEFAULT_STATUSES.every((s) => statuses.includes(s));
    api
      .get<Room[]>("/llm/room", {
        signal: ctrl.signal,
        query: { limit: PAGE, cursor, status: isDefault || statuses.length === 0 ? undefined : statuses.join(","), name: appliedName || undefined },
      })
      .then(
        ({ data, meta }) => {
          setRooms(data);
          setNext((meta?.["next_cursor"] as string | null | undefined) ?? null);
        },
        (err: unknown) => {
          if ((err as Error).name !== "AbortError") setError(err);
        },
      );
    return () => ctrl.abort();
  }, [api, statuses, appliedName, cursor, reload]);

  const toggle = (s: RoomStatus) => {
    setStatuses((cur) => (cur.includes(s) ? cur.filter((x) => x !== s) : [...cur, s]));
    setCursors([null]);
  };

  return (
    <section class="page" aria-labelledby="rooms-title">
      <div class="page-head">
        <h1 id="rooms-title">Rooms</h1>
        <div class="actions">
          <button type="button" class="quiet" onClick={() => setReload((n) => n + 1)}>
            Refresh
          </button>
          {can(identity, "rent") ? (
            <a class="button primary" href={href.rent()} data-testid="rent-link">
              Rent a room
            </a>
          ) : null}
        </div>
      </div>

      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setAppliedName(name.trim());
          setCursors([null]);
        }}
      >
        <fieldset class="status-filter">
          <legend>Status</legend>
          {ROOM_STATUSES.map((s) => (
            <label key={s} class="check">
              <input type="checkbox" checked={statuses.includes(s)} onChange={() => toggle(s)} />
              {s}
            </label>
          ))}
        </fieldset>
        <div class="name-filter">
          <label for="name-filter">Name</label>
          <input id="name-filter" type="search" value={name} placeholder="metadata.name, exact" onInput={(e) => setName(e.currentTarget.value)} />
          <button type="submit" class="quiet">
            Filter
          </button>
        </div>
      </form>

      <ErrorBox error={error} />
      {rooms === null && !error ? <div class="muted">Loading…</div> : null}
      {rooms !== null && rooms.length === 0 ? <Empty>No rooms match.{can(identity, "rent") ? " Rent one to start." : ""}</Empty> : null}
      {rooms !== null && rooms.length > 0 ? (
        <table class="rooms" data-testid="rooms-table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Status</th>
              <th scope="col">Purpose</th>
              <th scope="col">Last activity</th>
              <th scope="col">Usage</th>
              <th scope="col">Actors</th>
            </tr>
          </thead>
          <tbody>
            {rooms.map((r) => (
              <tr key={r.id} data-room-id={r.id}>
                <td data-label="Name">
                  <a href={href.room(r.id)}>{roomName(r)}</a> <span class="muted mono">{shortId(r.id)}</span>
                </td>
                <td data-label="Status">
                  <StatusChip status={r.status} />
                </td>
                <td data-label="Purpose" class="clip">
                  {r.purpose || <span class="muted">—</span>}
                </td>
                <td data-label="Last activity">{timeAgo(r.last_active_at ?? r.rented_at)}</td>
                <td data-label="Usage" class="mono">
                  {tokens(r.usage.totalTokens)} tok · {cost(r.usage.cost.total)}
                </td>
                <td data-label="Actors" class="clip">
                  {r.actors.map((a) => `${a.agent_id} (${a.provider}/${a.model})`).join(", ")}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <div class="pager">
        <button type="button" class="quiet" disabled={cursors.length <= 1} onClick={() => setCursors((c) => c.slice(0, -1))}>
          ← Previous
        </button>
        <span class="muted">Page {cursors.length}</span>
        <button type="button" class="quiet" disabled={!next} onClick={() => next && setCursors((c) => [...c, next])}>
          Next →
        </button>
      </div>
    </section>
  );
}
