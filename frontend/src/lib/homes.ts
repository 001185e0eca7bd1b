// The home this page acts in, on a hub of many homes (docs/homes.md): the socket names it with
// ?home_id=, every REST call with X-Home-Id. A user with one home (every single-home hub) names
// none, exactly as before. The choice is kept in localStorage across reloads.
import { computed, signal } from "@preact/signals";
import { AuthFailed, accessToken, refresh, tokens } from "./auth";

export interface Home {
  id: string;
  name: string;
  tenant: string;
  role: string;
  current: boolean;
}

const STORAGE_KEY = "hub.home";

/** The homes the user may act in, as the hub listed them (empty until known, or when it cannot say). */
export const homes = signal<Home[]>([]);
/** The home requests name; null: none (the user has one home, and the hub picks it). */
export const homeId = signal<string | null>(null);
export const manyHomes = computed(() => homes.value.length > 1);
export const currentHome = computed(() => homes.value.find((home) => home.id === homeId.value) ?? null);

function stored(): string | null {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

function store(id: string | null): void {
  try {
    if (id === null) localStorage.removeItem(STORAGE_KEY);
    else localStorage.setItem(STORAGE_KEY, id);
  } catch {
    // Private mode without storage: the choice lasts until the page is reloaded.
  }
}

/** Act in this home from now on (the caller reconnects) and remember it across reloads. */
export function chooseHome(id: string): void {
  store(id);
  homeId.value = id;
}

function isHome(item: any): item is Home {
  return !!item && typeof item.id === "string" && typeof item.name === "string" && typeof item.role === "string";
}

async function fetchHomes(): Promise<Home[]> {
  // Names no home: the stored one may be gone, and the hub answers from the user's first home.
  const send = async (token: string) => fetch("/api/v1/homes", { headers: { Authorization: `Bearer ${token}` } });
  let response = await send(await accessToken());
  if (response.status === 401 && tokens.peek()?.refresh_token) response = await send(await refresh());
  if (!response.ok) return [];
  const body = await response.json();
  return Array.isArray(body) ? body.filter(isHome) : [];
}

/**
 * Ask the hub which homes the user may act in and settle on one: the stored choice while the
 * user may still act there, else their first home. Done before the socket opens, which must name it.
 */
export async function loadHomes(): Promise<void> {
  let list: Home[] = [];
  try {
    list = await fetchHomes();
  } catch (err) {
    if (err instanceof AuthFailed) throw err;
    // An older hub, or no answer: act as a single-home page; the socket says whether the hub is there.
  }
  homes.value = list;
  if (list.length < 2) {
    homeId.value = null;
    return;
  }
  const wanted = stored();
  const found = list.find((home) => home.id === wanted);
  if (!found && wanted !== null) store(null);
  homeId.value = (found ?? list[0]).id;
}
