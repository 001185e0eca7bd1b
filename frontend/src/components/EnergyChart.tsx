import { useEffect, useRef, useState } from "preact/hooks";
import { RETURN_OPACITY, Report, barLabel, barTitle, colorOf, comparisonMarkLabel, kwh, money } from "../lib/energy";

export type Measure = "kwh" | "cost";

const HEIGHT = 260;
const PHONE_HEIGHT = 210;
const LEFT = 56;
const RIGHT = 8;
const TOP = 10;
const BOTTOM = 26;

/** Round numbers for the axis: 1, 2 or 5 times a power of ten, about `count` of them, from below low to above high. */
function ticks(low: number, high: number, count: number): number[] {
  const span = high - low || 1;
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const first = Math.floor(low / step + 1e-9);
  const last = Math.ceil(high / step - 1e-9); // the tallest bar ends at or below a labelled line
  const out = [];
  for (let n = first; n <= last; n++) out.push(Number((n * step).toPrecision(12)));
  return out;
}

function axisValue(value: number, measure: Measure, currency: string, step: number): string {
  if (measure === "cost") return money(value, currency);
  const digits = step >= 1 ? 0 : step >= 0.1 ? 1 : 2;
  return value.toFixed(digits);
}

/** Bars of one report: consumption stacked by device above zero, return to the grid below it. */
export function EnergyChart(props: { report: Report; measure: Measure; title: string }) {
  const { report, measure } = props;
  const host = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(800);
  const [active, setActive] = useState<number | null>(null);

  useEffect(() => {
    const element = host.current!;
    const measureWidth = () => setWidth(Math.max(280, Math.floor(element.clientWidth)));
    measureWidth();
    const observer = new ResizeObserver(measureWidth);
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  useEffect(() => setActive(null), [report.start, report.view]);

  const used = measure === "kwh" ? "kwh" : "cost";
  const back = measure === "kwh" ? "return_kwh" : "credit";
  const count = report.bars.length;
  const ups = report.bars.map((_, i) => report.devices.reduce((sum, d) => sum + d[used][i], 0));
  const downs = report.bars.map((_, i) => report.devices.reduce((sum, d) => sum + d[back][i], 0));
  const compare = report.comparison.bars?.[used] ?? [];
  const compareLabel = comparisonMarkLabel(report);
  const top = Math.max(...ups, ...compare, 0);
  const bottom = -Math.max(...downs, 0);
  const height = width < 500 ? PHONE_HEIGHT : HEIGHT;
  const plotWidth = width - LEFT - RIGHT;
  const plotHeight = height - TOP - BOTTOM;
  const marks = ticks(bottom, top > bottom ? top : 1, height < HEIGHT ? 4 : 5);
  const low = Math.min(bottom, marks[0]);
  const high = Math.max(top, marks[marks.length - 1], low + 1e-9);
  const y = (value: number) => TOP + ((high - value) / (high - low)) * plotHeight;
  const slot = plotWidth / count;
  const gap = Math.min(6, slot * 0.18);
  const barWidth = Math.max(1, slot - gap);
  const labelEvery = Math.max(1, Math.ceil(44 / slot));
  const step = marks.length > 1 ? marks[1] - marks[0] : 1;
  const currency = report.currency;
  const format = (value: number) => (measure === "kwh" ? kwh(value) : money(value, currency));
  const nowTime = Date.parse(report.now);

  const detail = active === null ? null : (
    <p class="energy-detail" data-testid="energy-bar-detail">
      <strong>{barTitle(report, active)}:</strong> used {format(ups[active])}
      {downs[active] ? <> · returned {format(downs[active])}</> : null}
      {compare[active] ? <> · {compareLabel} {format(compare[active])}</> : null}
      {report.devices.filter((d) => d[used][active] || d[back][active]).length > 1
        ? report.devices
            .filter((d) => d[used][active] || d[back][active])
            .map((d) => (
              <span key={d.id} class="energy-detail-part">
                {" "}
                · {d.name} {format(d[used][active] - d[back][active])}
              </span>
            ))
        : null}
    </p>
  );

  return (
    <figure class="card energy-chart" data-testid="energy-chart">
      <figcaption class="visually-hidden">{props.title}</figcaption>
      <div ref={host} class="energy-chart-box">
        <svg
          width={width}
          height={height}
          viewBox={`0 0 ${width} ${height}`}
          role="img"
          aria-label={props.title}
          onMouseLeave={() => setActive(null)}
        >
          {marks.map((mark) => (
            <g key={mark} class="energy-grid">
              <line x1={LEFT} x2={width - RIGHT} y1={y(mark)} y2={y(mark)} class={mark === 0 ? "zero" : undefined} />
              <text x={LEFT - 6} y={y(mark)} dy="0.32em" text-anchor="end">
                {axisValue(mark, measure, currency, step)}
              </text>
            </g>
          ))}
          {report.bars.map((iso, i) => {
            const x = LEFT + i * slot + gap / 2;
            let stack = 0;
            let under = 0;
            const future = Date.parse(iso) > nowTime;
            return (
              <g key={iso} class={active === i ? "energy-bar active" : "energy-bar"} data-bar={i}>
                {report.devices.map((device, d) => {
                  const value = device[used][i];
                  if (value <= 0) return null;
                  const y1 = y(stack + value);
                  const y0 = y(stack);
                  stack += value;
                  return (
                    <rect key={device.id} x={x} y={y1} width={barWidth} height={Math.max(0.5, y0 - y1)} fill={colorOf(d)}>
                      <title>{`${barTitle(report, i)} · ${device.name}: ${format(value)}`}</title>
                    </rect>
                  );
                })}
                {report.devices.map((device, d) => {
                  const value = device[back][i];
                  if (value <= 0) return null;
                  const y0 = y(-under);
                  const y1 = y(-under - value);
                  under += value;
                  return (
                    <rect
                      key={`${device.id}-back`}
                      x={x}
                      y={y0}
                      width={barWidth}
                      height={Math.max(0.5, y1 - y0)}
                      fill={colorOf(d)}
                      fill-opacity={RETURN_OPACITY}
                      class="energy-return"
                    >
                      <title>{`${barTitle(report, i)} · ${device.name} returned ${format(value)}`}</title>
                    </rect>
                  );
                })}
                {compare[i] > 0 ? (
                  <line class="energy-compare" x1={x - 1} x2={x + barWidth + 1} y1={y(compare[i])} y2={y(compare[i])}>
                    <title>{`${barTitle(report, i)} · ${compareLabel}: ${format(compare[i])}`}</title>
                  </line>
                ) : null}
                {i % labelEvery === 0 ? (
                  <text x={x + barWidth / 2} y={height - 8} text-anchor="middle" class={future ? "energy-axis future" : "energy-axis"}>
                    {barLabel(report, iso)}
                  </text>
                ) : null}
                <rect
                  class="energy-hit"
                  x={LEFT + i * slot}
                  y={TOP}
                  width={slot}
                  height={plotHeight}
                  onMouseEnter={() => setActive(future ? null : i)}
                  onClick={() => setActive(future ? null : i)}
                />
              </g>
            );
          })}
        </svg>
      </div>
      {detail ?? <p class="energy-detail muted">Point at a bar (or tap it) for its numbers.</p>}
      {compare.some((v) => v > 0) ? (
        <p class="energy-detail muted energy-compare-key" data-testid="energy-compare-key">
          <svg width="18" height="10" aria-hidden="true">
            <line class="energy-compare" x1={1} x2={17} y1={5} y2={5} />
          </svg>{" "}
          {compareLabel.charAt(0).toUpperCase() + compareLabel.slice(1)}
        </p>
      ) : null}
    </figure>
  );
}
