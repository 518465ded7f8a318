import { useCallback, useEffect, useMemo, useState } from "preact/hooks";
import { ApiError, createApi, type Api } from "../lib/api.js";
import { identityFromToken, normalizeToken } from "../lib/session.js";
import type { Access, Identity } from "../lib/types.js";
import { RentForm } from "./rent-form.js";
import { RoomView } from "./room-view.js";
import { RoomsList } from "./rooms-list.js";
import { href, useRoute } from "./route.js";
import { RunView } from "./run-view.js";
import { RunsList } from "./runs-list.js";
import { SignIn } from "./sign-in.js";

/** The token lives in this tab's session storage only: never a URL, a cookie, local storage or a log. */
const STORAGE_KEY = "roomservice.console.token";

interface Session {
  token: string;
  identity: Identity;
  /** Whether the server has accepted this token since it was pasted or restored. */
  verified: boolean;
}

function restore(): Session | null {
  let token: string | null = null;
  try {
    token = sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
  if (!token) return null;
  const r = identityFromToken(token, Date.now() / 1000);
  if (!r.ok) {
    sessionStorage.removeItem(STORAGE_KEY);
    return null;
  }
  return { token, identity: r.identity, verified: false };
}

interface Introspected {
  tenant?: unknown;
  sub?: unknown;
  access?: unknown;
  expires_at?: unknown;
}

/**
 * Who the token is, as the server sees it: GET /api/user/introspect where the
 * server has it; otherwise the token's claims, after one authenticated read
 * proves the server accepts the token at all.
 */
export async function verifyToken(token: string, claimed: Identity): Promise<Identity> {
  const api = createApi(
    () => token,
    () => undefined,
  );
  try {
    const { data } = await api.get<Introspected>("/api/user/introspect");
    const exp = data.expires_at;
    const expiresAt = typeof exp === "number" ? exp : typeof exp === "string" && Number.isFinite(Date.parse(exp)) ? Date.parse(exp) / 1000 : claimed.expiresAt;
    return {
      tenant: typeof data.tenant === "string" ? data.tenant : claimed.tenant,
      sub: typeof data.sub === "string" ? data.sub : claimed.sub,
      access: (typeof data.access === "string" ? data.access : claimed.access) as Access,
      expiresAt,
      source: "introspect",
    };
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 404) throw err;
  }
  await api.get("/llm/room", { query: { limit: 1 } });
  return claimed;
}

export function App() {
  const [session, setSession] = useState<Session | null>(restore);
  const [notice, setNotice] = useState<string | null>(null);
  const route = useRoute();

  const signOut = useCallback((why: string | null) => {
    sessionStorage.removeItem(STORAGE_KEY);
    setSession(null);
    setNotice(why);
  }, []);

  const signIn = useCallback(async (raw: string) => {
    const token = normalizeToken(raw);
    const claimed = identityFromToken(token, Date.now() / 1000);
    if (!claimed.ok) throw new Error(claimed.message);
    const identity = await verifyToken(token, claimed.identity);
    sessionStorage.setItem(STORAGE_KEY, token);
    setNotice(null);
    setSession({ token, identity, verified: true });
  }, []);

  // A restored session asks the server again (the access level may differ from the claims).
  useEffect(() => {
    if (!session || session.verified) return;
    let live = true;
    verifyToken(session.token, session.identity).then(
      (identity) => live && setSession((s) => (s && s.token === session.token ? { token: s.token, identity, verified: true } : s)),
      (err: unknown) => {
        if (live && err instanceof ApiError && err.status === 401) signOut(`Signed out: ${err.message}`);
      },
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [session?.token]);

  const api: Api | null = useMemo(() => (session ? createApi(() => session.token, (message) => signOut(`Signed out: the server refused the token (${message}).`)) : null), [session, signOut]);

  useEffect(() => {
    document.title = session ? `roomservice console · ${session.identity.tenant}` : "roomservice console";
  }, [session]);

  if (!session || !api) return <SignIn onSignIn={signIn} notice={notice} />;
  const id = session.identity;
  const section = route.name === "runs" || route.name === "run" ? "runs" : "rooms";

  return (
    <div class="shell">
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={href.rooms()}>
          roomservice <span>console</span>
        </a>
        <nav aria-label="Sections">
          <a href={href.rooms()} aria-current={section === "rooms" ? "page" : undefined}>
            Rooms
          </a>
          <a href={href.runs()} aria-current={section === "runs" ? "page" : undefined}>
            Factory
          </a>
        </nav>
        <div class="who" data-testid="identity">
          <span title="tenant">
            <span class="k">tenant</span> <b data-testid="tenant">{id.tenant}</b>
          </span>
          <span title="subject">
            <span class="k">sub</span> <b data-testid="subject">{id.sub}</b>
          </span>
          <span class={`access access-${id.access}`} data-testid="access" title={id.source === "introspect" ? "access, as the server reports it" : "access, from the token's claims"}>
            {id.access}
          </span>
          <button type="button" class="quiet" onClick={() => signOut(null)}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {route.name === "rooms" ? <RoomsList api={api} identity={id} /> : null}
        {route.name === "rent" ? <RentForm api={api} identity={id} /> : null}
        {route.name === "room" ? <RoomView key={route.id} api={api} identity={id} roomId={route.id} /> : null}
        {route.name === "runs" ? <RunsList api={api} identity={id} /> : null}
        {route.name === "run" ? <RunView key={route.id} api={api} identity={id} runId={route.id} /> : null}
      </main>
    </div>
  );
}
