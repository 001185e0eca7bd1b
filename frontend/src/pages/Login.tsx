import { useEffect, useState } from "preact/hooks";
import { AuthFailed, authMessage, login, onboard, onboardingNeeded, useLongLivedToken } from "../lib/auth";

export function Login() {
  const [onboarding, setOnboarding] = useState<boolean | null>(null);
  useEffect(() => {
    onboardingNeeded().then(setOnboarding);
  }, []);
  if (onboarding === null) return null;
  return onboarding ? <Onboarding /> : <PasswordLogin />;
}

/** The first run: create the owner of this hub. */
function Onboarding() {
  const [name, setName] = useState("");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [repeat, setRepeat] = useState("");
  const [code, setCode] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    setError("");
    if (password.length < 8) return setError("The password needs at least 8 characters.");
    if (password !== repeat) return setError("The two passwords differ.");
    setBusy(true);
    try {
      await onboard(name.trim() || username.trim(), username.trim(), password, code);
    } catch (err) {
      setError(err instanceof AuthFailed ? err.message : "Creating the owner failed.");
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="login" id="main">
      <form class="card login-card" onSubmit={submit} aria-labelledby="onboarding-title">
        <h1 id="onboarding-title">Welcome: create the owner</h1>
        <p class="muted">
          This hub has no user yet. The owner manages the hub and its users; you can add more people later.
        </p>
        <label>
          Name
          <input name="name" autocomplete="name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label>
          User name
          <input name="username" autocomplete="username" required value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="new-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        <label>
          Password again
          <input name="repeat" type="password" autocomplete="new-password" required value={repeat} onInput={(e) => setRepeat(e.currentTarget.value)} />
        </label>
        <label>
          Onboarding code
          <input name="code" autocomplete="off" placeholder="ABCD-EFGH" value={code} onInput={(e) => setCode(e.currentTarget.value)} />
          <span class="muted">Only when this browser is not on the hub's machine: the code is in the hub's log.</span>
        </label>
        {error ? (
          <p class="error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Creating…" : "Create owner"}
        </button>
      </form>
    </main>
  );
}

function PasswordLogin() {
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
