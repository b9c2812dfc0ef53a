import type { ComponentChildren } from 'preact';

/** A status word in a coloured pill; its class picks the colour (style.css), its text defaults to the status. */
export function Badge({ status, children }: { status: string; children?: ComponentChildren }) {
  return <span class={`badge ${status}`}>{children ?? status}</span>;
}

export function ErrorLine({ error }: { error?: string }) {
  return error ? (
    <p class="error" role="alert">
      {error}
    </p>
  ) : null;
}

export function LabelChips({ labels = {} }: { labels?: Record<string, string> }) {
  return (
    <>
      {Object.entries(labels).map(([key, value]) => (
        <span class="label">{`${key}=${value}`}</span>
      ))}
    </>
  );
}

/** "12s ago", "3m ago". */
export function ago(iso: string): string {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return seconds < 120 ? `${seconds}s ago` : `${Math.round(seconds / 60)}m ago`;
}
