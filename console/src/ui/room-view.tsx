/**
 * One room, live: the transcript with the answer streaming in, the turn and
 * its usage, the controls the token may use, and the raw event log. Loads
 * /history once, then follows the SSE feed from the last seq it has; on a
 * dropped connection it shows "reconnecting" and resumes with Last-Event-ID.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiError, idempotencyKey, type Api } from "../lib/api.js";
import { follow, type Feed, type FeedState } from "../lib/event-stream.js";
import { clock, cost, roomName, shortId, timeAgo, tokens } from "../lib/format.js";
import { RoomState } from "../lib/room-state.js";
import { can } from "../lib/session.js";
import type { Identity, Message, Room, RoomEvent } from "../lib/types.js";
import { ErrorBox, StatusChip } from "./common.js";
import { EventLog } from "./event-log.js";
import { href } from "./route.js";
import { Transcript } from "./transcript.js";

const HISTORY_LIMIT = 1000;

interface HistoryData {
  room: Room;
  messages: Message[];
  events: RoomEvent[];
}

/** Events after which the room record (status, turn, usage, last error) is read again. */
const REFRESH_ON = /^(room:|agent:turn_start$|agent:turn_end$|error$)/;

type Tab = "chat" | "events" | "details";

export function RoomView({ api, identity, roomId }: { api: Api; identity: Identity; roomId: string }) {
  const state = useMemo(() => new RoomState(), [roomId]);
  const [room, setRoom] = useState<Room | null>(null);
  const [, setVersion] = useState(0);
  const [feed, setFeed] = useState<FeedState>({ phase: "connecting" });
  const [loadError, setLoadError] = useState<unknown>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [tab, setTab] = useState<Tab>("chat");
  const feedRef = useRef<Feed | null>(null);
  const bump = useCallback(() => setVersion((v) => v + 1), []);

  // One read of the room record at a time; a request made while one is in flight is folded into one more.
  const refreshing = useRef<{ busy: boolean; again: boolean }>({ busy: false, again: false });
  const refreshRoom = useCallback(() => {
    const r = refreshing.current;
    if (r.busy) {
      r.again = true;
      return;
    }
    r.busy = true;
    api
      .get<Room>(`/llm/room/${encodeURIComponent(roomId)}`)
      .then(({ data }) => setRoom(data), () => undefined)
      .finally(() => {
        r.busy = false;
        if (r.again) {
          r.again = false;
          refreshRoom();
        }
      });
  }, [api, roomId]);

  // Messages announced by `message:created` carry no text: read the newest ones until each is known.
  const filling = useRef(false);
  const fillMissing = useCallback(async () => {
    if (filling.current) return;
    filling.current = true;
    try {
      for (let round = 0; round < 5 && state.missing.size > 0; round++) {
        const { data } = await api.get<HistoryData>(`/llm/room/${encodeURIComponent(roomId)}/history`, { query: { limit: Math.min(HISTORY_LIMIT, 10 * (round + 1) + state.missing.size) } });
        const before = state.missing.size;
        state.upsertMessages(data.messages);
        bump();
        if (state.missing.size >= before) break;
      }
    } catch {
      // The text arrives with the next read; the transcript shows "…" until then.
    } finally {
      filling.current = false;
    }
  }, [api, roomId, state, bump]);

  useEffect(() => {
    let closed = false;
    (async () => {
      try {
        const { data, meta } = await api.get<HistoryData>(`/llm/room/${encodeURIComponent(roomId)}/history`, { query: { limit: HISTORY_LIMIT } });
        if (closed) return;
        state.load(data.messages, data.events, meta?.["has_more"] === true);
        setRoom(data.room);
        bump();
        feedRef.current = follow({
          url: `/llm/room/${encodeURIComponent(roomId)}/events?follow=true`,
          api,
          after: state.lastSeq,
          onState: setFeed,
          finished: () => state.released,
          onFrames(frames) {
            const events: RoomEvent[] = [];
            let refresh = false;
            for (const f of frames) {
              if (f.event === "error" && f.id === null) continue;
              try {
                const ev = JSON.parse(f.data) as RoomEvent;
                if (typeof ev.seq !== "number") continue;
                events.push(ev);
                if (REFRESH_ON.test(ev.event_type)) refresh = true;
              } catch {
                // A frame that is not an event record (none are sent today) is skipped.
              }
            }
            if (state.apply(events) === 0) return;
            bump();
            if (refresh) refreshRoom();
            if (state.missing.size > 0) void fillMissing();
          },
        });
      } catch (err) {
        if (!closed) setLoadError(err);
      }
    })();
    return () => {
      closed = true;
      feedRef.current?.close();
      feedRef.current = null;
    };
  }, [api, roomId, state, bump, refreshRoom, fillMissing]);

  const act = useCallback(
    async (verb: "interrupt" | "wake" | "release", body: Record<string, unknown> = {}) => {
      setActionError(null);
      try {
        const { data } = await api.post<Room>(`/llm/room/${encodeURIComponent(roomId)}/${verb}`, body, { headers: { "Idempotency-Key": idempotencyKey() } });
        setRoom(data);
      } catch (err) {
        setActionError(err);
      }
    },
    [api, roomId],
  );

  const loadOlder = useCallback(async () => {
    try {
      const { data, meta } = await api.get<HistoryData>(`/llm/room/${encodeURIComponent(roomId)}/history`, { query: { limit: HISTORY_LIMIT, before_seq: state.firstSeq } });
      state.prepend(data.messages, data.events, meta?.["has_more"] === true);
      bump();
    } catch (err) {
      setActionError(err);
    }
  }, [api, roomId, state, bump]);

  if (loadError) {
    return (
      <section class="page">
        <p>
          <a href={href.rooms()}>← Rooms</a>
        </p>
        <ErrorBox error={loadError} />
      </section>
    );
  }
  if (!room) return <section class="page muted">Loading room…</section>;

  const turn = state.turn;
  const running = room.status === "active" && room.active_turn !== null;
  const streaming = state.streamingText() !== null;

  return (
    <section class="room" data-tab={tab} data-testid="room-view" data-room-status={room.status} aria-labelledby="room-title">
      <div class="room-head">
        <a href={href.rooms()} class="back" aria-label="Back to rooms">
          ←
        </a>
        <h1 id="room-title" class="clip" title={room.purpose ?? ""}>
          {roomName(room)}
        </h1>
        <span class="muted mono id">{shortId(room.id)}</span>
        <StatusChip status={room.status} />
        <FeedChip feed={feed} onRetry={() => feedRef.current?.reconnectNow()} />
      </div>
      <div class="tabs" role="tablist" aria-label="Room panes">
        {(["chat", "events", "details"] as const).map((t) => (
          <button key={t} type="button" role="tab" aria-selected={tab === t} onClick={() => setTab(t)}>
            {t === "chat" ? "Chat" : t === "events" ? "Events" : "Details"}
          </button>
        ))}
      </div>
      <div class="room-body">
        <div class="pane pane-chat">
          <Transcript state={state} version={state.version} room={room} />
          {can(identity, "send") ? <Composer api={api} room={room} state={state} onSent={bump} /> : null}
        </div>
        <aside class="pane pane-side">
          <div class="pane-details" data-testid="room-details">
            <dl class="facts">
              <dt>Turn</dt>
              <dd class="one-line" data-testid="turn-status" data-turn-status={running || streaming ? "running" : (turn?.status ?? "none")}>
                {/* A fixed-width chip, then one text node: the line does not reflow as the turn starts and ends. */}
                <StatusChip status={running || streaming ? "running" : (turn?.status ?? "none")} label={running || streaming ? "running" : turn ? turn.status : "no turn yet"} />{" "}
                <span class="muted">
                  {running || streaming
                    ? `${room.active_turn?.agent_id ?? turn?.agent ?? ""} since ${clock(room.active_turn?.started_at)}`
                    : turn
                      ? `last turn, ${turn.agent ?? ""}`
                      : ""}
                </span>
              </dd>
              <dt>Queued</dt>
              <dd>{room.queued_message_id ? <span class="mono">{shortId(room.queued_message_id)}</span> : <span class="muted">nothing</span>}</dd>
              <dt>Usage</dt>
              <dd class="mono one-line" data-testid="usage">
                {`in ${tokens(room.usage.input)} · out ${tokens(room.usage.output)} · ${tokens(room.usage.totalTokens)} tok · ${cost(room.usage.cost.total)}`}
              </dd>
              <dt>Last error</dt>
              <dd data-testid="last-error">
                {room.last_error ? (
                  <span class="bad">
                    <code>{room.last_error.code}</code> {room.last_error.message} <span class="muted">{timeAgo(room.last_error.at)}</span>
                  </span>
                ) : (
                  <span class="muted">none</span>
                )}
              </dd>
              <dt>Actors</dt>
              <dd>
                {room.actors.map((a) => (
                  <div key={a.agent_id} class="clip">
                    <b>{a.agent_id}</b> <span class="muted">{a.provider}/{a.model}{a.muted ? " · muted" : ""}</span>
                  </div>
                ))}
              </dd>
              <dt>Tools</dt>
              <dd>{room.tool_policy.allowed_tools.length > 0 ? room.tool_policy.allowed_tools.join(", ") : <span class="muted">none</span>}</dd>
              <dt>Active</dt>
              <dd>{timeAgo(room.last_active_at)}</dd>
            </dl>
            <Controls identity={identity} room={room} running={running} onAct={act} />
            <ErrorBox error={actionError} onDismiss={() => setActionError(null)} />
          </div>
          <div class="pane-events">
            <EventLog state={state} version={state.version} onLoadOlder={loadOlder} />
          </div>
        </aside>
      </div>
      <div class="sr-only" aria-live="polite">
        {running ? "turn running" : turn ? `turn ${turn.status}` : ""}
      </div>
    </section>
  );
}

