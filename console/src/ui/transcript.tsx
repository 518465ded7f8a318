import { oneLine } from "../lib/format.js";
import type { RoomState, TranscriptItem } from "../lib/room-state.js";
import type { Room } from "../lib/types.js";
import { VirtualList } from "./virtual-list.js";

function who(item: TranscriptItem): string {
  switch (item.kind) {
    case "message":
      return item.authorKind === "agent" ? (item.actorKey ?? item.authorId) : item.authorKind === "user" ? item.authorId || "user" : "system";
    case "stream":
    case "tool":
      return item.agent ?? "agent";
    case "error":
      return "error";
  }
}

function Item({ item }: { item: TranscriptItem }) {
  switch (item.kind) {
    case "message": {
      const side = item.authorKind === "user" ? "user" : item.authorKind === "agent" ? "agent" : "system";
      const endedAs = typeof item.metadata["turn_status"] === "string" ? item.metadata["turn_status"] : item.turnStatus;
      const partial = item.metadata["partial"] === true || item.msgKind === "partial" || (item.authorKind === "agent" && endedAs !== null && endedAs !== "completed");
      return (
        <article class={`bubble ${side}`} data-testid={`message-${side}`} data-message-id={item.id} data-turn-id={item.turnId ?? ""} data-stream-check={item.streamed ?? "none"}>
          <header>
            <b>{who(item)}</b>
            {item.msgKind !== "message" && item.msgKind !== "output" && item.msgKind !== "partial" ? <span class="tag">{item.msgKind}</span> : null}
            {partial ? <span class="tag warn">partial{endedAs ? ` · ${endedAs}` : ""}</span> : null}
            {side === "user" && item.status && item.status !== "done" ? <span class="tag">{item.status}</span> : null}
            {item.streamed === "mismatch" ? (
              <span class="tag warn" title="The text that streamed in differs from the stored answer; the stored answer is shown.">
                stream differed
              </span>
            ) : null}
          </header>
          <div class="text">{item.content ?? <span class="muted">…</span>}</div>
        </article>
      );
    }
    case "stream":
      return (
        <article class={`bubble agent ${item.state === "streaming" ? "streaming" : ""}`} data-testid="stream" data-state={item.state} data-turn-id={item.turnId ?? ""}>
          <header>
            <b>{who(item)}</b>
            {item.state === "streaming" ? (
              <span class="tag live">
                <span class="pulse" aria-hidden="true" /> streaming
              </span>
            ) : item.state !== "ended" ? (
              <span class="tag warn">{item.state}</span>
            ) : null}
          </header>
          <div class="text" data-testid="stream-text">
            {item.text}
          </div>
        </article>
      );
    case "tool":
      return (
        <article class={`bubble tool ${item.isError ? "bad" : ""}`} data-testid="tool">
          <header>
            <b>{who(item)}</b> <span class="tag">tool</span> <code>{item.name}</code> {item.done ? (item.isError ? <span class="tag warn">error</span> : null) : <span class="tag live">running</span>}
          </header>
          <div class="mono small">args: {oneLine(item.args, 400)}</div>
          {item.done ? <div class="mono small">result: {oneLine(item.result, 400)}</div> : null}
        </article>
      );
    case "error":
      return (
        <article class="bubble system bad" data-testid="turn-error">
          <header>
            <b>error</b> <code>{item.code}</code>
          </header>
          <div class="text">{item.message}</div>
        </article>
      );
  }
}

export function Transcript({ state, version, room }: { state: RoomState; version: number; room: Room }) {
  return (
    <VirtualList
      items={state.items}
      version={version}
      itemKey={(i) => i.key}
      estimate={72}
      follow
      class="transcript"
      testId="transcript"
      attrs={{ role: "log", "aria-label": "Transcript", tabIndex: 0 }}
      empty={<div class="muted">Nothing said yet.{room.status === "released" ? "" : " Send a message to start a turn."}</div>}
      renderItem={(item) => <Item item={item} />}
    />
  );
}
