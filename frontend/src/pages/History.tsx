import { useEffect, useMemo, useState } from "preact/hooks";
import { Chart, Series } from "../components/Chart";
import { ErrorText, NotAvailableNotice, Spinner } from "../components/common";
import { allEntities, entitiesVersion, entityIds, friendlyName } from "../lib/entities";
import { NotAvailable, status, ws } from "../lib/hub";

type Range = "1h" | "6h" | "24h" | "7d" | "30d" | "custom";
type Aggregation = "auto" | "raw" | "5minute" | "hour" | "day" | "week" | "month";
type Grouping = "unit" | "entity" | "single";

interface ChartConfig {
  entity_ids: string[];
  range: Range;
  start?: string | null;
  end?: string | null;
  aggregation: Aggregation;
  grouping: Grouping;
  refresh_seconds: number;
}

interface SavedChart {
  id: string;
  name: string;
  config: ChartConfig;
}

const RANGES: [Range, string][] = [
  ["1h", "Last hour"],
  ["6h", "Last 6 hours"],
  ["24h", "Last 24 hours"],
  ["7d", "Last 7 days"],
  ["30d", "Last 30 days"],
  ["custom", "Custom"],
];
const RANGE_SECONDS: Record<string, number> = { "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800, "30d": 2592000 };
const AGGREGATIONS: [Aggregation, string][] = [
  ["auto", "Automatic (min–max band)"],
  ["raw", "Every change"],
  ["5minute", "5-minute mean"],
  ["hour", "Hourly mean"],
  ["day", "Daily mean"],
  ["week", "Weekly mean"],
  ["month", "Monthly mean"],
];
const REFRESH: [number, string][] = [
  [0, "Off"],
  [10, "10 s"],
  [60, "1 min"],
  [300, "5 min"],
];

function span(config: ChartConfig): { start: Date; end: Date } {
  if (config.range === "custom" && config.start) {
    return { start: new Date(config.start), end: config.end ? new Date(config.end) : new Date() };
  }
  const end = new Date();
  return { start: new Date(end.getTime() - (RANGE_SECONDS[config.range] ?? 86400) * 1000), end };
}

async function fetchSeries(config: ChartConfig): Promise<Map<string, Series>> {
  const { start, end } = span(config);
  const out = new Map<string, Series>();
  const entities = allEntities();
  if (config.aggregation === "auto") {
    // Decimated on the hub: about one bucket per three pixels of chart, whatever the range.
    const points = Math.min(600, Math.max(120, Math.round(window.innerWidth / 3)));
    const result = await ws<{ series: Record<string, { t: number[]; min: number[]; max: number[]; mean: number[] }> }>({
      type: "history/chart",
      start_time: start.toISOString(),
      end_time: end.toISOString(),
      entity_ids: config.entity_ids,
      points,
    });
    for (const id of config.entity_ids) {
      const found = result.series[id];
      const points: [number, number | null][] = found ? found.t.map((t, i) => [t, found.mean[i]]) : [];
      const band: [number, number, number][] = found ? found.t.map((t, i) => [t, found.min[i], found.max[i]]) : [];
      out.set(id, { label: friendlyName(entities[id], id), points, band });
    }
  } else if (config.aggregation === "raw") {
    const result = await ws<Record<string, any[]>>({
      type: "history/history_during_period",
      start_time: start.toISOString(),
      end_time: end.toISOString(),
      entity_ids: config.entity_ids,
      minimal_response: true,
      no_attributes: true,
      significant_changes_only: false,
    });
    for (const id of config.entity_ids) {
      const points: [number, number | null][] = [];
      for (const row of result[id] ?? []) {
        const t = Number(row.lu ?? row.lc ?? (row.last_updated ? Date.parse(row.last_updated) / 1000 : NaN));
        const value = Number(row.s ?? row.state);
        if (Number.isFinite(t)) points.push([t, Number.isFinite(value) ? value : null]);
      }
      // Carry the last value to the end of the range so a quiet sensor still draws a line.
      if (points.length) points.push([end.getTime() / 1000, points[points.length - 1][1]]);
      out.set(id, { label: friendlyName(entities[id], id), points });
    }
  } else {
    const result = await ws<Record<string, any[]>>({
      type: "recorder/statistics_during_period",
      start_time: start.toISOString(),
      end_time: end.toISOString(),
      statistic_ids: config.entity_ids,
      period: config.aggregation,
      types: ["mean", "min", "max", "state"],
    });
    for (const id of config.entity_ids) {
      const points: [number, number | null][] = (result[id] ?? []).map((row) => [
        Number(row.start) / 1000,
        row.mean ?? row.state ?? null,
      ]);
      out.set(id, { label: friendlyName(entities[id], id), points });
    }
  }
  return out;
}

function groupsOf(config: ChartConfig, series: Map<string, Series>): { title: string; unit: string; series: Series[] }[] {
  const entities = allEntities();
  const unitOf = (id: string) => String(entities[id]?.attributes?.unit_of_measurement ?? "");
  if (config.grouping === "single") {
    return [{ title: "All selected", unit: "", series: [...series.values()] }];
  }
  if (config.grouping === "entity") {
    return config.entity_ids.map((id) => ({ title: series.get(id)?.label ?? id, unit: unitOf(id), series: [series.get(id)!].filter(Boolean) }));
  }
  const byUnit = new Map<string, Series[]>();
  for (const id of config.entity_ids) {
    const s = series.get(id);
    if (!s) continue;
    const unit = unitOf(id);
    byUnit.set(unit, [...(byUnit.get(unit) ?? []), s]);
  }
  return [...byUnit.entries()].map(([unit, list]) => ({ title: unit ? `Values in ${unit}` : "Values without unit", unit, series: list }));
}

const DEFAULT: ChartConfig = { entity_ids: [], range: "24h", aggregation: "auto", grouping: "unit", refresh_seconds: 0 };

export default function History() {
  const [config, setConfig] = useState<ChartConfig>(DEFAULT);
  const [filter, setFilter] = useState("");
  const [data, setData] = useState<Map<string, Series> | null>(null);
  const [shown, setShown] = useState<{ start: number; end: number }>({ start: 0, end: 0 });
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState<SavedChart[] | null>(null);
  const [savedError, setSavedError] = useState<unknown>(null);
  const [name, setName] = useState("");
  const [current, setCurrent] = useState<SavedChart | null>(null);
  const [message, setMessage] = useState("");
  entitiesVersion.value; // re-render when names or units arrive

  const candidates = useMemo(() => {
    const entities = allEntities();
    const needle = filter.trim().toLowerCase();
    return entityIds.value
      .filter((id) => {
        const e = entities[id];
        const numeric = e && (e.attributes.unit_of_measurement || Number.isFinite(Number(e.state)));
        if (!numeric && !config.entity_ids.includes(id)) return false;
        return !needle || id.includes(needle) || friendlyName(e, id).toLowerCase().includes(needle);
      })
      .slice(0, 200);
  }, [entityIds.value, filter, config.entity_ids]);

  async function loadSaved() {
    try {
      setSaved(await ws<SavedChart[]>({ type: "frontend/charts/list" }));
    } catch (err) {
      setSavedError(err);
    }
  }
  useEffect(() => {
    if (status.value === "connected") loadSaved();
  }, [status.value]);

  async function show(next: ChartConfig = config) {
    if (!next.entity_ids.length) return;
    setLoading(true);
    setError(null);
    try {
      const { start, end } = span(next);
      setData(await fetchSeries(next));
      setShown({ start: start.getTime() / 1000, end: end.getTime() / 1000 });
    } catch (err) {
      setError(err);
      setData(null);
    } finally {
      setLoading(false);
    }
  }

  useEffect(() => {
    if (!config.refresh_seconds || !data) return;
    const timer = setInterval(() => show(config), config.refresh_seconds * 1000);
    return () => clearInterval(timer);
  }, [config, data !== null]);

  function update(change: Partial<ChartConfig>) {
    setConfig({ ...config, ...change });
  }

  async function save(event: Event) {
    event.preventDefault();
    setMessage("");
    try {
      const chart = await ws<SavedChart>({
        type: "frontend/charts/save",
        name: name.trim(),
        config,
        ...(current && current.name === name.trim() ? { chart_id: current.id } : {}),
      });
      setCurrent(chart);
      setMessage(`Saved “${chart.name}”.`);
      loadSaved();
    } catch (err) {
      setMessage(err instanceof Error ? err.message : String(err));
    }
  }

  function open(chart: SavedChart) {
    const next = { ...DEFAULT, ...chart.config };
    setConfig(next);
    setCurrent(chart);
    setName(chart.name);
    show(next);
  }

  async function remove(chart: SavedChart) {
    if (!confirm(`Delete the chart “${chart.name}”?`)) return;
    try {
      await ws({ type: "frontend/charts/delete", chart_id: chart.id });
      if (current?.id === chart.id) setCurrent(null);
      loadSaved();
    } catch (err) {
      setMessage(err instanceof Error ? err.message : String(err));
    }
  }

  const groups = data ? groupsOf(config, data) : [];
  return (
    <section>
      <h1>History</h1>
      <div class="history-layout">
        <div class="stack">
          <form
            class="card stack"
            aria-label="Chart settings"
            onSubmit={(event) => {
              event.preventDefault();
              show();
            }}
          >
            <label>
              Find entities
              <input type="search" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} placeholder="power, sensor.…" />
            </label>
            <fieldset class="entity-picker">
              <legend class="visually-hidden">Entities</legend>
              {candidates.map((id) => (
                <label key={id}>
                  <input
                    type="checkbox"
                    checked={config.entity_ids.includes(id)}
                    onChange={(e) =>
                      update({
                        entity_ids: e.currentTarget.checked ? [...config.entity_ids, id] : config.entity_ids.filter((x) => x !== id),
                      })
                    }
                  />
                  {friendlyName(allEntities()[id], id)}
                </label>
              ))}
              {candidates.length === 0 ? <p class="muted">No numeric entities match.</p> : null}
            </fieldset>
            <div class="row">
              <label>
                Range
                <select value={config.range} onChange={(e) => update({ range: e.currentTarget.value as Range })}>
                  {RANGES.map(([value, label]) => (
                    <option key={value} value={value}>
                      {label}
                    </option>
                  ))}
                </select>
              </label>
              <label>
                Aggregation
                <select value={config.aggregation} onChange={(e) => update({ aggregation: e.currentTarget.value as Aggregation })}>
                  {AGGREGATIONS.map(([value, label]) => (
                    <option key={value} value={value}>
                      {label}
                    </option>
                  ))}
                </select>
              </label>
            </div>
            {config.range === "custom" ? (
              <div class="row">
                <label>
                  From
                  <input type="datetime-local" value={config.start ?? ""} onInput={(e) => update({ start: e.currentTarget.value })} />
                </label>
                <label>
                  To
                  <input type="datetime-local" value={config.end ?? ""} onInput={(e) => update({ end: e.currentTarget.value })} />
                </label>
              </div>
            ) : null}
            <div class="row">
              <label>
                Grouping
                <select value={config.grouping} onChange={(e) => update({ grouping: e.currentTarget.value as Grouping })}>
                  <option value="unit">One chart per unit</option>
                  <option value="entity">One chart per entity</option>
                  <option value="single">All in one chart</option>
                </select>
              </label>
              <label>
                Refresh
                <select value={config.refresh_seconds} onChange={(e) => update({ refresh_seconds: Number(e.currentTarget.value) })}>
                  {REFRESH.map(([value, label]) => (
                    <option key={value} value={value}>
                      {label}
                    </option>
                  ))}
                </select>
              </label>
            </div>
            <button type="submit" class="primary" disabled={!config.entity_ids.length || loading}>
              {loading ? "Loading…" : "Show chart"}
            </button>
          </form>
          <div class="card stack">
            <h2>Saved charts</h2>
            {savedError ? (
              <ErrorText error={savedError} what="Saved charts" />
            ) : (
              <>
                <form class="row" onSubmit={save}>
                  <label>
                    Name
                    <input value={name} required maxLength={255} onInput={(e) => setName(e.currentTarget.value)} />
                  </label>
                  <button type="submit" disabled={!config.entity_ids.length || !name.trim()}>
                    Save chart
                  </button>
                </form>
                {message ? <p role="status">{message}</p> : null}
                {saved === null ? <Spinner label="Loading saved charts" /> : null}
                {saved?.length === 0 ? <p class="muted">No saved charts yet.</p> : null}
                <ul class="saved-list">
                  {saved?.map((chart) => (
                    <li key={chart.id}>
                      <button type="button" class="link-button" onClick={() => open(chart)}>
                        {chart.name}
                      </button>
                      <button type="button" class="danger" aria-label={`Delete ${chart.name}`} onClick={() => remove(chart)}>
                        Delete
                      </button>
                    </li>
                  ))}
                </ul>
              </>
            )}
          </div>
        </div>
        <div class="stack" aria-live="polite">
          {error instanceof NotAvailable ? (
            <NotAvailableNotice what="History" detail="Enable the recorder (recorder: in configuration.yaml) to keep and chart history." />
          ) : (
            <ErrorText error={error} />
          )}
          {!data && !error ? <p class="notice">Pick entities and a range, then “Show chart”.</p> : null}
          {groups.map((group) => (
            <Chart key={group.title} title={group.title} unit={group.unit} series={group.series} stepped={config.aggregation === "raw"} start={shown.start} end={shown.end} />
          ))}
          {data && groups.every((g) => g.series.every((s) => s.points.length === 0)) ? (
            <p class="notice">No recorded values in this range.</p>
          ) : null}
        </div>
      </div>
    </section>
  );
}
