import { useState } from "preact/hooks";
import { AuthFailed, authMessage, login, useLongLivedToken } from "../lib/auth";

export function Login() {
  const [mode, setMode] = useState<"password" | "token">("password");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [token, setToken] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    setError("");
    if (mode === "token") {
      if (!token.trim()) return setError("Paste a long-lived access token.");
      useLongLivedToken(token);
      return;
    }
    setBusy(true);
    try {
      await login(username.trim(), password);
    } catch (err) {
      setError(err instanceof AuthFailed ? err.message : "Login failed.");
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="login" id="main">
      <form class="card login-card" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">Log in to the hub</h1>
        {authMessage.value ? (
          <p class="notice" role="status">
            {authMessage.value}
          </p>
        ) : null}
        {mode === "password" ? (
          <>
            <label>
              User name
              <input name="username" autocomplete="username" required value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
            </label>
            <label>
              Password
              <input
                name="password"
                type="password"
                autocomplete="current-password"
                required
                value={password}
                onInput={(e) => setPassword(e.currentTarget.value)}
              />
            </label>
          </>
        ) : (
          <label>
            Long-lived access token
            <textarea name="token" rows={4} required value={token} onInput={(e) => setToken(e.currentTarget.value)} />
          </label>
        )}
        {error ? (
          <p class="error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Logging in…" : "Log in"}
        </button>
        <button type="button" class="link-button" onClick={() => setMode(mode === "password" ? "token" : "password")}>
          {mode === "password" ? "Use a long-lived access token instead" : "Log in with a user name and password"}
        </button>
      </form>
    </main>
  );
}
