import { batch } from "@preact/signals";
import { devices } from "../lib/devices";
import { chooseHome, currentHome, homeId, homes, manyHomes } from "../lib/homes";
import { connect, disconnect } from "../lib/hub";

/** Act in another home: a new socket that names it; the page's data is that home's from then on. */
export function switchHome(id: string): void {
  if (id === homeId.peek()) return;
  batch(() => {
    chooseHome(id);
    devices.value = null;
    disconnect();
  });
  connect();
}

/** The list of the user's homes, for users with more than one (in the top bar; in the menu on a phone). */
export function HomeSwitcher() {
  if (!manyHomes.value) return null;
  return (
    <label class="home-switcher">
      <span class="home-switcher-label">Home</span>
      <select value={homeId.value ?? undefined} onChange={(event) => switchHome((event.target as HTMLSelectElement).value)}>
        {homes.value.map((home) => (
          <option key={home.id} value={home.id}>
            {home.name}
          </option>
        ))}
      </select>
    </label>
  );
}

/** The current home's name where the switcher is out of sight (inside the menu on a phone). */
export function CurrentHomeName() {
  const home = manyHomes.value ? currentHome.value : null;
  return home ? (
    <span class="home-current" data-testid="current-home">
      {home.name}
    </span>
  ) : null;
}