function FeedChip({ feed, onRetry }: { feed: FeedState; onRetry: () => void }) {
  const label =
    feed.phase === "live"
      ? "live"
      : feed.phase === "connecting"
        ? "connecting…"
        : feed.phase === "reconnecting"
          ? `reconnecting (${Math.ceil(feed.inMs / 1000)} s)`
          : feed.phase === "ended"
            ? "feed ended"
            : "feed failed";
  const title = feed.phase === "reconnecting" ? `${feed.reason}; attempt ${feed.attempt}` : feed.phase === "failed" ? feed.message : label;
  return (
    <span class="feed" data-testid="feed" data-feed={feed.phase} title={title}>
      <span class={`dot dot-${feed.phase}`} aria-hidden="true" />
      <span class="feed-label">{label}</span>
      {feed.phase === "reconnecting" ? (
        <button type="button" class="link" onClick={onRetry}>
          now
        </button>
      ) : null}
    </span>
  );
}

function Controls({ identity, room, running, onAct }: { identity: Identity; room: Room; running: boolean; onAct: (verb: "interrupt" | "wake" | "release", body?: Record<string, unknown>) => Promise<void> }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState<string | null>(null);
  const released = room.status === "released" || room.status === "releasing";
  const run = async (verb: "interrupt" | "wake" | "release", body?: Record<string, unknown>) => {
    setBusy(verb);
    try {
      await onAct(verb, body);
    } finally {
      setBusy(null);
    }
  };
  const buttons = [];
  if (can(identity, "interrupt")) {
    buttons.push(
      <button key="interrupt" type="button" data-testid="interrupt" disabled={!running || busy !== null} onClick={() => run("interrupt", { reason: "interrupted from the console" })}>
        Interrupt
      </button>,
    );
  }
  if (can(identity, "wake")) {
    buttons.push(
      <button key="wake" type="button" data-testid="wake" disabled={released || room.status === "active" || busy !== null} onClick={() => run("wake", { reason: "woken from the console" })}>
        Wake
      </button>,
    );
  }
  if (can(identity, "release")) {
    buttons.push(
      confirming ? (
        <button
          key="release"
          type="button"
          class="danger"
          data-testid="release-confirm"
          autoFocus
          onBlur={() => setConfirming(false)}
          onKeyDown={(e) => e.key === "Escape" && setConfirming(false)}
          onClick={() => {
            setConfirming(false);
            void run("release", { reason: "released from the console" });
          }}
        >
          Confirm release
        </button>
      ) : (
        <button key="release" type="button" class="danger-quiet" data-testid="release" disabled={released || busy !== null} onClick={() => setConfirming(true)}>
          Release
        </button>
      ),
    );
  }
  if (buttons.length === 0) return <p class="muted readonly-note">Read-only token: watching only.</p>;
  return (
    <div class="controls" data-testid="controls">
      {buttons}
    </div>
  );
}

