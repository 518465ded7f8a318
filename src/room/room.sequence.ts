/**
 * Who answers a prompt, and in what order. A prompt (a `message` or `task`)
 * is answered by a *sequence*: its addressed actors, one bounded turn each,
 * one after another, repeated for `rounds` extra rounds. The sequence is
 * stored on the message row (`sequence` column) and advanced in the same
 * transaction that begins each turn, so after a crash the rows say exactly
 * which turns ran: none is run twice.
 *
 * Step i of a sequence is `actors[i % actors.length]` in round
 * `floor(i / actors.length)`. A step is skipped when its actor has been
 * removed, muted (unless the prompt named it with `actor`), or stopped for
 * this message (mute, removal or an actor interrupt while the sequence ran:
 * `skip`). Pure functions and row updates only: no awaits.
 */
import type { Actor } from "./room.schemas.js";

export const ADDRESSING_MODES = ["first_unmuted", "mentioned_only"] as const;
export type Addressing = (typeof ADDRESSING_MODES)[number];

/** Most extra rounds a prompt may ask for. */
export const MAX_ROUNDS = 6;

/** A prompt's turns as stored on its message row. */
export interface Sequence {
  /** Addressed agent ids, in answering order. */
  actors: string[];
  /** Extra rounds after the first (0..MAX_ROUNDS). */
  rounds: number;
  /** The step that runs now, or runs next. */
  step: number;
  /** Turns begun for this prompt so far. */
  ran: number;
  /** Named by `actor`: answers even while muted. */
  named: boolean;
  /** Actors stopped for this prompt: their pending steps are skipped. */
  skip: string[];
  /** Set by `interrupt {scope: "all"}`: no further step starts. */
  cancelled: boolean;
}

/** What a new prompt gets: the turns to run, or none (stored as a note). */
export type Addressed = { sequence: Sequence; first: Actor } | { sequence: null; why: string };

/**
 * The actors a prompt addresses. `actor` names one (muted or not). Else the
 * mentioned, unmuted actors in mention order. Else, with `first_unmuted`, the
 * first unmuted actor; with `mentioned_only`, nobody. Nobody: no turn.
 */
export function address(actors: readonly Actor[], addressing: Addressing, input: { actor?: string | undefined; mentions?: readonly string[] | undefined; rounds?: number | undefined }): Addressed {
  const rounds = input.rounds ?? 0;
  const seq = (ids: string[], named: boolean): Sequence => ({ actors: ids, rounds, step: 0, ran: 0, named, skip: [], cancelled: false });
  if (input.actor) {
    const a = actors.find((x) => x.agent_id === input.actor);
    if (a) return { sequence: seq([a.agent_id], true), first: a };
  }
  const mentions = input.mentions ?? [];
  if (mentions.length > 0) {
    const ids: string[] = [];
    for (const m of mentions) {
      const a = actors.find((x) => x.agent_id === m);
      if (a && !a.muted && !ids.includes(a.agent_id)) ids.push(a.agent_id);
    }
    if (ids.length === 0) return { sequence: null, why: "every mentioned actor is muted" };
    return { sequence: seq(ids, false), first: actors.find((x) => x.agent_id === ids[0])! };
  }
  if (addressing === "mentioned_only") return { sequence: null, why: "the room answers only mentioned actors (addressing mentioned_only) and the message mentions none" };
  const first = actors.find((a) => !a.muted);
  if (!first) return { sequence: null, why: "every actor of the room is muted" };
  return { sequence: seq([first.agent_id], false), first };
}

/** Steps the sequence has in all. */
export function totalSteps(s: Sequence): number {
  return s.actors.length * (s.rounds + 1);
}

/** The first step at or after `from` whose actor may still answer, with that actor; null when none is left. */
export function nextStep(s: Sequence, actors: readonly Actor[], from: number): { step: number; actor: Actor } | null {
  if (s.cancelled) return null;
  const total = totalSteps(s);
  for (let i = from; i < total; i++) {
    const id = s.actors[i % s.actors.length]!;
    if (s.skip.includes(id)) continue;
    const actor = actors.find((a) => a.agent_id === id);
    if (actor && (!actor.muted || s.named)) return { step: i, actor };
  }
  return null;
}

/** Reads a message row's `sequence` column; null for rows written before sequences existed. */
export function sequenceOf(value: unknown): Sequence | null {
  if (!value || typeof value !== "object") return null;
  return value as Sequence;
}

/** Whether the prompt was asked to be answered by more than one turn (it then ends with `message:completed` or `message:cancelled`). */
export function isMultiTurn(s: Sequence | null): boolean {
  return s !== null && totalSteps(s) > 1;
}
