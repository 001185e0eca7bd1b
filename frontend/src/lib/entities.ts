// Live entity states. The library hands us a whole new map on every change; we keep one signal per
// entity and publish at most once per animation frame, so only the rows whose entity changed
// re-render and 1,000 changes a second cost one pass per frame.
import { Signal, batch, signal } from "@preact/signals";
import type { HassEntities, HassEntity } from "home-assistant-js-websocket";

const perEntity = new Map<string, Signal<HassEntity | undefined>>();
/** Every entity id, sorted; changes only when entities appear or disappear. */
export const entityIds = signal<string[]>([]);
/** True once the first full set of states arrived. */
export const entitiesLoaded = signal(false);
/** Bumped once per flushed frame; for views that summarise many entities. */
export const entitiesVersion = signal(0);

let latest: HassEntities = {};
let published: HassEntities = {};
let scheduled = false;
const frameListeners = new Set<(entities: HassEntities) => void>();

export function entitySignal(entityId: string): Signal<HassEntity | undefined> {
  let found = perEntity.get(entityId);
  if (!found) {
    found = signal(published[entityId]);
    perEntity.set(entityId, found);
  }
  return found;
}

/** The latest published states (not reactive; read inside a component that reads entitiesVersion). */
export function allEntities(): HassEntities {
  return published;
}

/** Called after each flush with the published states (pending controls use it). */
export function onFrame(listener: (entities: HassEntities) => void): () => void {
  frameListeners.add(listener);
  return () => frameListeners.delete(listener);
}

function schedule(flush: () => void): void {
  // Hidden tabs get no animation frames; a timer keeps their state current for when they return.
  if (typeof document !== "undefined" && document.visibilityState === "hidden") setTimeout(flush, 250);
  else requestAnimationFrame(flush);
}

export function applyEntities(entities: HassEntities): void {
  latest = entities;
  if (!scheduled) {
    scheduled = true;
    schedule(flush);
  }
}

function flush(): void {
  scheduled = false;
  const next = latest;
  const previous = published;
  if (next === previous) return;
  let membershipChanged = false;
  batch(() => {
    for (const id in next) {
      const state = next[id];
      if (previous[id] === state) continue;
      if (previous[id] === undefined) membershipChanged = true;
      const found = perEntity.get(id);
      if (found) found.value = state;
    }
    for (const id in previous) {
      if (next[id] === undefined) {
        membershipChanged = true;
        const found = perEntity.get(id);
        if (found) found.value = undefined;
      }
    }
    published = next;
    if (membershipChanged || !entitiesLoaded.peek()) entityIds.value = Object.keys(next).sort();
    entitiesLoaded.value = true;
    entitiesVersion.value = entitiesVersion.peek() + 1;
  });
  for (const listener of frameListeners) listener(next);
}

export function resetEntities(): void {
  latest = {};
  published = {};
  batch(() => {
    for (const found of perEntity.values()) found.value = undefined;
    entityIds.value = [];
    entitiesLoaded.value = false;
  });
}

export function friendlyName(entity: HassEntity | undefined, entityId: string): string {
  return (entity?.attributes?.friendly_name as string) || entityId;
}
