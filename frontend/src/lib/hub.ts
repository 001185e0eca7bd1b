// The one connection to the hub: home-assistant-js-websocket over /api/websocket, with our tokens.
import { signal } from "@preact/signals";
import {
  Auth,
  Connection,
  ERR_INVALID_AUTH,
  HassEntities,
  callService as haCallService,
  createConnection,
  subscribeEntities,
} from "home-assistant-js-websocket";
import { AuthFailed, accessToken, isExpired, logout, refresh, tokens } from "./auth";
import { applyEntities, resetEntities } from "./entities";
import { homeId, loadHomes } from "./homes";

export type ConnectionStatus = "idle" | "connecting" | "connected" | "reconnecting" | "failed";
export const status = signal<ConnectionStatus>("idle");
export const statusMessage = signal("");
export const currentUser = signal<{ id?: string; name?: string; is_admin?: boolean; is_owner?: boolean; role?: string } | null>(null);

let connection: Connection | null = null;
let unsubscribeEntities: (() => void) | null = null;
// Each connect() and disconnect() starts a new one: a connect overtaken by another (the user
// switched homes while it was opening) closes what it opened and leaves.
let generation = 0;

/** A command the hub does not know: the page shows "not available on this hub". */
export class NotAvailable extends Error {
  constructor(public command: string) {
    super(`This hub does not offer "${command}" yet.`);
  }
}

/** An error result from the hub, with HA's error code. */
export class HubError extends Error {
  constructor(public code: string, message: string, public body?: any) {
    super(message);
  }
}

/** The field errors of a refused /api/v1 body: JSON pointer -> what is wrong. */
export function fieldErrors(error: unknown): Record<string, string> {
  const found: Record<string, string> = {};
  const list = error instanceof HubError && Array.isArray(error.body?.errors) ? error.body.errors : [];
  for (const item of list) if (item && typeof item.pointer === "string") found[item.pointer] = String(item.message);
  return found;
}

function wsUrl(): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const home = homeId.peek();
  return `${scheme}//${location.host}/api/websocket${home === null ? "" : `?home_id=${encodeURIComponent(home)}`}`;
}

// home-assistant-js-websocket asks its Auth for these four things only.
const hubAuth = {
  get wsUrl() {
    return wsUrl();
  },
  get accessToken() {
    return tokens.peek()?.access_token ?? "";
  },
  get expired() {
    return isExpired() && !!tokens.peek()?.refresh_token;
  },
  async refreshAccessToken() {
    try {
      await refresh();
    } catch (err) {
      // ERR_INVALID_AUTH stops the library's reconnect loop: the login page takes over.
      throw err instanceof AuthFailed ? ERR_INVALID_AUTH : err;
    }
  },
} as unknown as Auth;

export async function connect(): Promise<void> {
  if (connection || status.peek() === "connecting") return;
  const mine = ++generation;
  status.value = "connecting";
  statusMessage.value = "";
  let opened: Connection;
  try {
    await accessToken();
    await loadHomes();
    if (mine !== generation) return;
    opened = await createConnection({ auth: hubAuth, setupRetry: 3 });
  } catch (err) {
    if (mine !== generation) return;
    status.value = "failed";
    if (err === ERR_INVALID_AUTH || err instanceof AuthFailed) {
      logout("The hub did not accept your token. Log in again.");
    } else {
      statusMessage.value = "The hub cannot be reached. Retrying when you reload the page.";
    }
    return;
  }
  if (mine !== generation) {
    opened.close();
    return;
  }
  connection = opened;
  connection.addEventListener("ready", () => {
    status.value = "connected";
  });
  connection.addEventListener("disconnected", () => {
    status.value = "reconnecting";
  });
  connection.addEventListener("reconnect-error", (_conn, err) => {
    status.value = "failed";
    if (err === ERR_INVALID_AUTH) logout("Your session ended. Log in again.");
  });
  status.value = "connected";
  unsubscribeEntities = subscribeEntities(connection, (entities: HassEntities) => applyEntities(entities));
  loadCurrentUser(mine);
}

/** Who is logged in, with their role in the home this connection acts in. */
async function loadCurrentUser(mine: number): Promise<void> {
  let user: any;
  try {
    user = await ws<any>({ type: "auth/current_user" });
  } catch {
    user = {};
  }
  if (mine === generation) currentUser.value = user;
}

export function disconnect(): void {
  generation++;
  unsubscribeEntities?.();
  unsubscribeEntities = null;
  connection?.close();
  connection = null;
  currentUser.value = null;
  resetEntities();
  status.value = "idle";
}

/** Send one WebSocket command and return its result. */
export async function ws<T>(message: { type: string; [key: string]: unknown }): Promise<T> {
  if (!connection) throw new HubError("not_connected", "Not connected to the hub.");
  try {
    return await connection.sendMessagePromise<T>(message);
  } catch (err: any) {
    if (err?.code === "unknown_command") throw new NotAvailable(message.type);
    if (err && typeof err === "object" && "code" in err) throw new HubError(String(err.code), String(err.message));
    throw new HubError("connection_lost", "The connection to the hub was lost.");
  }
}

/** Start a subscription; returns its unsubscribe. */
export async function subscribe<T>(
  message: { type: string; [key: string]: unknown },
  callback: (event: T) => void,
): Promise<() => Promise<void>> {
  if (!connection) throw new HubError("not_connected", "Not connected to the hub.");
  try {
    return await connection.subscribeMessage<T>(callback, message);
  } catch (err: any) {
    if (err?.code === "unknown_command") throw new NotAvailable(message.type);
    throw new HubError(String(err?.code ?? "unknown_error"), String(err?.message ?? err));
  }
}

export async function callService(
  domain: string,
  service: string,
  data?: Record<string, unknown>,
  target?: Record<string, unknown>,
): Promise<unknown> {
  if (!connection) throw new HubError("not_connected", "Not connected to the hub.");
  try {
    return await haCallService(connection, domain, service, data, target as any);
  } catch (err: any) {
    throw new HubError(String(err?.code ?? "unknown_error"), String(err?.message ?? err));
  }
}

/** Call the REST API with the bearer token; 404 means the hub has no such endpoint yet. */
export async function rest<T>(method: string, path: string, body?: unknown): Promise<T> {
  const send = async (token: string) =>
    fetch(path, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(homeId.peek() === null ? {} : { "X-Home-Id": homeId.peek()! }),
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  let response = await send(await accessToken());
  if (response.status === 401 && tokens.peek()?.refresh_token) response = await send(await refresh());
  if (response.status === 404 || response.status === 405) throw new NotAvailable(`${method} ${path}`);
  let parsed: any = null;
  const text = await response.text();
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  if (!response.ok) throw new HubError(String(response.status), parsed?.message ?? `HTTP ${response.status}`, parsed);
  return parsed as T;
}
