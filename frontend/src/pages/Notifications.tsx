import { useEffect, useState } from "preact/hooks";
import { ErrorText, Spinner, formatTime } from "../components/common";
import { status, subscribe, ws } from "../lib/hub";

interface Notification {
  notification_id: string;
  title: string | null;
  message: string;
  created_at: string;
}
interface Change {
  type: "current" | "added" | "updated" | "removed";
  notifications: Record<string, Notification>;
}

export default function Notifications() {
  const [items, setItems] = useState<Record<string, Notification> | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    if (status.value !== "connected") return;
    let unsubscribe: (() => Promise<void>) | null = null;
    let cancelled = false;
    subscribe<Change>({ type: "persistent_notification/subscribe" }, (change) => {
      setItems((previous) => {
        const next = change.type === "current" ? {} : { ...(previous ?? {}) };
        for (const [id, item] of Object.entries(change.notifications)) {
          if (change.type === "removed") delete next[id];
          else next[id] = item;
        }
        return next;
      });
    })
      .then((undo) => {
        if (cancelled) undo();
        else unsubscribe = undo;
      })
      .catch(setError);
    return () => {
      cancelled = true;
      unsubscribe?.();
    };
  }, [status.value]);

  const dismiss = async (id: string) => {
    try {
      await ws({ type: "notify/dismiss", notification_id: id });
    } catch (err) {
      setError(err);
    }
  };
  const list = items ? Object.values(items).sort((a, b) => b.created_at.localeCompare(a.created_at)) : null;
  return (
    <section>
      <h1>Notifications</h1>
      <ErrorText error={error} what="Notifications" />
      {list === null && !error ? <Spinner label="Loading notifications" /> : null}
      {list?.length === 0 ? <p class="notice">No notifications.</p> : null}
      {list?.map((item) => (
        <article class="card" key={item.notification_id} data-testid="notification">
          {item.title ? <h2>{item.title}</h2> : null}
          <p style={{ whiteSpace: "pre-wrap" }}>{item.message}</p>
          <p>
            <small>{formatTime(item.created_at)}</small>{" "}
            <button type="button" onClick={() => dismiss(item.notification_id)}>
              Dismiss
            </button>
          </p>
        </article>
      ))}
    </section>
  );
}
