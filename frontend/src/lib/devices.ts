// Devices with their entities: the frontend integration's WS command, else the REST device API.
import { signal } from "@preact/signals";
import { NotAvailable, rest, ws } from "./hub";

export interface Device {
  id: string;
  name: string;
  name_by_user?: string | null;
  manufacturer?: string | null;
  model?: string | null;
  sw_version?: string | null;
  integration?: string | null;
  disabled?: boolean;
  entities: string[];
  discovery?: { topic: string; payload: string }[];
}

export const devices = signal<Device[] | null>(null);
export const devicesError = signal<unknown>(null);

function normalise(raw: any): Device {
  const entities = Array.isArray(raw.entities)
    ? raw.entities.map((e: any) => (typeof e === "string" ? e : e?.entity_id)).filter(Boolean)
    : Array.isArray(raw.entity_ids)
      ? raw.entity_ids
      : [];
  return {
    ...raw,
    id: String(raw.id),
    name: raw.name_by_user || raw.name || raw.id,
    entities,
  };
}

export async function loadDevices(): Promise<void> {
  try {
    const result = await ws<any[]>({ type: "frontend/devices" });
    devices.value = result.map(normalise);
    devicesError.value = null;
    return;
  } catch (err) {
    if (!(err instanceof NotAvailable)) {
      devicesError.value = err;
      return;
    }
  }
  try {
    const result = await rest<any>("GET", "/api/v1/devices");
    const list = Array.isArray(result) ? result : result?.devices ?? [];
    devices.value = list.map(normalise);
    devicesError.value = null;
  } catch (err) {
    devices.value = [];
    devicesError.value = err;
  }
}
