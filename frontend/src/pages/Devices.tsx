import { useEffect, useState } from "preact/hooks";
import { ErrorText, Link, Spinner, formatTime } from "../components/common";
import { EnergyReport, ReportPlace } from "../components/EnergyReport";
import { entitySignal, friendlyName } from "../lib/entities";
import { Device, devices, devicesError, loadDevices } from "../lib/devices";
import { status, ws } from "../lib/hub";
import { canManage } from "../lib/roles";
import { navigate, pathname } from "../lib/router";

export default function Devices() {
  useEffect(() => {
    if (status.value === "connected") loadDevices();
  }, [status.value]);
  const current = pathname();
  const id = current.startsWith("/devices/") ? decodeURIComponent(current.slice("/devices/".length)) : "";
  if (id) return <DeviceDetail deviceId={id} />;
  const list = devices.value;
  return (
    <section>
      <h1>Devices</h1>
      <ErrorText error={devicesError.value} what="The device list" />
      {list === null ? <Spinner label="Loading devices" /> : null}
      {list?.length === 0 && !devicesError.value ? <p class="notice">No devices yet. Devices appear when they announce themselves.</p> : null}
      {list?.length ? (
        <div class="card table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Device</th>
                <th scope="col">Model</th>
                <th scope="col">Entities</th>
              </tr>
            </thead>
            <tbody>
              {list.map((device) => (
                <tr key={device.id}>
                  <td>
                    <Link href={`/devices/${encodeURIComponent(device.id)}`}>{device.name}</Link>
                  </td>
                  <td>{[device.manufacturer, device.model].filter(Boolean).join(" · ")}</td>
                  <td>{device.entities.length}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

function DeviceDetail(props: { deviceId: string }) {
  const [device, setDevice] = useState<Device | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [name, setName] = useState("");
  const [message, setMessage] = useState("");
  const admin = canManage.value;

  useEffect(() => {
    if (status.value !== "connected") return;
    ws<Device>({ type: "frontend/device/get", device_id: props.deviceId }).then(
      (found) => {
        setDevice(found);
        setName(found.name_by_user ?? "");
      },
      setError,
    );
  }, [props.deviceId, status.value]);

  async function rename(event: Event) {
    event.preventDefault();
    setMessage("");
    try {
      const updated = await ws<Device>({ type: "frontend/device/update", device_id: props.deviceId, name_by_user: name.trim() || null });
      setDevice({ ...device!, ...updated, discovery: device?.discovery });
      setMessage("Saved.");
      loadDevices();
    } catch (err) {
      setMessage(err instanceof Error ? err.message : String(err));
    }
  }

  async function remove() {
    if (!confirm(`Remove ${device?.name}? Its entities stay until their integration removes them.`)) return;
    try {
      await ws({ type: "frontend/device/remove", device_id: props.deviceId });
      await loadDevices();
      navigate("/devices");
    } catch (err) {
      setMessage(err instanceof Error ? err.message : String(err));
    }
  }

  if (error) return <ErrorText error={error} what="Device details" />;
  if (!device) return <Spinner label="Loading device" />;
  return (
    <section class="stack">
      <p>
        <Link href="/devices">← All devices</Link>
      </p>
      <h1>{device.name}</h1>
      <p class="muted">{[device.manufacturer, device.model, device.sw_version && `firmware ${device.sw_version}`].filter(Boolean).join(" · ")}</p>
      <div class="card stack">
        <h2>Entities</h2>
        <ul>
          {device.entities.map((id) => (
            <li key={id}>
              {friendlyName(entitySignal(id).value, id)} <span class="muted mono">{id}</span> — {entitySignal(id).value?.state ?? "not loaded"}
            </li>
          ))}
        </ul>
      </div>
      <DeviceEnergy deviceId={props.deviceId} />
      {admin ? (
        <form class="card stack" onSubmit={rename} aria-label="Rename">
          <h2>Name</h2>
          <label>
            Name shown in the hub (empty: the device's own name)
            <input value={name} maxLength={255} onInput={(e) => setName(e.currentTarget.value)} placeholder={String((device as any).original_name ?? "")} />
          </label>
          <div class="actions">
            <button type="submit" class="primary">
              Rename
            </button>
            <button type="button" class="danger" onClick={remove}>
              Remove device
            </button>
          </div>
          {message ? <p role="status">{message}</p> : null}
        </form>
      ) : null}
      <div class="card stack">
        <h2>Discovery</h2>
        {device.discovery?.length ? (
          device.discovery.map((entry: any) => (
            <details key={entry.topic}>
              <summary>
                <span class="mono">{entry.topic}</span> <span class="muted">{formatTime(entry.updated_at)}</span>
              </summary>
              <pre class="code">{pretty(entry.payload)}</pre>
            </details>
          ))
        ) : (
          <p class="muted">This device was not set up by MQTT discovery.</p>
        )}
      </div>
    </section>
  );
}

/** The device's energy, the same way the Energy page shows it; nothing for a device without a meter. */
function DeviceEnergy(props: { deviceId: string }) {
  const [place, setPlace] = useState<ReportPlace>({ view: "day", date: null });
  const [empty, setEmpty] = useState(false);
  useEffect(() => setEmpty(false), [props.deviceId]);
  if (empty) return null;
  return (
    <div class="stack" data-testid="device-energy">
      <h2>Energy</h2>
      <EnergyReport place={place} onPlace={setPlace} deviceId={props.deviceId} heading="Energy of this device" onEmpty={() => setEmpty(true)} />
    </div>
  );
}

function pretty(payload: string): string {
  try {
    return JSON.stringify(JSON.parse(payload), null, 2);
  } catch {
    return payload;
  }
}
