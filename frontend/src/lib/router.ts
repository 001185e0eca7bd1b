// Client routes on real paths (/history, /automations/…); the hub answers them with index.html.
import { signal } from "@preact/signals";

export const path = signal(location.pathname + location.search);

export function navigate(to: string, replace = false): void {
  if (to === path.peek()) return;
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  path.value = to;
  window.scrollTo(0, 0);
}

window.addEventListener("popstate", () => {
  path.value = location.pathname + location.search;
});

export function query(name: string): string | null {
  const index = path.value.indexOf("?");
  return index < 0 ? null : new URLSearchParams(path.value.slice(index + 1)).get(name);
}

export function pathname(): string {
  const index = path.value.indexOf("?");
  return index < 0 ? path.value : path.value.slice(0, index);
}
