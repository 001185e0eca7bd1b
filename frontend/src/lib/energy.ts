// The energy API's answers (energy/report, energy/budgets) and how the pages format them.

export type View = "day" | "week" | "month" | "year";
export const VIEWS: [View, string][] = [
  ["day", "Day"],
  ["week", "Week"],
  ["month", "Month"],
  ["year", "Year"],
];

export interface Totals {
  kwh: number;
  cost: number;
  return_kwh: number;
  credit: number;
  net_kwh: number;
  net_cost: number;
}

export interface DeviceSeries {
  id: string;
  device_id: string | null;
  name: string;
  entity_ids: string[];
  kwh: number[];
  cost: number[];
  return_kwh: number[];
  credit: number[];
  total: Totals;
}

export interface Band {
  name: string;
  kwh: number;
  cost: number;
  share: number;
}

export interface Report {
  view: View;
  bar: "hour" | "day" | "month";
  start: string;
  end: string;
  now: string;
  in_progress: boolean;
  previous: string;
  next: string | null;
  time_zone: string;
  currency: string;
  bars: string[];
  devices: DeviceSeries[];
  totals: Totals;
  bands: Band[];
  comparison: Totals & {
    label: string;
    start: string;
    end: string;
    complete: boolean;
    /** The previous period's consumption bar by bar (day 1 with day 1), up to the same point. */
    bars: { kwh: number[]; cost: number[] };
  };
  source: { hour_rows: number; raw_points: number; ms: number };
}

export interface Projection {
  kwh: number;
  cost: number;
  value: number;
  percent: number | null;
  method: "forecast" | "history" | "rate";
  explanation: string;
  forecast_hours: number;
  profile_days: number;
}

export interface BudgetStatus {
  budget: string;
  title: string;
  entity_id: string | null;
  period: "day" | "month";
  measure: "kwh" | "cost";
  unit: string;
  used: number;
  used_kwh: number;
  used_cost: number;
  limit: number;
  percent: number | null;
  period_start: string;
  period_end: string;
  projection: Projection | null;
}

export const COLORS = ["#0b62c4", "#d9480f", "#2b8a3e", "#862e9c", "#c2255c", "#087f5b", "#5f3dc4", "#e67700"];
/** How light a device's return to the grid is drawn, below the zero line. */
export const RETURN_OPACITY = 0.5;
const BAND_COLORS: Record<string, string> = { peak: "#c92a2a", "off-peak": "#1971c2", standard: "#868e96" };

export function colorOf(index: number): string {
  return COLORS[index % COLORS.length];
}

export function bandColor(name: string, index: number): string {
  return BAND_COLORS[name] ?? COLORS[(index + 4) % COLORS.length];
}

const kwhFormat = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const percentFormat = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 0 });

export function kwh(value: number): string {
  // Hundredths, as a bill prints them; a rounded zero is a zero (never -0.00).
  return `${kwhFormat.format(Math.abs(value) < 0.005 ? 0 : value)} kWh`;
}

const moneyFormats = new Map<string, Intl.NumberFormat>();
export function money(value: number, currency: string): string {
  let format = moneyFormats.get(currency);
  if (!format) {
    try {
      format = new Intl.NumberFormat(undefined, { style: "currency", currency });
    } catch {
      format = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    }
    moneyFormats.set(currency, format);
  }
  // -0.00 reads as a debt; a rounded zero is a zero.
  return format.format(Math.abs(value) < 0.005 ? 0 : value);
}

export function percent(share: number): string {
  return percentFormat.format(share);
}

/** The change from `before` to `now` as "+12 %" / "−5 %", or "" when there is nothing to compare. */
export function change(now: number, before: number): string {
  if (!before || !Number.isFinite(before)) return "";
  const ratio = (now - before) / Math.abs(before);
  const text = percentFormat.format(Math.abs(ratio));
  return ratio >= 0.005 ? `+${text}` : ratio <= -0.005 ? `−${text}` : "±0 %";
}

function parts(iso: string, zone: string, options: Intl.DateTimeFormatOptions): string {
  try {
    return new Intl.DateTimeFormat(undefined, { timeZone: zone, ...options }).format(new Date(iso));
  } catch {
    return new Intl.DateTimeFormat(undefined, options).format(new Date(iso));
  }
}

