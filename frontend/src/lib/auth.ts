// Tokens: a login gives an access token (short-lived JWT) and a refresh token; a long-lived token
// has neither expiry nor refresh. Both are kept in localStorage so a reload keeps the session.
import { signal } from "@preact/signals";

export interface Tokens {
  access_token: string;
  refresh_token?: string | null;
  /** Epoch milliseconds when the access token stops working; absent for long-lived tokens. */
  expires_at?: number | null;
}

const STORAGE_KEY = "hub.tokens";
/** Refresh this long before expiry so a slow network never sees an expired token. */
const REFRESH_MARGIN_MS = 60_000;

export class AuthFailed extends Error {}

function load(): Tokens | null {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    const parsed = raw ? (JSON.parse(raw) as Tokens) : null;
    return parsed && typeof parsed.access_token === "string" ? parsed : null;
  } catch {
    return null;
  }
}

/** The current tokens; null means "show the login page". */
export const tokens = signal<Tokens | null>(load());
/** Why the person was sent back to the login page, if it was not their choice. */
export const authMessage = signal<string>("");

function save(next: Tokens | null): void {
  if (next) localStorage.setItem(STORAGE_KEY, JSON.stringify(next));
  else localStorage.removeItem(STORAGE_KEY);
  tokens.value = next;
  scheduleRefresh();
}

/** Read `exp` from a JWT without verifying it (the hub verifies; we only plan the refresh). */
export function jwtExpiry(token: string): number | null {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const payload = JSON.parse(atob(parts[1].replace(/-/g, "+").replace(/_/g, "/")));
    return typeof payload.exp === "number" ? payload.exp * 1000 : null;
  } catch {
    return null;
  }
}

function fromResponse(body: any, previousRefresh?: string | null): Tokens {
  const access = body?.access_token;
  if (typeof access !== "string" || !access) throw new AuthFailed("The hub sent no access token.");
  let expiresAt: number | null = null;
  if (typeof body.expires_in === "number") expiresAt = Date.now() + body.expires_in * 1000;
  else if (typeof body.expires_at === "number") expiresAt = body.expires_at * (body.expires_at < 1e12 ? 1000 : 1);
  else expiresAt = jwtExpiry(access);
  return { access_token: access, refresh_token: body.refresh_token ?? previousRefresh ?? null, expires_at: expiresAt };
}

async function postJson(path: string, body: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  let parsed: any = null;
  try {
    parsed = await response.json();
  } catch {
    parsed = null;
  }
  return { status: response.status, body: parsed };
}

function errorText(status: number, body: any): string {
  const message = body?.message || body?.error_description || body?.error;
  if (status === 404) return "This hub does not offer password login yet; use a long-lived access token.";
  if (status === 429) return message || "Too many failed attempts; wait a moment and try again.";
  return message || `Login failed (HTTP ${status}).`;
}

/** Log in with a user name and password; throws AuthFailed with a message for the person. */
export async function login(username: string, password: string): Promise<void> {
  let result;
  try {
    result = await postJson("/api/v1/auth/login", { username, password });
  } catch {
    throw new AuthFailed("The hub cannot be reached.");
  }
  if (result.status !== 200 && result.status !== 201) throw new AuthFailed(errorText(result.status, result.body));
  authMessage.value = "";
  save(fromResponse(result.body));
}

/** Use a long-lived access token (created under Profile or with `hub token create`). */
export function useLongLivedToken(token: string): void {
  authMessage.value = "";
  save({ access_token: token.trim(), refresh_token: null, expires_at: jwtExpiry(token.trim()) });
}

export function logout(message = ""): void {
  authMessage.value = message;
  save(null);
}

export function isExpired(margin = 10_000): boolean {
  const current = tokens.peek();
  return !!current?.expires_at && Date.now() > current.expires_at - margin;
}

let inFlight: Promise<string> | null = null;

/**
 * Get a new access token with the refresh token. Concurrent callers share one request: the hub
 * rotates refresh tokens and treats a reused one as theft, so two refreshes at once would log us out.
 */