function Composer({ api, room, state, onSent }: { api: Api; room: Room; state: RoomState; onSent: () => void }) {
  const [text, setText] = useState("");
  const [kind, setKind] = useState<"message" | "task" | "note">("message");
  const [actor, setActor] = useState("");
  const [mentions, setMentions] = useState<string[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const pending = useRef<{ body: string; key: string } | null>(null);
  const released = room.status === "released" || room.status === "releasing";
  const several = room.actors.length > 1;

  const send = async () => {
    const content = text;
    if (!content.trim() || busy) return;
    setError(null);
    const body = { content, ...(kind !== "message" ? { kind } : {}), ...(actor ? { actor } : {}), ...(mentions.length > 0 ? { mentions } : {}) };
    // The same message sent again after a network failure reuses its key, so it is stored once.
    const bodyText = JSON.stringify(body);
    if (pending.current?.body !== bodyText) pending.current = { body: bodyText, key: idempotencyKey() };
    setBusy(true);
    try {
      const { data } = await api.post<Message>(`/llm/room/${encodeURIComponent(room.id)}/messages`, body, { headers: { "Idempotency-Key": pending.current.key } });
      pending.current = null;
      state.upsertMessages([data]);
      onSent();
      setText("");
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 0) pending.current = null;
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      class="composer"
      data-testid="composer"
      onSubmit={(e) => {
        e.preventDefault();
        void send();
      }}
    >
      {several ? (
        <div class="composer-opts">
          <label>
            Answer by{" "}
            <select value={actor} onChange={(e) => setActor(e.currentTarget.value)}>
              <option value="">default</option>
              {room.actors.map((a) => (
                <option key={a.agent_id} value={a.agent_id}>
                  {a.agent_id}
                </option>
              ))}
            </select>
          </label>
          <span class="mentions" role="group" aria-label="Mentions">
            {room.actors.map((a) => (
              <label key={a.agent_id} class="check">
                <input type="checkbox" checked={mentions.includes(a.agent_id)} onChange={() => setMentions((m) => (m.includes(a.agent_id) ? m.filter((x) => x !== a.agent_id) : [...m, a.agent_id]))} />@{a.agent_id}
              </label>
            ))}
          </span>
        </div>
      ) : null}
      <div class="composer-row">
        <label class="sr-only" for="composer-text">
          Message
        </label>
        <textarea
          id="composer-text"
          rows={2}
          value={text}
          disabled={released}
          placeholder={released ? "This room is released." : "Message (Ctrl+Enter to send)"}
          onInput={(e) => setText(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
              e.preventDefault();
              void send();
            }
          }}
        />
        <div class="composer-side">
          <label class="sr-only" for="composer-kind">
            Kind
          </label>
          <select id="composer-kind" value={kind} onChange={(e) => setKind(e.currentTarget.value as "message" | "task" | "note")}>
            <option value="message">message</option>
            <option value="task">task</option>
            <option value="note">note</option>
          </select>
          <button type="submit" class="primary" data-testid="send" disabled={released || busy || text.trim() === ""}>
            Send
          </button>
        </div>
      </div>
      <ErrorBox error={error} onDismiss={() => setError(null)} />
    </form>
  );
}
