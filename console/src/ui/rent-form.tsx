import { useEffect, useRef, useState } from "preact/hooks";
import { idempotencyKey, type Api } from "../lib/api.js";
import { can } from "../lib/session.js";
import type { Identity, ModelInfo, Room } from "../lib/types.js";
import { ErrorBox, Field } from "./common.js";
import { go, href } from "./route.js";

/** The built-in tools a tool policy may allow (the server's registry). */
const TOOLS = ["calculator", "clock"];

interface ActorDraft {
  agent_id: string;
  model: string; // "provider/model"
  system_prompt: string;
  options: string; // JSON text
}

const newActor = (n: number, model: string): ActorDraft => ({ agent_id: n === 0 ? "assistant" : `agent-${n + 1}`, model, system_prompt: "", options: "" });

export function RentForm({ api, identity }: { api: Api; identity: Identity }) {
  const [models, setModels] = useState<ModelInfo[]>([]);
  const [purpose, setPurpose] = useState("");
  const [name, setName] = useState("");
  const [actors, setActors] = useState<ActorDraft[]>([newActor(0, "local/echo")]);
  const [tools, setTools] = useState<string[]>([]);
  const [maxToolCalls, setMaxToolCalls] = useState("");
  const [wakeMode, setWakeMode] = useState<"on_message" | "manual">("on_message");
  const [maxTurnS, setMaxTurnS] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const key = useRef<{ body: string; key: string } | null>(null);

  useEffect(() => {
    api.get<ModelInfo[]>("/llm/providers/models").then(({ data }) => setModels(data), setError);
  }, [api]);

  if (!can(identity, "rent")) {
    return (
      <section class="page">
        <h1>Rent a room</h1>
        <p>Renting needs a token with access <b>full</b>; this one has <b>{identity.access}</b>.</p>
        <a href={href.rooms()}>Back to rooms</a>
      </section>
    );
  }

  const setActor = (i: number, patch: Partial<ActorDraft>) => setActors((list) => list.map((a, j) => (j === i ? { ...a, ...patch } : a)));

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const agents = [];
    for (const a of actors) {
      let options: Record<string, unknown> | undefined;
      if (a.options.trim()) {
        try {
          const parsed: unknown = JSON.parse(a.options);
          if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
          options = parsed as Record<string, unknown>;
        } catch {
          setError(new Error(`options of actor "${a.agent_id}" must be a JSON object, for example {"token_delay_ms": 150}`));
          return;
        }
      }
      const [provider, ...rest] = a.model.split("/");
      agents.push({
        agent_id: a.agent_id.trim(),
        provider,
        model: rest.join("/"),
        ...(a.system_prompt.trim() ? { system_prompt: a.system_prompt } : {}),
        ...(options ? { options } : {}),
      });
    }
    const body = {
      ...(purpose.trim() ? { purpose: purpose.trim() } : {}),
      ...(name.trim() ? { metadata: { name: name.trim() } } : {}),
      agents,
      tool_policy: { allowed_tools: tools, ...(maxToolCalls ? { max_tool_calls: Number(maxToolCalls) } : {}) },
      wake_policy: { mode: wakeMode },
      ...(maxTurnS ? { done_policy: { max_turn_s: Number(maxTurnS) } } : {}),
    };
    // A retry of the same form (say after a dropped connection) replays the first answer instead of renting twice.
    const text = JSON.stringify(body);
    if (key.current?.body !== text) key.current = { body: text, key: idempotencyKey() };
    setBusy(true);
    try {
      const { data } = await api.post<Room>("/llm/room", body, { headers: { "Idempotency-Key": key.current.key } });
      go(href.room(data.id));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const modelOptions = models.length > 0 ? models : [{ provider: "local", model: "echo", name: "Echo (built-in)" } as ModelInfo];

  return (
    <section class="page narrow" aria-labelledby="rent-title">
      <div class="page-head">
        <h1 id="rent-title">Rent a room</h1>
        <a href={href.rooms()}>Cancel</a>
      </div>
      <form class="card form" onSubmit={submit} data-testid="rent-form">
        <Field id="rent-name" label="Name" hint="Stored as metadata.name; the rooms list can filter on it.">
          <input id="rent-name" value={name} maxLength={200} onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        <Field id="rent-purpose" label="Purpose">
          <input id="rent-purpose" value={purpose} maxLength={2000} onInput={(e) => setPurpose(e.currentTarget.value)} />
        </Field>

        <fieldset>
          <legend>Actors</legend>
          {actors.map((a, i) => (
            <div class="actor-draft" key={i} data-testid={`actor-${i}`}>
              <Field id={`actor-id-${i}`} label="Agent id">
                <input id={`actor-id-${i}`} value={a.agent_id} required pattern="[A-Za-z0-9][A-Za-z0-9_.\-]*" maxLength={64} onInput={(e) => setActor(i, { agent_id: e.currentTarget.value })} />
              </Field>
              <Field id={`actor-model-${i}`} label="Provider / model">
                <select id={`actor-model-${i}`} value={a.model} onChange={(e) => setActor(i, { model: e.currentTarget.value })}>
                  {modelOptions.map((m) => (
                    <option key={`${m.provider}/${m.model}`} value={`${m.provider}/${m.model}`}>
                      {m.provider}/{m.model}
                      {m.name ? ` — ${m.name}` : ""}
                    </option>
                  ))}
                </select>
              </Field>
              <Field id={`actor-prompt-${i}`} label="System prompt (optional)">
                <textarea id={`actor-prompt-${i}`} rows={2} value={a.system_prompt} onInput={(e) => setActor(i, { system_prompt: e.currentTarget.value })} />
              </Field>
              <Field id={`actor-options-${i}`} label="Options (JSON, optional)" hint={<>For local/echo: token_delay_ms, reply, fail_after_tokens, tool_call.</>}>
                <input id={`actor-options-${i}`} class="mono" value={a.options} placeholder='{"token_delay_ms": 150}' onInput={(e) => setActor(i, { options: e.currentTarget.value })} />
              </Field>
              {actors.length > 1 ? (
                <button type="button" class="quiet" onClick={() => setActors((list) => list.filter((_, j) => j !== i))}>
                  Remove {a.agent_id || "actor"}
                </button>
              ) : null}
            </div>
          ))}
          {actors.length < 16 ? (
            <button type="button" class="quiet" onClick={() => setActors((list) => [...list, newActor(list.length, modelOptions[0] ? `${modelOptions[0].provider}/${modelOptions[0].model}` : "local/echo")])}>
              Add an actor
            </button>
          ) : null}
        </fieldset>

        <fieldset>
          <legend>Tool policy</legend>
          {TOOLS.map((t) => (
            <label class="check" key={t}>
              <input type="checkbox" checked={tools.includes(t)} onChange={() => setTools((cur) => (cur.includes(t) ? cur.filter((x) => x !== t) : [...cur, t]))} />
              {t}
            </label>
          ))}
          <Field id="rent-max-tools" label="Max tool calls per turn (optional)">
            <input id="rent-max-tools" type="number" min={0} max={256} value={maxToolCalls} onInput={(e) => setMaxToolCalls(e.currentTarget.value)} />
          </Field>
        </fieldset>

        <fieldset>
          <legend>Policies</legend>
          <Field id="rent-wake" label="Wake">
            <select id="rent-wake" value={wakeMode} onChange={(e) => setWakeMode(e.currentTarget.value as "on_message" | "manual")}>
              <option value="on_message">on message (a message starts a turn)</option>
              <option value="manual">manual (messages wait for a wake)</option>
            </select>
          </Field>
          <Field id="rent-max-turn" label="Max seconds per turn (optional)">
            <input id="rent-max-turn" type="number" min={1} max={3600} value={maxTurnS} onInput={(e) => setMaxTurnS(e.currentTarget.value)} />
          </Field>
        </fieldset>

        <ErrorBox error={error} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Renting…" : "Rent"}
        </button>
      </form>
    </section>
  );
}