export function refresh(): Promise<string> {
  if (inFlight) return inFlight;
  inFlight = doRefresh().finally(() => {
    inFlight = null;
  });
  return inFlight;
}

async function doRefresh(): Promise<string> {
  // Another tab may have refreshed already: adopt its tokens instead of reusing ours.
  const stored = load();
  const current = tokens.peek();
  if (stored && current && stored.refresh_token !== current.refresh_token) {
    tokens.value = stored;
    if (!isExpired(REFRESH_MARGIN_MS)) {
      scheduleRefresh();
      return stored.access_token;
    }
  }
  const refreshToken = tokens.peek()?.refresh_token;
  if (!refreshToken) {
    logout("Your access token expired. Log in again.");
    throw new AuthFailed("No refresh token.");
  }
  let result;
  try {
    result = await postJson("/api/v1/auth/refresh", { refresh_token: refreshToken });
  } catch {
    throw new Error("The hub cannot be reached to refresh the session.");
  }
  if (result.status === 400 || result.status === 401 || result.status === 403) {
    logout("Your session ended. Log in again.");
    throw new AuthFailed("Refresh refused.");
  }
  if (result.status !== 200) throw new Error(`Refreshing the session failed (HTTP ${result.status}).`);
  const next = fromResponse(result.body, refreshToken);
  save(next);
  return next.access_token;
}

let timer: ReturnType<typeof setTimeout> | undefined;

/** Refresh quietly a minute before the access token expires, so the page never notices. */
function scheduleRefresh(): void {
  if (timer !== undefined) clearTimeout(timer);
  timer = undefined;
  const current = tokens.peek();
  if (!current?.expires_at || !current.refresh_token) return;
  const lifetime = current.expires_at - Date.now();
  const wait = Math.max(1_000, Math.min(lifetime - REFRESH_MARGIN_MS, lifetime * 0.8));
  timer = setTimeout(() => {
    refresh().catch(() => undefined);
  }, wait);
}

/** Return a usable access token, refreshing first when it is about to expire. */
export async function accessToken(): Promise<string> {
  const current = tokens.peek();
  if (!current) throw new AuthFailed("Not logged in.");
  if (isExpired() && current.refresh_token) return refresh();
  return current.access_token;
}

scheduleRefresh();
// A laptop waking up from sleep may have missed the timer.
if (typeof document !== "undefined") {
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && isExpired(REFRESH_MARGIN_MS) && tokens.peek()?.refresh_token) {
      refresh().catch(() => undefined);
    }
  });
}

/** Whether the hub has no user yet (Home Assistant's onboarding "user" step is not done). */
export async function onboardingNeeded(): Promise<boolean> {
  try {
    const response = await fetch("/api/onboarding");
    if (!response.ok) return false;
    const steps = (await response.json()) as { step: string; done: boolean }[];
    return steps.some((s) => s.step === "user" && !s.done);
  } catch {
    return false;
  }
}

/** Create the hub's owner (onboarding), then log in with the auth code the hub answers. */
export async function onboard(name: string, username: string, password: string, code: string): Promise<void> {
  let result;
  try {
    result = await postJson("/api/onboarding/users", {
      client_id: `${location.origin}/`,
      name,
      username,
      password,
      language: navigator.language || "en",
      ...(code.trim() ? { code: code.trim() } : {}),
    });
  } catch {
    throw new AuthFailed("The hub cannot be reached.");
  }
  if (result.status !== 200) throw new AuthFailed(result.body?.message || `Onboarding failed (HTTP ${result.status}).`);
  const form = new URLSearchParams({ grant_type: "authorization_code", code: result.body.auth_code, client_id: `${location.origin}/` });
  const response = await fetch("/auth/token", { method: "POST", body: form });
  if (!response.ok) throw new AuthFailed("The owner was created; log in with the new user name and password.");
  authMessage.value = "";
  save(fromResponse(await response.json()));
}
