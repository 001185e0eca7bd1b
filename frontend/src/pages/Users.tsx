import { useEffect, useState } from "preact/hooks";
import { ErrorText, NotAvailableNotice, Spinner } from "../components/common";
import { NotAvailable, currentUser, status, ws } from "../lib/hub";

interface HubUser {
  id: string;
  name: string;
  role: string;
  is_owner: boolean;
  is_active: boolean;
}

const ROLES: [string, string][] = [
  ["admin", "Admin: manages the hub and its users"],
  ["user", "User: controls devices"],
  ["read-only", "Read-only: watches"],
];

export default function Users() {
  const [users, setUsers] = useState<HubUser[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [version, setVersion] = useState(0);
  useEffect(() => {
    if (status.value !== "connected") return;
    ws<HubUser[]>({ type: "config/auth/list" }).then(setUsers, setError);
  }, [version, status.value]);
  const reload = () => setVersion((v) => v + 1);

  if (error instanceof NotAvailable) return <NotAvailableNotice what="Users" />;
  return (
    <section class="stack">
      <h1>Users</h1>
      <ErrorText error={error} what="Users" />
      {users === null && !error ? <Spinner label="Loading users" /> : null}
      {users ? (
        <div class="card table-wrap users-wrap">
          <table class="users" aria-label="Users">
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Role</th>
                <th scope="col">Active</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {users.map((user) => (
                <UserRow key={user.id} user={user} onChange={reload} />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <AddUser onAdded={reload} />
    </section>
  );
}

function UserRow(props: { user: HubUser; onChange: () => void }) {
  const { user } = props;
  const me = currentUser.value;
  const self = me?.id === user.id;
  const locked = self || (user.is_owner && !me?.is_owner);
  const [error, setError] = useState<unknown>(null);
  const [confirming, setConfirming] = useState(false);
  const [password, setPassword] = useState<string | null>(null);

  async function send(message: { type: string; [key: string]: unknown }) {
    setError(null);
    try {
      await ws(message);
      props.onChange();
      return true;
    } catch (err) {
      setError(err);
      return false;
    }
  }

  return (
    <tr data-user={user.name}>
      <td data-label="User">
        {user.name}
        {self ? <span class="muted"> (you)</span> : null}
        <ErrorText error={error} />
      </td>
      <td data-label="Role">
        {user.is_owner ? (
          "Owner"
        ) : (
          <select
            aria-label={`Role of ${user.name}`}
            value={user.role}
            disabled={locked}
            onChange={(e) => send({ type: "config/auth/update", user_id: user.id, role: e.currentTarget.value })}
          >
            {ROLES.map(([value, label]) => (
              <option key={value} value={value}>
                {label.split(":")[0]}
              </option>
            ))}
          </select>
        )}
      </td>
      <td data-label="Active">
        <input
          type="checkbox"
          aria-label={`${user.name} may log in`}
          checked={user.is_active}
          disabled={locked}
          onChange={(e) => send({ type: "config/auth/update", user_id: user.id, is_active: e.currentTarget.checked })}
        />
      </td>
      <td data-label="Actions">
        <div class="row">
        {password === null ? (
          <button type="button" class="secondary" disabled={locked} onClick={() => setPassword("")}>
            Reset password
          </button>
        ) : (
          <form
            class="row"
            onSubmit={async (e) => {
              e.preventDefault();
              const ok = await send({
                type: "config/auth_provider/homeassistant/admin_change_password",
                user_id: user.id,
                password,
              });
              if (ok) setPassword(null);
            }}
          >
            <input
              type="password"
              aria-label={`New password for ${user.name}`}
              placeholder="New password"
              autocomplete="new-password"
              minLength={8}
              required
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
            />
            <button type="submit">Set</button>
          </form>
        )}
        {confirming ? (
          <button type="button" class="danger" onClick={() => send({ type: "config/auth/delete", user_id: user.id })}>
            Really remove {user.name}
          </button>
        ) : (
          <button type="button" class="secondary" disabled={locked} onClick={() => setConfirming(true)}>
            Remove
          </button>
        )}
        </div>
      </td>
    </tr>
  );
}

function AddUser(props: { onAdded: () => void }) {
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState("user");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [added, setAdded] = useState("");

  async function submit(event: Event) {
    event.preventDefault();
    setError(null);
    setAdded("");
    setBusy(true);
    try {
      await ws({ type: "config/auth/create", name: name.trim(), password, role });
      setAdded(name.trim());
      setName("");
      setPassword("");
      props.onAdded();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="card stack" onSubmit={submit} aria-labelledby="add-user-title">
      <h2 id="add-user-title">Add a user</h2>
      <label>
        User name
        <input name="new-user" autocomplete="off" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <label>
        Password
        <input
          name="new-password"
          type="password"
          autocomplete="new-password"
          minLength={8}
          required
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
      </label>
      <label>
        Role
        <select name="role" value={role} onChange={(e) => setRole(e.currentTarget.value)}>
          {ROLES.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
      </label>
      <ErrorText error={error} />
      {added ? (
        <p role="status" class="muted">
          Added {added}.
        </p>
      ) : null}
      <div>
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Adding…" : "Add user"}
        </button>
      </div>
    </form>
  );
}
