import { useState } from "preact/hooks";
import { ErrorBox } from "./common.js";

export function SignIn({ onSignIn, notice }: { onSignIn: (token: string) => Promise<void>; notice: string | null }) {
  const [token, setToken] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      await onSignIn(token);
      setToken("");
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="signin" id="main">
      <form class="card signin-card" onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">
          roomservice <span>console</span>
        </h1>
        <p class="muted">Paste a token. It stays in this tab's session storage and is sent only to this server; closing the tab forgets it.</p>
        {notice ? (
          <div class="notice" role="status">
            {notice}
          </div>
        ) : null}
        <label for="token">Bearer token</label>
        <textarea
          id="token"
          name="token"
          rows={5}
          spellcheck={false}
          autocomplete="off"
          autoFocus
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
          placeholder="eyJhbGciOi..."
          required
        />
        <div class="hint">
          Make one with <code>DATA_DIR=./data npm run -s token -- --tenant acme --sub alice</code> (the server's <code>DATA_DIR</code>; add <code>--access read</code> for a read-only look).
        </div>
        <ErrorBox error={error} />
        <button type="submit" class="primary" disabled={busy || token.trim() === ""}>
          {busy ? "Checking…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
