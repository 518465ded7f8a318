import type { ComponentChildren } from "preact";
import { ApiError } from "../lib/api.js";

export function StatusChip({ status, label }: { status: string; label?: string }) {
  return (
    <span class={`chip chip-${status}`} data-status={status}>
      {label ?? status}
    </span>
  );
}

/** An error from the server, as it said it: message, code, and each validation issue. */
export function ErrorBox({ error, onDismiss }: { error: unknown; onDismiss?: () => void }) {
  if (!error) return null;
  const e = error instanceof ApiError ? error : null;
  const message = e ? e.message : error instanceof Error ? error.message : String(error);
  const details = e && Array.isArray(e.details) ? (e.details as Array<{ path?: string; message?: string }>) : [];
  return (
    <div class="error-box" role="alert">
      <div>
        {e ? <code class="error-code">{e.code}</code> : null} {message}
      </div>
      {details.length > 0 ? (
        <ul>
          {details.map((d, i) => (
            <li key={i}>
              <code>{d.path ?? "(root)"}</code>: {d.message ?? ""}
            </li>
          ))}
        </ul>
      ) : null}
      {onDismiss ? (
        <button type="button" class="link" onClick={onDismiss}>
          Dismiss
        </button>
      ) : null}
    </div>
  );
}

export function Field({ label, hint, children, id }: { label: string; hint?: ComponentChildren; children: ComponentChildren; id: string }) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {children}
      {hint ? <div class="hint">{hint}</div> : null}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <div class="empty">{children}</div>;
}
