import { useEffect, useRef, useState } from "preact/hooks";
import { effect } from "@preact/signals";
import { EnergyChart, Measure } from "./EnergyChart";
import { ErrorText, Spinner } from "./common";
import { entitySignal } from "../lib/entities";
import { HubError, NotAvailable, status, ws } from "../lib/hub";
import {
  Report,
  VIEWS,
  View,
  bandColor,
  barTitle,
  change,
  colorOf,
  comparisonLabel,
  dateParam,
  download,
  kwh,
  money,
  percent,
  periodLabel,
  reportCsv,
} from "../lib/energy";

/** Refresh a report that holds the present at most this often while its meters report. */
const LIVE_REFRESH_MS = 5000;
/** And at least this often, for meters that report rarely. */
const IDLE_REFRESH_MS = 60000;

export interface ReportPlace {
  view: View;
  date: string | null;
}

/** One view of energy (all devices, or one device's): navigation, totals, bars, bands, CSV. */
export function EnergyReport(props: {
  place: ReportPlace;
  onPlace: (place: ReportPlace) => void;
  deviceId?: string;
  heading?: string;
  onEmpty?: () => void;
  /** Called with every report fetched (the first and each live refresh). */
  onReport?: (report: Report) => void;
}) {
  const { view, date } = props.place;
  const [report, setReport] = useState<Report | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [measure, setMeasure] = useState<Measure>("kwh");
  const [tick, setTick] = useState(0);
  const lastFetch = useRef(0);
  const pending = useRef<number | null>(null);

  useEffect(() => {
    if (status.value !== "connected") return;
    let cancelled = false;
    lastFetch.current = Date.now();
    ws<Report>({ type: "energy/report", view, date, device_id: props.deviceId ?? null }).then(
      (found) => {
        if (cancelled) return;
        setReport(found);
        setError(null);
        props.onReport?.(found);
        if (!found.devices.length) props.onEmpty?.();
      },
      (err) => {
        if (cancelled) return;
        // Where energy is optional (a device's page), a hub without it shows nothing rather than an error.
        if (props.onEmpty && (err instanceof NotAvailable || (err instanceof HubError && err.code === "not_found"))) props.onEmpty();
        else setError(err);
      },
    );
    return () => {
      cancelled = true;
    };
  }, [view, date, props.deviceId, status.value, tick]);

  // Live: a period that holds the present is fetched again when one of its meters reports.
  const live = report?.in_progress ?? false;
  const meters = report?.devices.flatMap((d) => d.entity_ids) ?? [];
  const refresh = () => {
    if (pending.current !== null) return;
    const wait = Math.max(0, lastFetch.current + LIVE_REFRESH_MS - Date.now());
    pending.current = window.setTimeout(() => {
      pending.current = null;
      setTick((t) => t + 1);
    }, wait);
  };
  const meterKey = meters.join(",");
  useEffect(() => {
    if (!live) return;
    let first = true;
    return effect(() => {
      for (const id of meters) entitySignal(id).value;
      if (first) first = false;
      else refresh();
    });
  }, [live, meterKey]);
  useEffect(() => {
    if (!live) return;
    const timer = window.setInterval(() => refresh(), IDLE_REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [live]);
  useEffect(() => () => {
    if (pending.current !== null) window.clearTimeout(pending.current);
  }, []);

  const go = (place: Partial<ReportPlace>) => props.onPlace({ view, date, ...place });
  const currency = report?.currency ?? "EUR";
  const title = report ? `${measure === "kwh" ? "kWh" : "Cost"} per ${report.bar} · ${periodLabel(report)}` : "";
  const returns = !!report && (report.totals.return_kwh > 0 || report.devices.some((d) => d.total.return_kwh > 0));
  const totalUse = report?.totals.kwh ?? 0;

  return (
    <section class="stack energy-report" aria-label={props.heading ?? "Energy"}>
      <div class="energy-toolbar">
        <div class="segmented" role="group" aria-label="Period">
          {VIEWS.map(([value, label]) => (
            <button type="button" key={value} aria-pressed={view === value} onClick={() => go({ view: value })}>
              {label}
            </button>
          ))}
        </div>
        <div class="energy-nav">
          <button type="button" aria-label="Previous period" disabled={!report} onClick={() => report && go({ date: dateParam(report.previous, report.time_zone) })}>
            ‹
          </button>
          <strong class="energy-period" data-testid="energy-period">
            {report ? periodLabel(report) : "…"}
          </strong>
          <button type="button" aria-label="Next period" disabled={!report?.next} onClick={() => report?.next && go({ date: dateParam(report.next, report.time_zone) })}>
            ›
          </button>
          <button type="button" disabled={!report || report.in_progress} onClick={() => go({ date: null })}>
            Now
          </button>
        </div>
        <div class="energy-tools">
          <div class="segmented" role="group" aria-label="Show">
            <button type="button" aria-pressed={measure === "kwh"} onClick={() => setMeasure("kwh")}>
              kWh
            </button>
            <button type="button" aria-pressed={measure === "cost"} onClick={() => setMeasure("cost")}>
              Cost
            </button>
          </div>
          <button
            type="button"
            disabled={!report}
            onClick={() => report && download(`energy-${report.view}-${dateParam(report.start, report.time_zone)}${props.deviceId ? "-device" : ""}.csv`, reportCsv(report))}
          >
            Download CSV
          </button>
        </div>
      </div>
      <ErrorText error={error} what="Energy reports" />
      {!report && !error ? <Spinner label="Loading energy" /> : null}
      {report ? (
        <>
          <div class="energy-summary" data-testid="energy-summary">
            <div class="card energy-figure" data-testid="energy-used">
              <span class="label">Used</span>
              <span class="value">{kwh(report.totals.kwh)}</span>
              <span class="sub">{money(report.totals.cost, currency)}</span>
            </div>
            {returns ? (
              <>
                <div class="card energy-figure" data-testid="energy-returned">
                  <span class="label">Returned to grid</span>
                  <span class="value">{kwh(report.totals.return_kwh)}</span>
                  <span class="sub">earned {money(report.totals.credit, currency)}</span>
                </div>
                <div class="card energy-figure" data-testid="energy-net">
                  <span class="label">Net</span>
                  <span class="value">{kwh(report.totals.net_kwh)}</span>
                  <span class="sub">{money(report.totals.net_cost, currency)}</span>
                </div>
              </>
            ) : null}
            <div class="card energy-figure" data-testid="energy-comparison">
              <span class="label">{comparisonLabel(report)}</span>
              <span class="value">{kwh(report.comparison.net_kwh)}</span>
              <span class="sub">
                {money(report.comparison.net_cost, currency)}
                {change(report.totals.net_kwh, report.comparison.net_kwh) ? ` · now ${change(report.totals.net_kwh, report.comparison.net_kwh)}` : ""}
              </span>
            </div>
          </div>
          {report.devices.length ? (
            <EnergyChart report={report} measure={measure} title={title} />
          ) : (
            <p class="notice">No energy meter has readings for this period yet.</p>
          )}
          {report.devices.length ? (
            <div class="card table-wrap">
              <table data-testid="energy-devices" class="energy-devices">
                <caption class="visually-hidden">Energy per device, {periodLabel(report)}</caption>
                <thead>
                  <tr>
                    <th scope="col">Device</th>
                    <th scope="col" class="num">Used</th>
                    <th scope="col" class="num">Cost</th>
                    {returns ? (
                      <>
                        <th scope="col" class="num">Returned</th>
                        <th scope="col" class="num">Earned</th>
                      </>
                    ) : null}
                    <th scope="col" class="num">Share</th>
                  </tr>
                </thead>
                <tbody>
                  {report.devices.map((device, i) => (
                    <tr key={device.id}>
                      <th scope="row">
                        <span class="swatch" aria-hidden="true">
                          <svg width="12" height="12" viewBox="0 0 12 12">
                            <rect width="12" height="12" rx="2" fill={colorOf(i)} />
                          </svg>
                        </span>
                        {device.name}
                      </th>
                      <td class="num" data-label="Used">{kwh(device.total.kwh)}</td>
                      <td class="num" data-label="Cost">{money(device.total.cost, currency)}</td>
                      {returns ? (
                        <>
                          <td class="num" data-label="Returned">{kwh(device.total.return_kwh)}</td>
                          <td class="num" data-label="Earned">{money(device.total.credit, currency)}</td>
                        </>
                      ) : null}
                      <td class="num" data-label="Share">{totalUse > 0 ? percent(device.total.kwh / totalUse) : "–"}</td>
                    </tr>
                  ))}
                </tbody>
                <tfoot>
                  <tr>
                    <th scope="row">Total</th>
                    <td class="num" data-label="Used">{kwh(report.totals.kwh)}</td>
                    <td class="num" data-label="Cost">{money(report.totals.cost, currency)}</td>
                    {returns ? (
                      <>
                        <td class="num" data-label="Returned">{kwh(report.totals.return_kwh)}</td>
                        <td class="num" data-label="Earned">{money(report.totals.credit, currency)}</td>
                      </>
                    ) : null}
                    <td class="num" data-label="Share">{totalUse > 0 ? percent(1) : "–"}</td>
                  </tr>
                </tfoot>
              </table>
            </div>
          ) : null}
          {report.bands.length > 1 ? <Bands report={report} /> : null}
          {report.devices.length ? (
            <details class="card">
              <summary>The numbers behind the bars</summary>
              <div class="table-wrap">
                <table data-testid="energy-bars-table">
                  <thead>
                    <tr>
                      <th scope="col">{report.bar === "hour" ? "Hour" : report.bar === "day" ? "Day" : "Month"}</th>
                      <th scope="col" class="num">Used</th>
                      <th scope="col" class="num">Cost</th>
                      {returns ? <th scope="col" class="num">Returned</th> : null}
                    </tr>
                  </thead>
                  <tbody>
                    {report.bars.map((iso, i) => {
                      const used = report.devices.reduce((s, d) => s + d.kwh[i], 0);
                      const cost = report.devices.reduce((s, d) => s + d.cost[i], 0);
                      const back = report.devices.reduce((s, d) => s + d.return_kwh[i], 0);
                      return (
                        <tr key={iso}>
                          <th scope="row">{barTitle(report, i)}</th>
                          <td class="num">{kwh(used)}</td>
                          <td class="num">{money(cost, currency)}</td>
                          {returns ? <td class="num">{kwh(back)}</td> : null}
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </div>
            </details>
          ) : null}
          {returns ? (
            <p class="muted">
              Energy returned to the grid is drawn below the zero line, lighter, in its device's colour; net is use minus return, and
              net cost is cost minus what the return earned.
            </p>
          ) : null}
        </>
      ) : null}
    </section>
  );
}

function Bands(props: { report: Report }) {
  const { report } = props;
  const currency = report.currency;
  let offset = 0;
  return (
    <div class="card stack" data-testid="energy-bands">
      <h2>Time of use</h2>
      <svg class="band-bar" width="100%" height="14" viewBox="0 0 100 14" preserveAspectRatio="none" role="img" aria-label="Share of use per time-of-use band">
        {report.bands.map((band, i) => {
          const x = offset;
          offset += band.share * 100;
          return <rect key={band.name} x={x} y={0} width={band.share * 100} height={14} fill={bandColor(band.name, i)} />;
        })}
      </svg>
      <ul class="band-list">
        {report.bands.map((band, i) => (
          <li key={band.name}>
            <svg width="12" height="12" viewBox="0 0 12 12" aria-hidden="true">
              <rect width="12" height="12" rx="2" fill={bandColor(band.name, i)} />
            </svg>{" "}
            <strong>{band.name.charAt(0).toUpperCase() + band.name.slice(1)}</strong> {percent(band.share)} · {kwh(band.kwh)} · {money(band.cost, currency)}
          </li>
        ))}
      </ul>
    </div>
  );
}
