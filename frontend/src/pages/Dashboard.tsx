import { useEffect, useMemo, useState } from "preact/hooks";
import { EntityRow } from "../components/EntityControl";
import { ErrorText, Spinner } from "../components/common";
import { entitiesLoaded, entityIds, entitySignal } from "../lib/entities";
import { Device, devices, devicesError, loadDevices } from "../lib/devices";
import { status } from "../lib/hub";

/** Online while any of the device's entities is available. Reads only its own entities' signals. */
function OnlineBadge(props: { ids: string[] }) {
  const known = props.ids.map((id) => entitySignal(id).value).filter(Boolean);
  if (known.length === 0) return <span class="badge unknown">no entities</span>;
  const online = known.some((e) => e!.state !== "unavailable");
  return (
    <span class={`badge ${online ? "online" : "offline"}`} data-testid="online-badge">
      {online ? "online" : "offline"}
    </span>
  );
}

function DeviceCard(props: { title: string; subtitle?: string; ids: string[]; device?: Device }) {
  return (
    <section class="card device" aria-label={props.title} data-device-id={props.device?.id}>
      <header class="device-head">
        <div>
          <h2>{props.title}</h2>
          {props.subtitle ? <p class="muted">{props.subtitle}</p> : null}
        </div>
        {props.device ? <OnlineBadge ids={props.ids} /> : null}
      </header>
      <ul class="entities">
        {props.ids.map((id) => (
          <EntityRow key={id} entityId={id} devicePrefix={props.device?.name} />
        ))}
      </ul>
    </section>
  );
}

export function Dashboard() {
  const [filter, setFilter] = useState("");
  useEffect(() => {
    if (status.value === "connected" && devices.peek() === null) loadDevices();
  }, [status.value]);

  const ids = entityIds.value;
  const list = devices.value ?? [];
  const needle = filter.trim().toLowerCase();

  const groups = useMemo(() => {
    const byDevice = new Set<string>();
    const present = new Set(ids);
    const cards = list
      .filter((d) => !d.disabled)
      .map((device) => {
        const own = device.entities.filter((id) => present.has(id));
        own.forEach((id) => byDevice.add(id));
        return { device, ids: own };
      })
      .filter((card) => card.ids.length > 0 || card.device.entities.length === 0);
    const loose = ids.filter((id) => !byDevice.has(id));
    return { cards, loose };
  }, [list, ids]);

  const matches = (id: string) => {
    if (!needle) return true;
    const entity = entitySignal(id).peek();
    const name = String(entity?.attributes?.friendly_name ?? "").toLowerCase();
    return id.includes(needle) || name.includes(needle);
  };

  // The device list decides the card each row is drawn in: rows drawn before it arrives would be
  // drawn again in their device's card, and a keyboard user's focus on them would be lost.
  const devicesPending = devices.value === null && !devicesError.value;
  if (!entitiesLoaded.value || devicesPending) {
    return (
      <section>
        <h1>Dashboard</h1>
        <Spinner label={entitiesLoaded.value ? "Loading devices" : "Loading states"} />
      </section>
    );
  }

  const cards = groups.cards
    .map((card) => ({
      ...card,
      ids: needle && card.device.name.toLowerCase().includes(needle) ? card.ids : card.ids.filter(matches),
    }))
    .filter((card) => card.ids.length > 0 || (!needle && card.device.entities.length === 0));
  const loose = groups.loose.filter(matches);

  return (
    <section>
      <div class="page-head">
        <h1>Dashboard</h1>
        <label class="search">
          <span class="visually-hidden">Filter devices and entities</span>
          <input type="search" placeholder="Filter…" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
        </label>
      </div>
      <ErrorText error={devicesError.value && !(devices.value?.length) ? null : devicesError.value} />
      <p class="muted summary">
        {list.length} devices · {ids.length} entities
      </p>
      <div class="grid">
        {cards.map(({ device, ids: own }) => (
          <DeviceCard
            key={device.id}
            device={device}
            title={device.name}
            subtitle={[device.manufacturer, device.model].filter(Boolean).join(" · ")}
            ids={own}
          />
        ))}
        {loose.length ? <DeviceCard title={cards.length ? "Other entities" : "Entities"} ids={loose} /> : null}
      </div>
      {ids.length === 0 ? <p class="notice">The hub has no entities yet.</p> : null}
    </section>
  );
}