/** The period's name: "Tuesday, 14 May 2024", "Week of 13 May 2024", "May 2024", "2024". */
export function periodLabel(report: Report): string {
  const zone = report.time_zone;
  if (report.view === "day") return parts(report.start, zone, { weekday: "long", day: "numeric", month: "long", year: "numeric" });
  if (report.view === "week") {
    const last = new Date(new Date(report.end).getTime() - 3600_000).toISOString();
    return `${parts(report.start, zone, { day: "numeric", month: "short" })} – ${parts(last, zone, { day: "numeric", month: "short", year: "numeric" })}`;
  }
  if (report.view === "month") return parts(report.start, zone, { month: "long", year: "numeric" });
  return parts(report.start, zone, { year: "numeric" });
}

/** A bar's axis label: the hour, the weekday and date, the day of the month, the month. */
export function barLabel(report: Report, iso: string): string {
  const zone = report.time_zone;
  if (report.bar === "hour") return parts(iso, zone, { hour: "2-digit", hourCycle: "h23" });
  if (report.view === "week") return parts(iso, zone, { weekday: "short", day: "numeric" });
  if (report.bar === "day") return parts(iso, zone, { day: "numeric" });
  return parts(iso, zone, { month: "short" });
}

/** A bar's full name for the details line and the table: "14 May 2024, 14:00–15:00", "Tue, 14 May 2024", "May 2024". */
export function barTitle(report: Report, index: number): string {
  const zone = report.time_zone;
  const iso = report.bars[index];
  if (report.bar === "hour") {
    const end = report.bars[index + 1] ?? report.end;
    const time = (value: string) => parts(value, zone, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    return `${parts(iso, zone, { day: "numeric", month: "short" })}, ${time(iso)}–${time(end)}`;
  }
  if (report.bar === "day") return parts(iso, zone, { weekday: "short", day: "numeric", month: "short", year: "numeric" });
  return parts(iso, zone, { month: "long", year: "numeric" });
}

/** The comparison's words: "Yesterday at this time", "Last month, complete". */
export function comparisonLabel(report: Report): string {
  const label = report.comparison.label;
  const capital = label.charAt(0).toUpperCase() + label.slice(1);
  return report.comparison.complete ? capital : `${capital} at this point`;
}

/** What the chart's dashed marks show: "last month, same day". */
export function comparisonMarkLabel(report: Report): string {
  return `${report.comparison.label}, same ${report.bar}`;
}

function csvCell(value: string | number): string {
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The bars on the screen as CSV: one row per bar and device, then the totals. */
export function reportCsv(report: Report): string {
  const currency = report.currency;
  const rows: (string | number)[][] = [
    ["start", "end", "device", "consumption_kwh", `cost_${currency}`, "returned_kwh", `credit_${currency}`, "net_kwh", `net_cost_${currency}`],
  ];
  const fixed = (value: number, digits = 4) => Number(value.toFixed(digits));
  report.bars.forEach((start, index) => {
    const end = report.bars[index + 1] ?? report.end;
    for (const device of report.devices) {
      const used = device.kwh[index];
      const cost = device.cost[index];
      const back = device.return_kwh[index];
      const credit = device.credit[index];
      if (!used && !cost && !back && !credit) continue;
      rows.push([start, end, device.name, fixed(used), fixed(cost), fixed(back), fixed(credit), fixed(used - back), fixed(cost - credit)]);
    }
  });
  const t = report.totals;
  rows.push([report.start, report.end, "Total", fixed(t.kwh), fixed(t.cost), fixed(t.return_kwh), fixed(t.credit), fixed(t.net_kwh), fixed(t.net_cost)]);
  return rows.map((row) => row.map(csvCell).join(",")).join("\r\n") + "\r\n";
}

export function download(name: string, text: string, type = "text/csv"): void {
  const url = URL.createObjectURL(new Blob([text], { type: `${type};charset=utf-8` }));
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** A date as the API's `date` parameter (the local calendar date of an ISO time in the hub's zone). */
export function dateParam(iso: string, zone: string): string {
  try {
    return new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(iso));
  } catch {
    return iso.slice(0, 10);
  }
}
