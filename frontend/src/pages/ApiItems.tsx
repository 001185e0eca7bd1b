import { ComponentType } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ErrorText, Spinner } from "../components/common";
import { rest, status } from "../lib/hub";
import { canControl, canManage, role } from "../lib/roles";

/** What every /api/v1 item has: its id, its name, and whether the API may change it. */
export interface ApiItem {
  id: string;
  name: string;
  editable: boolean;
}

/** The one thing every role but read-only may do to an item: POST <item>/<suffix>. */
export interface ItemAction {
  label: string;
  suffix: string;
  primary: boolean;
  /** What to say once it was done; nothing when the card shows it. */
  done?: string;
}

/**
 * What differs between the Scenes and Schedules pages: everything else (the list from /api/v1,
 * the New form, a card per item with its action, Edit and Delete with a confirmation, and only
 * what the user's role may do) is one page, as ConfigItems.tsx is for automations and scripts.
 */
export interface ApiItemKind<T extends ApiItem> {
  /** "Scenes": the page's title and the list's label. */
  title: string;
  /** "scene": in sentences, buttons and the cards' data-<noun> attribute. */
  noun: string;
  /** "/api/v1/scenes". */
  path: string;
  /** What the page says when there are none. */
  empty: string;
  /** The left part of a card's head: the name and what the item is. */
  Summary: ComponentType<{ item: T }>;
  /** What the card shows under its head. */
  Details: ComponentType<{ item: T }>;
  /** The form that makes a new item (item null) or changes one; onDone after saving or cancelling. */
  Form: ComponentType<{ item: T | null; onDone: () => void }>;
  /** The item's control action (activate, switch on or off). */
  action: (item: T) => ItemAction;
}

/** The page of a kind: its list, and its form when making or changing one. */
export function apiItemsPage<T extends ApiItem>(kind: ApiItemKind<T>) {
  return function ApiItemsPage() {
    const [items, setItems] = useState<T[] | null>(null);
    const [error, setError] = useState<unknown>(null);
    const [editing, setEditing] = useState<T | "new" | null>(null);
    const [version, setVersion] = useState(0);
    const manage = canManage.value;
    useEffect(() => {
      if (status.value !== "connected") return;
      rest<T[]>("GET", kind.path).then(
        (list) => {
          setItems(list);
          setError(null);
        },
        setError,
      );
    }, [version, status.value]);
    const reload = () => setVersion((v) => v + 1);
    const Form = kind.Form;

    return (
      <section class="stack">
        <div class="page-head">
          <h1>{kind.title}</h1>
          {manage && editing === null ? (
            <button type="button" class="primary" onClick={() => setEditing("new")}>
              New {kind.noun}
            </button>
          ) : null}
        </div>
        <RoleNote plural={kind.title.toLowerCase()} />
        <ErrorText error={error} what={kind.title} />
        {editing !== null && manage ? (
          <Form
            item={editing === "new" ? null : editing}
            onDone={() => {
              setEditing(null);
              reload();
            }}
          />
        ) : null}
        {items === null && !error ? <Spinner label={`Loading ${kind.title.toLowerCase()}`} /> : null}
        {items?.length === 0 ? <p class="notice">{kind.empty}</p> : null}
        {items?.length ? (
          <ul class="item-list" aria-label={kind.title}>
            {items.map((item) => (
              <ItemCard key={item.id} kind={kind} item={item} onEdit={() => setEditing(item)} onChange={reload} />
            ))}
          </ul>
        ) : null}
      </section>
    );
  };
}

/** Say why buttons are missing, to a user whose role cannot change things. */
function RoleNote(props: { plural: string }) {
  if (role.value === null || canManage.value) return null;
  if (canControl.value) return <p class="muted" data-testid="role-note">Only admins make, change or delete {props.plural}.</p>;
  return (
    <p class="notice" data-testid="role-note">
      Your account is read-only: you can see {props.plural} but not change or use them.
    </p>
  );
}

function ItemCard<T extends ApiItem>(props: { kind: ApiItemKind<T>; item: T; onEdit: () => void; onChange: () => void }) {
  const { kind, item } = props;
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState("");
  const [confirming, setConfirming] = useState(false);
  const path = `${kind.path}/${encodeURIComponent(item.id)}`;
  const action = kind.action(item);
  const manage = canManage.value && item.editable;
  const { Summary, Details } = kind;

  async function act(method: string, url: string, after: string) {
    setError(null);
    setDone("");
    try {
      await rest(method, url);
      setDone(after);
      props.onChange();
    } catch (err) {
      setError(err);
    }
  }

  return (
    <li class="card item" {...{ [`data-${kind.noun}`]: item.id }}>
      <div class="item-head">
        <Summary item={item} />
        <div class="actions">
          {canControl.value ? (
            <button type="button" class={action.primary ? "primary" : "secondary"} onClick={() => act("POST", `${path}${action.suffix}`, action.done ?? "")}>
              {action.label}
            </button>
          ) : null}
          {manage ? (
            <button type="button" class="secondary" onClick={props.onEdit}>
              Edit
            </button>
          ) : null}
          {manage ? (
            confirming ? (
              <button type="button" class="danger" onClick={() => act("DELETE", path, "")}>
                Really delete
              </button>
            ) : (
              <button type="button" class="secondary" onClick={() => setConfirming(true)}>
                Delete
              </button>
            )
          ) : null}
        </div>
      </div>
      <Details item={item} />
      {done ? (
        <p role="status" class="muted">
          {done}
        </p>
      ) : null}
      <ErrorText error={error} />
    </li>
  );
}
